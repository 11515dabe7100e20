"""The engine's CRM interface for Dataverse, on top of the client (`dataverse.client`).

Everything Dataverse-only lives here: entity sets, `_x_value` and `@odata.bind`, polymorphic
navigation properties, option set metadata, the Web API's number formats.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from dataverse import errors as dv
from dataverse.client import (
    KNOWN_TABLES,
    MAX_BATCH_OPERATIONS,
    BatchRequest,
    DataverseClient,
    odata_literal,
)

from . import crm_filter
from .crm import (
    CrmChanges,
    CrmLookup,
    CrmRow,
    CrmTable,
    CrmUnavailable,
    CrmWrite,
    CrmWriteOutcome,
)

logger = logging.getLogger(__name__)

ENTITY_SETS = {logical: entity_set for entity_set, logical in KNOWN_TABLES.items()}
ENTITY_SETS.update({"invoice": "invoices", "invoicedetail": "invoicedetails"})

# Lookups that may point at more than one table have one navigation property per target.
POLYMORPHIC = {
    ("contact", "parentcustomerid"): {
        "account": "parentcustomerid_account",
        "contact": "parentcustomerid_contact",
    },
    ("salesorder", "customerid"): {
        "account": "customerid_account",
        "contact": "customerid_contact",
    },
    ("invoice", "customerid"): {"account": "customerid_account", "contact": "customerid_contact"},
}
# "<lookup>type" columns (owneridtype...) are not written through the Web API: the navigation
# property chosen for the lookup says the target's type.
TYPE_COLUMNS_SUFFIX = "type"

# salesorder states and statuses (Active / New, Submitted)
ORDER_ACTIVE, ORDER_NEW, ORDER_SUBMITTED = 0, 1, 1

# Ids per read-by-id request: keeps the URL far below the 32 KB Dataverse accepts.
READ_CHUNK = 50
UNAVAILABLE = (dv.AuthenticationFailed, dv.ConnectionFailed, dv.Throttled, dv.Forbidden)


def entity_set_of(logical: str) -> str:
    known = ENTITY_SETS.get(logical)
    if known:
        return known
    if logical.endswith("y"):
        return logical[:-1] + "ies"
    if logical.endswith("s"):
        return logical + "es"
    return logical + "s"


def _number(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float | int):
        return Decimal(str(value))
    return value


def _datetime(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _message(exc: dv.DataverseError) -> str:
    return f"{exc.message}" + (f" ({exc.code})" if exc.code else "")


class DataverseCrm:
    def __init__(
        self,
        client: DataverseClient,
        *,
        entity_sets: dict[str, str] | None = None,
        write_method: str = "auto",
    ) -> None:
        """`write_method`: how writes travel (the client's `write_many` methods): "auto" (bulk
        messages where the table has them, else $batch), or "single" (one request per record,
        what the benchmark compares with)."""
        self.client = client
        self.entity_sets = {**ENTITY_SETS, **(entity_sets or {})}
        self.write_method = write_method
        self._defaults: dict[str, uuid.UUID | None] = {}

    # -- reading ---------------------------------------------------------------------------

    def check(self) -> None:
        try:
            self.client.whoami()
        except dv.DataverseError as exc:
            raise CrmUnavailable(_message(exc)) from exc

    def _entity_set(self, logical: str) -> str:
        return self.entity_sets.get(logical) or entity_set_of(logical)

    def _select(self, table: CrmTable) -> list[str]:
        wanted: list[str] = [table.key, "modifiedon", "versionnumber"]
        for column in table.columns:
            if column.endswith(TYPE_COLUMNS_SUFFIX) and column[: -len(TYPE_COLUMNS_SUFFIX)] in (
                table.lookups
            ):
                continue
            wanted.append(f"_{column}_value" if column in table.lookups else column)
        wanted.extend(crm_filter.columns(table.filter))
        return list(dict.fromkeys(wanted))

    def _row(self, table: CrmTable, raw: dict[str, Any]) -> CrmRow:
        values: dict[str, Any] = {}
        for column in table.columns:
            if column in table.lookups:
                target = raw.get(f"_{column}_value")
                kind = raw.get(f"_{column}_value@Microsoft.Dynamics.CRM.lookuplogicalname")
                values[column] = (
                    CrmLookup(str(kind or table.lookups[column]), uuid.UUID(str(target)))
                    if target
                    else None
                )
            else:
                values[column] = _number(raw.get(column))
        version = raw.get("versionnumber")
        return CrmRow(
            id=uuid.UUID(str(raw[table.key])),
            values=values,
            modified_on=_datetime(raw.get("modifiedon")),
            version=int(version) if isinstance(version, int | str) and str(version) else None,
            in_scope=crm_filter.matches(table.filter, raw),
        )

    def changes(self, table: CrmTable, token: str | None) -> Iterator[CrmChanges]:
        try:
            for batch in self.client.changes(
                self._entity_set(table.entity), self._select(table), token
            ):
                yield CrmChanges(
                    rows=[self._row(table, raw) for raw in batch.upserts if raw.get(table.key)],
                    deleted=list(batch.deleted_ids),
                    token=batch.delta_link,
                    full_resync=batch.full_resync,
                )
        except dv.DataverseError as exc:
            # Unreachable, refused credentials, throttled, or a query the CRM rejects (a
            # mapped column it does not have): no row of this pass can be read.
            raise CrmUnavailable(_message(exc)) from exc

    def read(self, table: CrmTable, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CrmRow]:
        rows: dict[uuid.UUID, CrmRow] = {}
        unique = list(dict.fromkeys(ids))
        try:
            for start in range(0, len(unique), READ_CHUNK):
                chunk = unique[start : start + READ_CHUNK]
                expression = " or ".join(f"{table.key} eq {row_id}" for row_id in chunk)
                for raw in self.client.iter_rows(
                    self._entity_set(table.entity),
                    select=self._select(table),
                    filter=expression,
                    annotations="Microsoft.Dynamics.CRM.lookuplogicalname",
                ):
                    row = self._row(table, raw)
                    rows[row.id] = row
        except dv.DataverseError as exc:
            raise CrmUnavailable(_message(exc)) from exc
        return rows

    def find(self, table: CrmTable, column: str, values: Sequence[Any]) -> list[CrmRow]:
        found: list[CrmRow] = []
        unique = [v for v in dict.fromkeys(values) if v is not None]
        try:
            for start in range(0, len(unique), READ_CHUNK):
                chunk = unique[start : start + READ_CHUNK]
                expression = " or ".join(f"{column} eq {odata_literal(v)}" for v in chunk)
                if table.filter:
                    expression = f"({table.filter}) and ({expression})"
                for raw in self.client.iter_rows(
                    self._entity_set(table.entity),
                    select=list(dict.fromkeys([*self._select(table), column])),
                    filter=expression,
                ):
                    row = self._row(table, raw)
                    row.values.setdefault(column, raw.get(column))
                    found.append(row)
        except dv.DataverseError as exc:
            raise CrmUnavailable(_message(exc)) from exc
        return found

    def default_reference(self, entity: str) -> uuid.UUID | None:
        if entity != "transactioncurrency":
            return None
        if entity not in self._defaults:
            try:
                self._defaults[entity] = self.client.organization_base_currency().id
            except dv.NotFound:
                self._defaults[entity] = None
            except dv.DataverseError as exc:
                raise CrmUnavailable(_message(exc)) from exc
        return self._defaults[entity]

    # -- writing ---------------------------------------------------------------------------

    def _body(self, table: CrmTable, values: dict[str, Any] | Any) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for column, value in values.items():
            if column.endswith(TYPE_COLUMNS_SUFFIX) and column[: -len(TYPE_COLUMNS_SUFFIX)] in (
                table.lookups
            ):
                continue
            if column in table.lookups:
                target = value.entity if isinstance(value, CrmLookup) else table.lookups[column]
                nav = POLYMORPHIC.get((table.entity, column), {}).get(target, column)
                body[f"{nav}@odata.bind"] = (
                    f"/{self._entity_set(target)}({value.id})"
                    if isinstance(value, CrmLookup)
                    else None
                )
            elif isinstance(value, Decimal):
                body[column] = int(value) if value == value.to_integral_value() else float(value)
            else:
                body[column] = value
        return body

    def _outcomes(
        self, writes: Sequence[CrmWrite], results: Sequence[Any]
    ) -> list[CrmWriteOutcome]:
        outcomes = []
        for write, result in zip(writes, results, strict=True):
            error = result.error
            if error is None:
                outcomes.append(CrmWriteOutcome(id=write.id))
            elif isinstance(error, UNAVAILABLE):
                raise CrmUnavailable(_message(error)) from error
            else:
                outcomes.append(
                    CrmWriteOutcome(
                        id=write.id,
                        error=_message(error),
                        detail=str(getattr(error, "details", "") or ""),
                        missing=isinstance(error, dv.NotFound),
                    )
                )
        return outcomes

    def _write(
        self, table: CrmTable, writes: Sequence[CrmWrite], operation: str
    ) -> list[CrmWriteOutcome]:
        if not writes:
            return []
        entity_set = self._entity_set(table.entity)
        bodies = [self._body(table, w.values) for w in writes]
        if operation == "create":
            for body, write in zip(bodies, writes, strict=True):
                body[table.key] = str(write.id)
        try:
            results = self.client.write_many(
                entity_set,
                bodies,
                operation,
                keys=[str(w.id) for w in writes],
                method=self.write_method,
            )
        except UNAVAILABLE as exc:
            raise CrmUnavailable(_message(exc)) from exc
        return self._outcomes(writes, results)

    def _publish_products(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        """New products are drafts unless the organization says otherwise; the reference
        publishes the products it creates (PublishProductHierarchy), so salespeople can sell
        them. Returns the ids that could not be published, with why."""
        problems: dict[uuid.UUID, str] = {}
        for start in range(0, len(ids), MAX_BATCH_OPERATIONS):
            chunk = list(ids[start : start + MAX_BATCH_OPERATIONS])
            requests_ = [
                BatchRequest(
                    "POST", f"products({row_id})/Microsoft.Dynamics.CRM.PublishProductHierarchy", {}
                )
                for row_id in chunk
            ]
            try:
                responses = self.client.execute_batch(requests_, continue_on_error=True)
            except UNAVAILABLE as exc:
                raise CrmUnavailable(_message(exc)) from exc
            except dv.DataverseError as exc:
                problems.update({row_id: _message(exc) for row_id in chunk})
                continue
            for row_id, response in zip(chunk, responses, strict=False):
                if not response.ok:
                    problems[row_id] = _message(response.error())
        return problems

    def _after_create(
        self, table: CrmTable, outcomes: list[CrmWriteOutcome]
    ) -> list[CrmWriteOutcome]:
        if table.entity != "product":
            return outcomes
        created = [o.id for o in outcomes if not o.error]
        problems = self._publish_products(created) if created else {}
        return [
            CrmWriteOutcome(
                id=o.id, error=f"created as a draft, publishing it failed: {problems[o.id]}"
            )
            if o.id in problems
            else o
            for o in outcomes
        ]

    def create(self, table: CrmTable, writes: Sequence[CrmWrite]) -> list[CrmWriteOutcome]:
        outcomes = self._write(table, writes, "create")
        # A create whose row exists already (an earlier attempt was carried out but its answer
        # lost) is written again as an upsert of the same id: never a second row.
        again = [
            (position, write)
            for position, (write, outcome) in enumerate(zip(writes, outcomes, strict=True))
            if outcome.error
            and ("0x80040237" in outcome.error or "already exists" in outcome.error)
        ]
        if again:
            redone = self._write(table, [w for _, w in again], "upsert")
            for (position, _write), outcome in zip(again, redone, strict=True):
                outcomes[position] = outcome
        return self._after_create(table, outcomes)

    def upsert(self, table: CrmTable, writes: Sequence[CrmWrite]) -> list[CrmWriteOutcome]:
        return self._after_create(table, self._write(table, writes, "upsert"))

    def update(self, table: CrmTable, writes: Sequence[CrmWrite]) -> list[CrmWriteOutcome]:
        if table.entity != "salesorder" or not writes:
            return self._write(table, writes, "update")
        return self._update_orders(table, writes)

    def _order_states(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int]]:
        states: dict[uuid.UUID, tuple[int, int]] = {}
        try:
            for start in range(0, len(ids), READ_CHUNK):
                chunk = ids[start : start + READ_CHUNK]
                for raw in self.client.iter_rows(
                    "salesorders",
                    select=["salesorderid", "statecode", "statuscode"],
                    filter=" or ".join(f"salesorderid eq {row_id}" for row_id in chunk),
                ):
                    states[uuid.UUID(str(raw["salesorderid"]))] = (
                        int(raw.get("statecode") or 0),
                        int(raw.get("statuscode") or 0),
                    )
        except dv.DataverseError as exc:
            raise CrmUnavailable(_message(exc)) from exc
        return states

    def _set_order_state(self, order_id: uuid.UUID, state: int, status: int) -> None:
        try:
            self.client.update("salesorders", order_id, {"statecode": state, "statuscode": status})
        except UNAVAILABLE as exc:
            raise CrmUnavailable(_message(exc)) from exc

    def _update_orders(self, table: CrmTable, writes: Sequence[CrmWrite]) -> list[CrmWriteOutcome]:
        """Dataverse lets only active orders be edited, and the orders the ERP updates were
        submitted from the CRM: a submitted order is set active, written, and set back to
        submitted with its status, as the reference does to stamp LastBackofficeSubmit
        (docs/reference/business-central.md §7.1). A closed order (fulfilled, invoiced,
        canceled) stays read-only and its write fails with the CRM's message."""
        states = self._order_states([w.id for w in writes])
        submitted = {w.id for w in writes if states.get(w.id, (0, 0))[0] == ORDER_SUBMITTED}
        reopened: list[uuid.UUID] = []
        try:
            for order_id in submitted:
                try:
                    self._set_order_state(order_id, ORDER_ACTIVE, ORDER_NEW)
                except dv.DataverseError:
                    continue  # the write below fails with the CRM's own message
                reopened.append(order_id)
            return self._write(table, writes, "update")
        finally:
            for order_id in reopened:
                try:
                    self._set_order_state(order_id, ORDER_SUBMITTED, states[order_id][1])
                except dv.DataverseError as exc:
                    # The write went through; only the state could not be set back.
                    logger.warning("salesorder %s left active: %s", order_id, _message(exc))

    def delete(self, table: CrmTable, row_id: uuid.UUID) -> CrmWriteOutcome:
        try:
            self.client.delete(self._entity_set(table.entity), row_id)
        except dv.NotFound:
            return CrmWriteOutcome(id=row_id)
        except UNAVAILABLE as exc:
            raise CrmUnavailable(_message(exc)) from exc
        except dv.DataverseError as exc:
            return CrmWriteOutcome(id=row_id, error=_message(exc))
        return CrmWriteOutcome(id=row_id)

    # -- option sets -------------------------------------------------------------------------

    def options(self, entity: str, attribute: str) -> dict[int, str]:
        try:
            return self.client.option_set(entity, attribute)
        except UNAVAILABLE as exc:
            raise CrmUnavailable(_message(exc)) from exc

    def add_option(self, entity: str, attribute: str, label: str) -> int:
        try:
            return self.client.insert_option_value(entity, attribute, label)
        except UNAVAILABLE as exc:
            raise CrmUnavailable(_message(exc)) from exc

    def record_url(self, entity: str, row_id: uuid.UUID) -> str:
        return (
            f"{self.client.settings.base_url}/main.aspx?pagetype=entityrecord"
            f"&etn={entity}&id={row_id}"
        )
