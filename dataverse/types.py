"""Typed results of the Dataverse client."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .errors import DataverseError


@dataclass(frozen=True)
class WhoAmI:
    user_id: uuid.UUID
    business_unit_id: uuid.UUID
    organization_id: uuid.UUID


@dataclass(frozen=True)
class BaseCurrency:
    id: uuid.UUID
    iso_code: str
    name: str
    symbol: str
    precision: int | None


@dataclass(frozen=True)
class Page:
    """One page of a collection query."""

    rows: list[dict[str, Any]]
    next_link: str | None = None
    delta_link: str | None = None
    count: int | None = None
    total_record_count: int | None = None
    total_record_count_limit_exceeded: bool | None = None


@dataclass(frozen=True)
class ChangeBatch:
    """One page of changes. Only the last batch of a run carries `delta_link` (the new token).

    `mode` is "delta" (change tracking) or "watermark" (`modifiedon` polling: deletions are not
    visible). `full_resync` is True when the previous token was expired or unusable and this run
    reads the whole table again.
    """

    upserts: list[dict[str, Any]]
    deleted_ids: list[uuid.UUID]
    delta_link: str | None = None
    mode: str = "delta"
    full_resync: bool = False


@dataclass(frozen=True)
class UpsertResult:
    id: uuid.UUID | None
    created: bool | None  # None when the server did not say (no return=representation)
    entity_url: str | None = None


@dataclass
class WriteResult:
    """The outcome of one input record of `write_many`."""

    index: int
    id: uuid.UUID | None = None
    error: DataverseError | None = None
    key: Any = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class ImportJobResult:
    import_job_id: uuid.UUID
    success: bool
    progress: float | None = None
    solution_name: str = ""
    message: str = ""
    data: str = field(default="", repr=False)
