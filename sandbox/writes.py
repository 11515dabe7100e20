"""Writes of the sandbox Web API: create, update, upsert, delete."""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any

from sandbox import odata, seed
from sandbox.base import ApiBase
from sandbox.protocol import (
    CODE_BAD_PROPERTY,
    CODE_CONCURRENCY,
    CODE_DUPLICATE,
    CODE_DUPLICATE_KEY,
    CODE_REQUIRED,
    CODE_VALIDATION,
    ApiError,
    Request,
    Response,
    etag,
    json_response,
    utcnow_iso,
)
from sandbox.store import DuplicateId, UniqueViolation
from sandbox.tables import Table


class WriteMixin(ApiBase):
    """POST (create), PATCH (update / upsert), DELETE and the row write path every other
    writer (bulk messages, `$ref`, the seed, ImportSolution) goes through."""

    def check_if_match(self, req: Request, row: dict[str, Any]) -> None:
        if_match = req.headers.get("if-match")
        if if_match and if_match.strip() != "*" and if_match.strip() != etag(row):
            raise ApiError(
                412,
                CODE_CONCURRENCY,
                "The version of the existing record doesn't match the RowVersion property provided.",  # noqa: E501
            )

    def create(self, req: Request, table: Table) -> Response:
        body = req.json_body()
        if not isinstance(body, dict):
            raise ApiError(400, CODE_BAD_PROPERTY, "The request body must be a JSON object.")
        row = self.create_row(req, table, body)
        return self.write_response(req, table, row, created=True, key_url=None)

    def write_response(
        self,
        req: Request,
        table: Table,
        row: dict[str, Any],
        *,
        created: bool,
        key_url: str | None,
        upsert: bool = False,
    ) -> Response:
        if req.prefer.return_representation:
            select = odata.parse_select(req.query.get("$select"))
            expands = odata.parse_expand(req.query.get("$expand")) if req.method == "POST" else []
            for exp in expands:
                self.check_expand(table, exp)
            fresh = self.store.get(table.entity_set, row[table.pk]) or row
            body = {
                "@odata.context": f"{req.root}$metadata#{table.entity_set}"
                f"{self.context_select(select, expands)}/$entity",
                **self.render(req, table, fresh, select, expands, {}),
            }
            headers = [("Preference-Applied", "return=representation")]
            if upsert:
                headers.append(("ETag", etag(fresh)))
            return json_response(201 if created else 200, body, headers)
        url = key_url or self.entity_url(req, table, row[table.pk])
        headers = [("OData-Version", "4.0"), ("OData-EntityId", url)]
        if req.in_batch:
            headers.insert(1, ("Location", url))
        return Response(204, headers)

    def upsert(self, req: Request, table: Table, key: str, row: dict[str, Any] | None) -> Response:
        if_match = (req.headers.get("if-match") or "").strip()
        if_none_match = (req.headers.get("if-none-match") or "").strip()
        parsed = odata.parse_key(key)
        key_url = f"{req.root}{table.entity_set}({key})"
        # preconditions before the body, as in Microsoft's published 412 exchange
        if row is None and if_match:
            if isinstance(parsed, str):
                raise self.not_found(table, parsed)
            self.find_row(table, key)  # raises the alternate-key 404
        if row is not None:
            if if_none_match == "*":
                raise ApiError(
                    412, CODE_DUPLICATE, "A record with matching key values already exists."
                )
            self.check_if_match(req, row)
        body = req.json_body()
        if not isinstance(body, dict):
            raise ApiError(400, CODE_BAD_PROPERTY, "The request body must be a JSON object.")
        if row is None:
            seed_values: dict[str, Any] = (
                {table.pk: parsed} if isinstance(parsed, str) else dict(parsed)
            )
            created = self.create_row(req, table, {**seed_values, **body})
            return self.write_response(
                req, table, created, created=True, key_url=key_url, upsert=True
            )
        if not isinstance(parsed, str):
            body = {k: v for k, v in body.items() if k not in parsed}
        updated = self.update_row(req, table, row, body)
        return self.write_response(req, table, updated, created=False, key_url=key_url, upsert=True)

    def delete_row(self, table: Table, row: dict[str, Any]) -> None:
        self.store.delete(table.entity_set, row[table.pk], self.store.next_version())

    def apply_body(
        self,
        req: Request,
        table: Table,
        row: dict[str, Any],
        body: dict[str, Any],
        *,
        creating: bool,
    ) -> list[tuple[Any, list[Any]]]:
        """Copy a request body into `row`; returns deferred collection binds."""
        deferred: list[tuple[Any, list[Any]]] = []
        for name, value in body.items():
            if name.startswith("@"):
                continue
            if name.endswith("@odata.bind"):
                nav = name[: -len("@odata.bind")]
                if nav in table.nav_map:
                    lk, target = table.nav_map[nav]
                    self.check_writable(
                        table,
                        lk.name,
                        creating,
                        row,
                        lk.read_only,
                        lk.create_only,
                        value,
                        lookup=True,
                    )
                    if value is None:
                        self.set_lookup(row, lk.name, None, None)
                        continue
                    if not isinstance(value, str):
                        raise ApiError(400, CODE_BAD_PROPERTY, f"Invalid value for '{name}'.")
                    ref_table, ref_id = self.resolve_reference(req, value)
                    if ref_table.logical in lk.also:
                        target = ref_table.logical
                    if ref_table.logical != target:
                        raise ApiError(
                            400,
                            CODE_BAD_PROPERTY,
                            f"The navigation property '{nav}' expects a '{target}' reference, "
                            f"not '{ref_table.logical}'.",
                        )
                    self.set_lookup(row, lk.name, ref_id, target)
                    continue
                if nav in table.collection_map and isinstance(value, list):
                    deferred.append((table.collection_map[nav], value))
                    continue
                raise ApiError(
                    400,
                    CODE_BAD_PROPERTY,
                    f"An undeclared property '{nav}' which only has property annotations in the "
                    "payload but no property value was found in the payload.",
                )
            if name in table.nav_map:
                if value is not None:
                    raise ApiError(
                        400,
                        CODE_BAD_PROPERTY,
                        f"Use '{name}@odata.bind' to set the navigation property '{name}'.",
                    )
                lk, _ = table.nav_map[name]
                self.set_lookup(row, lk.name, None, None)
                continue
            if name == table.pk:
                if creating:
                    if not isinstance(value, str) or not odata.GUID_RE.match(value):
                        raise ApiError(400, CODE_VALIDATION, f"'{value}' is not a valid {name}.")
                    row[table.pk] = value.lower()
                elif str(value).lower() != row[table.pk]:
                    raise ApiError(400, CODE_VALIDATION, f"The {name} cannot be changed.")
                continue
            col = table.column_map.get(name)
            if col is None:
                raise ApiError(
                    400,
                    CODE_BAD_PROPERTY,
                    f"Invalid property '{name}' was found in entity "
                    f"'Microsoft.Dynamics.CRM.{table.logical}'.",
                )
            if name in table.computed:
                continue  # Dataverse recomputes these; a client value is ignored
            if name in ("statecode",) and creating:
                if value is not None and table.states and value != min(table.states):
                    raise ApiError(
                        400,
                        CODE_VALIDATION,
                        f"A validation error occurred.  The 'statecode' attribute is not valid "
                        f"for create on the '{table.logical}' entity: create the record, then "
                        "change its state.",
                    )
                continue
            if table.logical == "systemuser" and name == "isdisabled" and creating:
                raise ApiError(
                    400,
                    CODE_VALIDATION,
                    "A validation error occurred.  The 'isdisabled' attribute is not valid for create.",  # noqa: E501
                )
            converted = self.convert(table, name, value)
            self.check_writable(
                table, name, creating, row, col.read_only, col.create_only, converted
            )
            row[name] = converted
        return deferred

    def unique_error(self, table: Table, key_name: str) -> ApiError:
        if key_name.startswith("uq:"):
            _, code, message = table.unique[key_name[3:]]
            return ApiError(400, code, message)
        cols = key_name[3:]
        return ApiError(
            412,
            CODE_DUPLICATE_KEY,
            f"Entity Key {table.logical}_{cols.replace(',', '_')} violated. A record with the "
            f"same value for {cols} already exists. A duplicate record cannot be created. Change "
            "the value and try again.",
        )

    def create_row(self, req: Request, table: Table, body: dict[str, Any]) -> dict[str, Any]:
        now = utcnow_iso()
        row: dict[str, Any] = {table.pk: None}
        deferred = self.apply_body(req, table, row, body, creating=True)
        self.order_edit_rule(req, table, row, body)
        if row[table.pk] is None:
            row[table.pk] = sequential_guid()
        cache: dict[tuple[str, str], Any] = {}
        for col in table.columns:
            if col.required and row.get(col.name) is None:
                raise self.required_missing(table, col.name)
        for lk in table.lookups:
            if lk.required and row.get(f"_{lk.name}_value") is None:
                raise self.required_missing(table, lk.name)
        if table.states:
            default_state = min(table.states)
            if table.logical == "product":
                org = self.store.get("organizations", seed.ORGANIZATION_ID) or {}
                default_state = 0 if org.get("createproductswithoutparentinactivestate") else 2
            state = row.get("statecode", default_state)
            row["statecode"] = state
            if row.get("statuscode") is None:
                row["statuscode"] = table.states[state][1]
            elif (
                row["statuscode"] not in table.statuses
                or table.statuses[row["statuscode"]][1] != state
            ):
                raise ApiError(
                    400,
                    CODE_VALIDATION,
                    f"{row['statuscode']} is not a valid status code for state code "
                    f"{table.logical}State.{table.states[state][0]} on {table.logical}.",
                )
        if table.user_owned and row.get("_ownerid_value") is None:
            self.set_lookup(row, "ownerid", req.user_id, "systemuser")
        if "transactioncurrencyid" in table.lookup_map:
            if table.logical == "productpricelevel":
                pricelevel = self.related_row(
                    "pricelevel", row.get("_pricelevelid_value") or "", cache
                )
                currency = (pricelevel or {}).get("_transactioncurrencyid_value")
                self.set_lookup(row, "transactioncurrencyid", currency, "transactioncurrency")
            elif row.get("_transactioncurrencyid_value") is None:
                self.set_lookup(row, "transactioncurrencyid", seed.USD_ID, "transactioncurrency")
            currency_id = row.get("_transactioncurrencyid_value") or ""
            if currency_id == seed.USD_ID:
                row["exchangerate"] = 1.0  # the base currency's rate is 1 by definition
            else:
                currency_row = self.related_row("transactioncurrency", currency_id, cache)
                row["exchangerate"] = (currency_row or {}).get("exchangerate", 1.0)
        self.set_lookup(row, "createdby", req.user_id, "systemuser")
        self.set_lookup(row, "modifiedby", req.user_id, "systemuser")
        row["createdon"] = now
        row["modifiedon"] = now
        row["versionnumber"] = self.store.next_version()
        self.finish_row(table, row, cache)
        self.business_rules(table, row, None)
        try:
            self.store.insert(table.entity_set, row[table.pk], row, self.unique_keys(table, row))
        except DuplicateId:
            raise ApiError(
                412,
                CODE_DUPLICATE,
                f"Cannot insert duplicate key. A {table.logical} with id {row[table.pk]} already "
                "exists.",
            ) from None
        except UniqueViolation as exc:
            raise self.unique_error(table, exc.key_name) from None
        for nav, refs in deferred:
            for ref in refs:
                self.associate(req, table, row, nav, ref)
        return row

    def required_missing(self, table: Table, name: str) -> ApiError:
        return ApiError(
            400,
            CODE_REQUIRED,
            f"Required field missing: the '{name}' attribute of the '{table.logical}' entity "
            "must have a value.",
        )

    def update_row(
        self,
        req: Request,
        table: Table,
        row: dict[str, Any],
        body: dict[str, Any],
        *,
        by_message: bool = False,
    ) -> dict[str, Any]:
        """`by_message`: a Sales message (FulfillSalesOrder, ...) writes, which may change an
        order that a client's update may not."""
        if not by_message:
            self.order_edit_rule(req, table, row, body)
        new = dict(row)
        deferred = self.apply_body(req, table, new, body, creating=False)
        for lk in table.lookups:
            if lk.create_only and new.get(f"_{lk.name}_value") != row.get(f"_{lk.name}_value"):
                raise ApiError(
                    400,
                    CODE_VALIDATION,
                    f"A validation error occurred.  The '{lk.name}' attribute of the "
                    f"'{table.logical}' entity is not valid for update.",
                )
        for col in table.columns:
            if col.required and col.name in body and new.get(col.name) is None:
                raise self.required_missing(table, col.name)
        self.check_state(table, new, body)
        cache: dict[tuple[str, str], Any] = {}
        self.set_lookup(new, "modifiedby", req.user_id, "systemuser")
        new["modifiedon"] = utcnow_iso()
        new["versionnumber"] = self.store.next_version()
        self.finish_row(table, new, cache)
        self.business_rules(table, new, row)
        try:
            self.store.replace(table.entity_set, row[table.pk], new, self.unique_keys(table, new))
        except UniqueViolation as exc:
            raise self.unique_error(table, exc.key_name) from None
        for nav, refs in deferred:
            for ref in refs:
                self.associate(req, table, new, nav, ref)
        return new

    def update_row_lookup(
        self,
        req: Request,
        table: Table,
        row: dict[str, Any],
        lookup: str,
        ref_id: str | None,
        target: str | None,
    ) -> None:
        new = dict(row)
        self.set_lookup(new, lookup, ref_id, target)
        self.set_lookup(new, "modifiedby", req.user_id, "systemuser")
        new["modifiedon"] = utcnow_iso()
        new["versionnumber"] = self.store.next_version()
        self.store.replace(table.entity_set, row[table.pk], new, self.unique_keys(table, new))


_guid_lock = threading.Lock()
_guid_state = {"ms": 0, "seq": 0}


def sequential_guid() -> str:
    """Ids that grow with creation time, like Dataverse's sequential GUIDs, so that the
    default order (by primary key) is the order of creation."""
    with _guid_lock:
        ms = int(time.time() * 1000)
        if ms <= _guid_state["ms"]:
            _guid_state["seq"] += 1
            ms = _guid_state["ms"]
        else:
            _guid_state["ms"], _guid_state["seq"] = ms, 0
        seq = _guid_state["seq"] & 0xFFFF
    value = (ms << 80) | (seq << 64) | random.getrandbits(64)
    return str(uuid.UUID(int=value & ((1 << 128) - 1)))
