"""The engine's own view of a CRM: a small interface, implemented for Dataverse in
`dataverse_crm.py`, so that another CRM is one more adapter.

Values cross this boundary in a neutral form: strings, numbers (Decimal), booleans, None,
`CrmLookup` for a reference to another row and plain ints for option set values. Entity sets,
`@odata.bind`, `_x_value` and option set metadata stay inside the adapter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class CrmUnavailable(Exception):
    """The CRM cannot be reached, refuses our credentials, throttles us or rejects the
    mapping's query: the pass stops (the next record would meet the same wall) and the next
    run starts again from where this one began."""


@dataclass(frozen=True)
class CrmLookup:
    """A reference to a row of another CRM table."""

    entity: str
    id: uuid.UUID


@dataclass(frozen=True)
class CrmTable:
    """What the engine reads and writes of one CRM table."""

    entity: str
    key: str  # primary key column (or, for an option mapping, the option set column)
    columns: tuple[str, ...]  # mapped columns (lookups by their logical name)
    lookups: Mapping[str, str] = field(default_factory=dict)  # column -> target CRM table
    filter: str = ""  # OData $filter of the rows in scope


@dataclass
class CrmRow:
    id: uuid.UUID
    values: dict[str, Any]
    modified_on: datetime | None = None
    version: int | None = None
    in_scope: bool = True  # False: the row no longer matches the mapping's CRM filter


@dataclass
class CrmChanges:
    """One page of changes. Only the last page of a pass carries `token`."""

    rows: list[CrmRow]
    deleted: list[uuid.UUID]
    token: str | None = None
    full_resync: bool = False


@dataclass(frozen=True)
class CrmWrite:
    id: uuid.UUID
    values: Mapping[str, Any]


@dataclass(frozen=True)
class CrmWriteOutcome:
    id: uuid.UUID
    error: str = ""  # empty: written
    detail: str = ""
    missing: bool = False  # the row does not exist (a deletion on the CRM side)


class CrmAdapter(Protocol):
    def check(self) -> None:
        """Raise CrmUnavailable unless the CRM answers (one cheap call before a run)."""
        ...

    def changes(self, table: CrmTable, token: str | None) -> Iterator[CrmChanges]:
        """Rows changed and ids deleted since `token`; None: every row in scope."""
        ...

    def read(self, table: CrmTable, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CrmRow]:
        """The rows with these ids that exist (whatever the filter)."""
        ...

    def create(self, table: CrmTable, writes: Sequence[CrmWrite]) -> list[CrmWriteOutcome]:
        """Create rows with the ids chosen by the caller; an id that already exists (a retry
        after an answer that was lost) is updated instead, never duplicated."""
        ...

    def upsert(self, table: CrmTable, writes: Sequence[CrmWrite]) -> list[CrmWriteOutcome]:
        """Create or update the rows with these ids (a retry of a create whose outcome is
        unknown, a restore of a deleted row)."""
        ...

    def update(self, table: CrmTable, writes: Sequence[CrmWrite]) -> list[CrmWriteOutcome]: ...

    def delete(self, table: CrmTable, row_id: uuid.UUID) -> CrmWriteOutcome: ...

    def find(self, table: CrmTable, column: str, values: Sequence[Any]) -> list[CrmRow]:
        """Rows in scope whose `column` equals one of `values` (for matching before a create)."""
        ...

    def default_reference(self, entity: str) -> uuid.UUID | None:
        """The row an empty ERP reference stands for (the organization's base currency for
        an ERP record in the local currency), or None."""
        ...

    def options(self, entity: str, attribute: str) -> dict[int, str]:
        """The option set of a choice column: value -> label."""
        ...

    def add_option(self, entity: str, attribute: str, label: str) -> int: ...

    def record_url(self, entity: str, row_id: uuid.UUID) -> str: ...
