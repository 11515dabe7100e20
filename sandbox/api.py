"""The Dataverse Web API v9.x subset served by the sandbox: routing of resource paths, reads
(queries, paging, change tracking, expand, annotations) and writes (create, update/upsert,
delete, $ref, bulk messages). `Api.handle` turns one HTTP request into one response; `$batch`
(sandbox/batch.py) calls it for every part."""

from __future__ import annotations

import base64
import bisect
import functools
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, unquote_plus, urlsplit

from sandbox import odata, seed
from sandbox.odata import ODataError
from sandbox.store import DuplicateId, Store, UniqueViolation
from sandbox.tables import (
    BIGINT,
    BOOL,
    CHOICE,
    DATE,
    DATETIME,
    DECIMAL,
    GUID,
    INT,
    MEMO,
    MONEY,
    STRING,
    ManyToMany,
    OneToMany,
    Table,
)

JSON_TYPE = "application/json; odata.metadata=minimal"
MAX_PAGE = 5000
FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL = "Microsoft.Dynamics.CRM.lookuplogicalname"
ASSOCIATED_NAV = "Microsoft.Dynamics.CRM.associatednavigationproperty"
VERSION_RE = re.compile(r"^v9\.[0-2]$")

# Error codes the sandbox uses beyond those published (documented in docs/contracts.md).
CODE_NOT_FOUND_SEGMENT = "0x80060888"
CODE_OBJECT_NOT_FOUND = "0x80040217"
CODE_KEY_NOT_FOUND = "0x80060891"
CODE_DUPLICATE = "0x80040237"
CODE_DUPLICATE_KEY = "0x80060892"
CODE_VALIDATION = "0x80044331"
CODE_REQUIRED = "0x80040200"
CODE_BAD_PROPERTY = "0x80048d19"
CODE_CONCURRENCY = "0x80060882"
CODE_PRIVILEGE = "0x80040220"
CODE_NOT_SUPPORTED = "0x80040315"
CODE_INVALID_ARGUMENT = "0x80040203"
CODE_EXPIRED_VERSION = "0x80044352"
CODE_METHOD = "0x80060888"


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


@dataclass
class Request:
    method: str
    path: str  # resource path after /api/data/v9.x/ (percent-decoded)
    raw_query: str
    headers: dict[str, str]  # lower-case names; repeated Prefer headers joined by ","
    body: bytes
    base: str  # environment URL, e.g. http://127.0.0.1:8765
    version: str  # v9.0 / v9.1 / v9.2
    user_id: str = ""
    content_ids: dict[str, str] = field(default_factory=dict)  # "$1" -> absolute entity URL
    in_batch: bool = False

    @property
    def root(self) -> str:
        return f"{self.base}/api/data/{self.version}/"

    @functools.cached_property
    def query(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for part in self.raw_query.split("&"):
            if not part:
                continue
            name, _, value = part.partition("=")
            result[unquote_plus(name).strip()] = unquote_plus(value)
        return result

    @functools.cached_property
    def prefer(self) -> odata.Prefer:
        value = self.headers.get("prefer", "")
        return odata.parse_prefer([value] if value else [])

    def json_body(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(
                400, CODE_BAD_PROPERTY, f"The request body is not valid JSON: {exc}"
            ) from exc


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def json_response(
    status: int, payload: Any, headers: list[tuple[str, str]] | None = None
) -> Response:
    return Response(
        status,
        [("Content-Type", JSON_TYPE), ("OData-Version", "4.0"), *(headers or [])],
        json.dumps(payload, ensure_ascii=False).encode(),
    )


def error_response(exc: ApiError) -> Response:
    return json_response(
        exc.status, {"error": {"code": exc.code, "message": exc.message}}, exc.headers
    )


def utcnow_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def etag(row: dict[str, Any]) -> str:
    return f'W/"{row["versionnumber"]}"'


def _key_value(value: Any) -> str:
    return json.dumps(value.lower() if isinstance(value, str) else value)


# ---------------------------------------------------------------------------- the API


class Api:
    def __init__(
        self, store: Store, registry: Callable[[], dict[str, Table]], settings: Any
    ) -> None:
        self.store = store
        self._registry = registry
        self.settings = settings  # sandbox.control.Settings

    # ------------------------------------------------------------------ registry helpers

    @property
    def tables(self) -> dict[str, Table]:
        return self._registry()

    def table_by_set(self, name: str) -> Table | None:
        for table in self.tables.values():
            if table.entity_set == name:
                return table
        return None

    def table(self, logical: str) -> Table:
        return self.tables[logical]

    # ------------------------------------------------------------------ entry point

    def handle(self, req: Request) -> Response:
        try:
            if req.method in ("GET", "HEAD") or req.path.strip("/") == "$batch":
                # $batch runs its own transactions: one per request or change set
                return self.dispatch(req)
            with self.store.transaction():
                return self.dispatch(req)
        except ApiError as exc:
            return self.error_with_details(req, exc)
        except ODataError as exc:
            return self.error_with_details(req, ApiError(400, exc.code, exc.message))

    def error_with_details(self, req: Request, exc: ApiError) -> Response:
        response = error_response(exc)
        prefer = req.prefer
        if prefer.annotations and prefer.wants("Microsoft.PowerApps.CDS.HelpLink"):
            payload = json.loads(response.body)
            hex_code = exc.code[2:] if exc.code.startswith("0x") else exc.code
            payload["error"].update(
                {
                    "@Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus": "0",
                    "@Microsoft.PowerApps.CDS.ErrorDetails.SubErrorCode": "0",
                    "@Microsoft.PowerApps.CDS.HelpLink": "http://go.microsoft.com/fwlink/?LinkID=398563"
                    f"&error=Microsoft.Crm.CrmException%3a{hex_code}&client=platform",
                    "@Microsoft.PowerApps.CDS.TraceText": "",
                    "@Microsoft.PowerApps.CDS.InnerError.Message": exc.message,
                }
            )
            response.body = json.dumps(payload, ensure_ascii=False).encode()
        return response

    def dispatch(self, req: Request) -> Response:
        from sandbox import batch, solution

        path = req.path
        if path in ("", "/"):
            return self.service_document(req)
        segments = odata.split_segments(path)
        first = segments[0]
        if first.startswith("$") and first[1:].isdigit() and first in req.content_ids:
            # a Content-ID reference used as the start of a URL inside a change set
            resolved = req.content_ids[first]
            rel = resolved[len(req.root) :] if resolved.startswith(req.root) else resolved
            segments = odata.split_segments(rel) + segments[1:]
            first = segments[0]
        elif re.match(r"^\$\d+$", first):
            raise ApiError(
                400,
                CODE_INVALID_ARGUMENT,
                f"Content-ID Reference: '{first}' does not exist in the batch context.",
            )
        if first == "$metadata":
            return self.metadata(req)
        if first == "$batch" and len(segments) == 1:
            if req.method != "POST":
                raise ApiError(405, CODE_METHOD, "The $batch endpoint accepts POST only.")
            return batch.execute(self, req)
        if first in ("WhoAmI", "WhoAmI()") and len(segments) == 1:
            return self.whoami(req)
        if (
            first in ("ImportSolution", "Microsoft.Dynamics.CRM.ImportSolution")
            and len(segments) == 1
        ):
            if req.method != "POST":
                raise ApiError(405, CODE_METHOD, "ImportSolution is an action: use POST.")
            return solution.import_solution(self, req)
        name, key = odata.split_name_and_key(first)
        table = self.table_by_set(name)
        if table is None:
            raise ApiError(
                404, CODE_NOT_FOUND_SEGMENT, f"Resource not found for the segment '{name}'."
            )
        rest = segments[1:]
        if key is None:
            return self.collection_resource(req, table, rest)
        row = self.find_row(table, key, must_exist=False)
        return self.entity_resource(req, table, key, row, rest)

    # ------------------------------------------------------------------ service doc, metadata

    def service_document(self, req: Request) -> Response:
        sets = sorted(t.entity_set for t in self.tables.values())
        return json_response(
            200,
            {
                "@odata.context": f"{req.root}$metadata",
                "value": [{"name": s, "kind": "EntitySet", "url": s} for s in sets],
            },
        )

    def metadata(self, req: Request) -> Response:
        edm = {
            STRING: "Edm.String", MEMO: "Edm.String", INT: "Edm.Int32", BIGINT: "Edm.Int64",
            DECIMAL: "Edm.Decimal", MONEY: "Edm.Decimal", BOOL: "Edm.Boolean",
            DATETIME: "Edm.DateTimeOffset", DATE: "Edm.Date", GUID: "Edm.Guid", CHOICE: "Edm.Int32",
        }  # fmt: skip
        types: list[str] = []
        sets: list[str] = []
        for table in sorted(self.tables.values(), key=lambda t: t.logical):
            props = [f'<Property Name="{table.pk}" Type="Edm.Guid" Nullable="false" />']
            props += [
                f'<Property Name="{c.name}" Type="{edm[c.type]}" />'
                for c in table.columns
                if c.name != table.pk
            ]
            props += [
                f'<Property Name="_{lk.name}_value" Type="Edm.Guid" />' for lk in table.lookups
            ]
            navs = [
                f'<NavigationProperty Name="{nav}" Type="mscrm.{target}" />'
                for nav, (_, target) in table.nav_map.items()
            ]
            navs += [
                f'<NavigationProperty Name="{n.name}" Type="Collection(mscrm.{n.table})" />'
                for n in [*table.one_to_many, *table.many_to_many]
            ]
            types.append(
                f'<EntityType Name="{table.logical}"><Key><PropertyRef Name="{table.pk}" /></Key>'
                + "".join(props + navs)
                + "</EntityType>"
            )
            tracking = (
                '<Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record>'
                '<PropertyValue Property="Supported" Bool="true" /></Record></Annotation>'
                if table.change_tracking
                else ""
            )
            sets.append(
                f'<EntitySet Name="{table.entity_set}" EntityType="mscrm.{table.logical}">'
                f"{tracking}</EntitySet>"
            )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
            '<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" '
            'xmlns="http://docs.oasis-open.org/odata/ns/edm">'
            + "".join(types)
            + '<ComplexType Name="WhoAmIResponse"><Property Name="BusinessUnitId" Type="Edm.Guid" '
            'Nullable="false" /><Property Name="UserId" Type="Edm.Guid" Nullable="false" />'
            '<Property Name="OrganizationId" Type="Edm.Guid" Nullable="false" /></ComplexType>'
            '<Function Name="WhoAmI"><ReturnType Type="mscrm.WhoAmIResponse" Nullable="false" />'
            "</Function>"
            '<EntityContainer Name="System">' + "".join(sets) + "</EntityContainer>"
            "</Schema></edmx:DataServices></edmx:Edmx>"
        )
        return Response(
            200,
            [("Content-Type", "application/xml"), ("OData-Version", "4.0")],
            xml.encode(),
        )

    def whoami(self, req: Request) -> Response:
        user = self.store.get("systemusers", req.user_id) or {}
        return json_response(
            200,
            {
                "@odata.context": f"{req.root}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": user.get("_businessunitid_value") or seed.ROOT_BUSINESS_UNIT_ID,
                "UserId": req.user_id,
                "OrganizationId": seed.ORGANIZATION_ID,
            },
        )

    # ------------------------------------------------------------------ row lookup

    def find_row(self, table: Table, key: str, *, must_exist: bool = True) -> dict[str, Any] | None:
        parsed = odata.parse_key(key)
        if isinstance(parsed, str):
            row = self.store.get(table.entity_set, parsed)
            if row is None and must_exist:
                raise self.not_found(table, parsed)
            return row
        if len(parsed) == 1 and table.pk in parsed:
            return self.find_row(table, str(parsed[table.pk]), must_exist=must_exist)
        cols = tuple(parsed)
        row = None
        for ak in table.alternate_keys:
            if set(ak) == set(cols):
                found = self.store.find_key(
                    table.entity_set,
                    "ak:" + ",".join(ak),
                    json.dumps([json.loads(_key_value(parsed[c])) for c in ak]),
                )
                row = self.store.get(table.entity_set, found) if found else None
                break
        else:
            # not a declared key: the sandbox scans (lenient; Dataverse needs a defined key)
            for candidate in self.store.scan(table.entity_set):
                if all(
                    odata._compare("eq", self.column_value(candidate, c), v)
                    for c, v in parsed.items()
                ):
                    row = candidate
                    break
        if row is None and must_exist:
            raise ApiError(
                404,
                CODE_KEY_NOT_FOUND,
                f"A record with the specified key values does not exist in {table.logical} entity",
            )
        return row

    def not_found(self, table: Table, row_id: str) -> ApiError:
        return ApiError(
            404, CODE_OBJECT_NOT_FOUND, f"{table.logical} With Id = {row_id} Does Not Exist"
        )

    def column_value(self, row: dict[str, Any], name: str) -> Any:
        return row.get(name)

    def resolve_reference(self, req: Request, value: str) -> tuple[Table, str]:
        """`/contacts(id)`, `contacts(id)`, an absolute URL, or `$n` -> (table, row id)."""
        text = value.strip()
        if text in req.content_ids:
            text = req.content_ids[text]
        elif re.match(r"^\$\d+$", text):
            raise ApiError(
                400,
                CODE_INVALID_ARGUMENT,
                f"Content-ID Reference: '{text}' does not exist in the batch context.",
            )
        if "://" in text:
            path = urlsplit(text).path
            m = re.search(r"/api/data/v9\.[0-2]/(.*)$", path)
            text = unquote(m.group(1)) if m else path.rsplit("/", 1)[-1]
        text = text.lstrip("/")
        m = re.match(r"^api/data/v9\.[0-2]/(.*)$", text)
        if m:
            text = m.group(1)
        name, key = odata.split_name_and_key(text)
        table = self.table_by_set(name)
        if table is None or key is None:
            raise ApiError(
                400, CODE_INVALID_ARGUMENT, f"The reference '{value}' is not a valid entity URL."
            )
        row = self.find_row(table, key)
        assert row is not None
        return table, row[table.pk]

    # ------------------------------------------------------------------ collections

    def collection_resource(self, req: Request, table: Table, rest: list[str]) -> Response:
        if not rest:
            if req.method == "GET":
                return self.query(req, table, self.store.scan, base_path=table.entity_set)
            if req.method == "POST":
                return self.create(req, table)
            raise ApiError(
                405,
                CODE_METHOD,
                f"The requested operation isn't supported on the '{table.entity_set}' collection.",
            )
        action = rest[0]
        if action == "$count" and len(rest) == 1 and req.method == "GET":
            return self.count(req, table)
        if action.startswith("Microsoft.Dynamics.CRM.") and len(rest) == 1:
            message = action.split(".")[-1]
            if message in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple"):
                if req.method != "POST":
                    raise ApiError(405, CODE_METHOD, f"{message} is an action: use POST.")
                return self.bulk(req, table, message)
        raise ApiError(
            404, CODE_NOT_FOUND_SEGMENT, f"Resource not found for the segment '{action}'."
        )

    def count(self, req: Request, table: Table) -> Response:
        if "$deltatoken" in req.query:
            since, _ = self.parse_deltatoken(req.query["$deltatoken"])
            upto = self.store.current_version
            n = len(self.store.scan_since(table.entity_set, since, upto)) + len(
                self.store.tombstones_since(table.entity_set, since, upto)
            )
        else:
            rows = self.store.scan(table.entity_set)
            if "$filter" in req.query:
                pred = self.compile_filter(table, req.query["$filter"])
                cache: dict[tuple[str, str], Any] = {}
                rows = [r for r in rows if pred(self.resolver(table, r, cache))]
            n = min(len(rows), MAX_PAGE)
        return Response(
            200, [("Content-Type", "text/plain"), ("OData-Version", "4.0")], str(n).encode()
        )

    # ------------------------------------------------------------------ query

    def compile_filter(self, table: Table, text: str) -> odata.Predicate:
        pred, paths = odata.compile_filter(text)
        for path in paths:
            self.check_property(table, path, allow_path=True)
        return pred

    def check_property(self, table: Table, name: str, *, allow_path: bool = False) -> None:
        if "/" in name and allow_path:
            nav, _, prop = name.partition("/")
            if nav not in table.nav_map:
                raise self.unknown_property(table, nav)
            self.check_property(self.table(table.nav_map[nav][1]), prop)
            return
        if name == table.pk or name in table.column_map:
            return
        if name.startswith("_") and name.endswith("_value") and name[1:-6] in table.lookup_map:
            return
        raise self.unknown_property(table, name)

    def unknown_property(self, table: Table, name: str) -> ApiError:
        return ApiError(
            400,
            CODE_NOT_FOUND_SEGMENT,
            f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table.logical}'.",  # noqa: E501
        )

    def resolver(
        self, table: Table, row: dict[str, Any], cache: dict[tuple[str, str], Any]
    ) -> Callable[[str], Any]:
        def resolve(path: str) -> Any:
            if "/" in path:
                nav, _, prop = path.partition("/")
                lk, target = table.nav_map[nav]
                ref = row.get(f"_{lk.name}_value")
                if ref is None:
                    return None
                if row.get(f"_{lk.name}_value@{LOOKUP_LOGICAL}", target) != target:
                    return None
                related = self.related_row(target, ref, cache)
                return related.get(prop) if related else None
            return row.get(path)

        return resolve

    def related_row(
        self, logical: str, row_id: str, cache: dict[tuple[str, str], Any]
    ) -> dict[str, Any] | None:
        key = (logical, row_id)
        if key not in cache:
            target = self.tables.get(logical)
            cache[key] = self.store.get(target.entity_set, row_id) if target else None
        return cache[key]

    def sort_rows(
        self,
        table: Table,
        rows: list[dict[str, Any]],
        orderby: list[tuple[str, bool]],
        cache: dict[tuple[str, str], Any],
    ) -> tuple[list[dict[str, Any]], Callable[[dict[str, Any]], list[Any]], Any]:
        pk = table.pk
        if not orderby:
            # the common case (paging by primary key): native string sort, no comparator
            def pk_of(row: dict[str, Any]) -> list[Any]:
                return [row[pk]]

            return sorted(rows, key=lambda r: r[pk]), pk_of, lambda k: k[0]

        def key_of(row: dict[str, Any]) -> list[Any]:
            resolve = self.resolver(table, row, cache)
            return [resolve(p) for p, _ in orderby] + [row[pk]]

        if not any(desc for _, desc in orderby):
            # all ascending (the incremental-sync pattern): a native tuple sort, nulls first,
            # strings case-insensitive, like the comparator below
            def sortable(values: list[Any]) -> tuple[Any, ...]:
                return tuple(
                    (0,) if v is None else (1, v.lower(), v) if isinstance(v, str) else (1, v, v)
                    for v in values
                )

            try:
                ordered = sorted(rows, key=lambda r: sortable(key_of(r)))
                return ordered, key_of, sortable
            except TypeError:
                pass  # mixed value types in one column: fall back to the comparator

        directions = [d for _, d in orderby] + [False]

        def cmp(a: list[Any], b: list[Any]) -> int:
            for x, y, desc in zip(a, b, directions, strict=True):
                if x == y:
                    continue
                if x is None:
                    result = -1
                elif y is None:
                    result = 1
                else:
                    xx = x.lower() if isinstance(x, str) else x
                    yy = y.lower() if isinstance(y, str) else y
                    try:
                        result = -1 if xx < yy else (1 if xx > yy else (-1 if x < y else 1))
                    except TypeError:
                        result = -1 if str(xx) < str(yy) else 1
                return -result if desc else result
            return 0

        cmp_key = functools.cmp_to_key(cmp)
        keyed = sorted(((cmp_key(key_of(r)), r) for r in rows), key=lambda kr: kr[0])
        return [r for _, r in keyed], key_of, cmp_key

    def query(
        self,
        req: Request,
        table: Table,
        source: Callable[[str], list[dict[str, Any]]],
        *,
        base_path: str,
        context_path: str | None = None,
    ) -> Response:
        q = req.query
        prefer = req.prefer
        for option in q:
            if option in ("$skip", "$search", "$format", "$apply"):
                raise ApiError(
                    400, CODE_NOT_SUPPORTED, f"The query parameter {option} is not supported"
                )
        select = odata.parse_select(q.get("$select"))
        if select:
            for col in select:
                self.check_property(table, col)
        expands = odata.parse_expand(q.get("$expand"))
        for exp in expands:
            self.check_expand(table, exp)
        applied: list[str] = []
        deltatoken = q.get("$deltatoken")
        tracking = prefer.track_changes or deltatoken is not None
        if tracking:
            if not table.change_tracking:
                raise ApiError(
                    400,
                    CODE_NOT_SUPPORTED,
                    f"Change tracking is not enabled for the entity '{table.logical}'.",
                )
            for option in ("$filter", "$orderby", "$expand", "$top"):
                if option in q:
                    raise ApiError(
                        400,
                        CODE_INVALID_ARGUMENT,
                        f'The "{option}" query parameter isn\'t supported when Change Tracking '
                        "is enabled.",
                    )
        page_size = MAX_PAGE
        if prefer.maxpagesize is not None:
            if prefer.maxpagesize < 1:
                raise ApiError(400, CODE_INVALID_ARGUMENT, "odata.maxpagesize must be positive.")
            page_size = min(prefer.maxpagesize, MAX_PAGE)
            applied.append(f"odata.maxpagesize={prefer.maxpagesize}")
        top = None
        if "$top" in q and prefer.maxpagesize is None:
            try:
                top = int(q["$top"])
            except ValueError as exc:
                raise ApiError(400, CODE_INVALID_ARGUMENT, "Invalid $top value.") from exc
            if top < 0:
                raise ApiError(400, CODE_INVALID_ARGUMENT, "Invalid $top value.")
            page_size = min(top, MAX_PAGE)
        cache: dict[tuple[str, str], Any] = {}
        token = self.parse_skiptoken(q["$skiptoken"]) if "$skiptoken" in q else None
        extra: dict[str, Any] = {}
        context_select = self.context_select(select, expands)
        context = f"{req.root}$metadata#{context_path or table.entity_set}{context_select}"
        items: list[dict[str, Any]]
        next_token: dict[str, Any] | None = None
        delta_link: str | None = None

        if tracking:
            if prefer.track_changes:
                applied.append("odata.track-changes")
            snapshot = token["v"] if token else self.store.current_version
            if deltatoken is not None:
                since, _ = self.parse_deltatoken(deltatoken)
                context += "/$delta"
                changed = [
                    ("r", r["versionnumber"], r[table.pk], r)
                    for r in self.store.scan_since(table.entity_set, since, snapshot)
                ]
                deleted = [
                    ("t", v, i, None)
                    for i, v in self.store.tombstones_since(table.entity_set, since, snapshot)
                ]
                sequence = changed + deleted
                start = 0
                if token:
                    last = tuple(token["k"])
                    start = next(
                        (
                            n
                            for n, s in enumerate(sequence)
                            if (s[0], s[1], s[2]) > last and not (s[0] == "r" and last[0] == "t")
                        ),
                        len(sequence),
                    )
                chunk = sequence[start : start + page_size]
                items = []
                for kind, _, row_id, row in chunk:
                    if kind == "r":
                        items.append(self.render(req, table, row, select, expands, cache))
                    else:
                        items.append(
                            {
                                "@odata.context": f"{req.root}$metadata#{table.entity_set}/$deletedEntity",  # noqa: E501
                                "id": row_id,
                                "reason": "deleted",
                            }
                        )
                if start + page_size < len(sequence):
                    last_item = chunk[-1]
                    next_token = {"k": [last_item[0], last_item[1], last_item[2]], "v": snapshot}
            else:
                rows, key_of, cmp_key = self.sort_rows(table, source(table.entity_set), [], cache)
                items, next_token = self.page(
                    req, table, rows, key_of, cmp_key, token, page_size, select, expands, cache
                )
                if next_token is not None:
                    next_token["v"] = snapshot
            if next_token is None:
                delta_link = self.link(
                    req,
                    base_path,
                    extra={"$deltatoken": self.make_deltatoken(snapshot)},
                    drop=("$skiptoken", "$deltatoken"),
                )
        else:
            rows = source(table.entity_set)
            if "$filter" in q:
                pred = self.compile_filter(table, q["$filter"])
                rows = [r for r in rows if pred(self.resolver(table, r, cache))]
            orderby = odata.parse_orderby(q.get("$orderby", ""))
            for prop, _ in orderby:
                self.check_property(table, prop, allow_path=True)
            total = len(rows)
            rows, key_of, cmp_key = self.sort_rows(table, rows, orderby, cache)
            if q.get("$count", "").lower() == "true":
                extra["@odata.count"] = min(total, MAX_PAGE)
                if prefer.wants("Microsoft.Dynamics.CRM.totalrecordcount"):
                    extra["@Microsoft.Dynamics.CRM.totalrecordcount"] = min(total, MAX_PAGE)
                if prefer.wants("Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"):
                    extra["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = (
                        total > MAX_PAGE
                    )
            items, next_token = self.page(
                req, table, rows, key_of, cmp_key, token, page_size, select, expands, cache
            )
            if top is not None:
                next_token = None

        if prefer.annotations_raw is not None:
            applied.append(f"odata.include-annotations={prefer.annotations_raw}")
        body: dict[str, Any] = {"@odata.context": context, **extra, "value": items}
        if next_token is not None:
            body["@odata.nextLink"] = self.link(
                req,
                base_path,
                extra={"$skiptoken": self.make_skiptoken(next_token)},
                drop=("$skiptoken",),
            )
        if delta_link:
            body["@odata.deltaLink"] = delta_link
        headers = [("Preference-Applied", a) for a in applied]
        return json_response(200, body, headers)

    def page(
        self,
        req: Request,
        table: Table,
        rows: list[dict[str, Any]],
        key_of: Callable[[dict[str, Any]], list[Any]],
        cmp_key: Any,
        token: dict[str, Any] | None,
        page_size: int,
        select: list[str] | None,
        expands: list[odata.Expand],
        cache: dict[tuple[str, str], Any],
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        start = 0
        if token is not None:
            keys = [cmp_key(key_of(r)) for r in rows]
            start = bisect.bisect_right(keys, cmp_key(token["k"]))
        chunk = rows[start : start + page_size]
        items = [self.render(req, table, r, select, expands, cache) for r in chunk]
        next_token = None
        if start + page_size < len(rows) and chunk:
            next_token = {"k": key_of(chunk[-1]), "p": (token or {}).get("p", 1) + 1}
        return items, next_token

    def link(
        self, req: Request, base_path: str, *, extra: dict[str, str], drop: tuple[str, ...]
    ) -> str:
        parts = []
        for part in req.raw_query.split("&"):
            if not part:
                continue
            name = unquote_plus(part.partition("=")[0])
            if name in drop:
                continue
            parts.append(part)
        parts += [f"{k}={v}" for k, v in extra.items()]
        return f"{req.root}{base_path}?" + "&".join(parts)

    def make_skiptoken(self, token: dict[str, Any]) -> str:
        cookie = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
        page = token.get("p", 2)
        raw = f'<cookie pagenumber="{page}" pagingcookie="{cookie}" istracking="False" />'
        return quote(raw, safe="")

    def parse_skiptoken(self, text: str) -> dict[str, Any]:
        m = re.search(r'pagingcookie="([^"]*)"', text)
        try:
            assert m is not None
            return json.loads(base64.urlsafe_b64decode(m.group(1).encode()))
        except Exception as exc:
            raise ApiError(400, CODE_INVALID_ARGUMENT, "The $skiptoken is not valid.") from exc

    def make_deltatoken(self, version: int) -> str:
        stamp = datetime.now(UTC).strftime("%m/%d/%Y %H:%M:%S")
        return quote(f"{version}!{stamp}", safe="")

    def parse_deltatoken(self, text: str) -> tuple[int, datetime]:
        version_text, _, stamp = text.partition("!")
        try:
            version = int(version_text)
            issued = datetime.strptime(stamp, "%m/%d/%Y %H:%M:%S").replace(tzinfo=UTC)
        except ValueError as exc:
            raise ApiError(400, CODE_INVALID_ARGUMENT, "The $deltatoken is not valid.") from exc
        expiry = timedelta(seconds=self.settings.change_tracking_expiry_seconds)
        if datetime.now(UTC) - issued > expiry or version > self.store.current_version:
            raise ApiError(
                400,
                CODE_EXPIRED_VERSION,
                "Version stamp associated with the client has expired. Please perform a full sync.",
            )
        return version, issued

    def context_select(self, select: list[str] | None, expands: list[odata.Expand]) -> str:
        parts = list(select or [])
        for exp in expands:
            parts.append(f"{exp.nav}({','.join(exp.select)})" if exp.select else exp.nav)
        return f"({','.join(parts)})" if parts else ""

    def check_expand(self, table: Table, exp: odata.Expand) -> None:
        if exp.nav in table.nav_map:
            target = self.table(table.nav_map[exp.nav][1])
        elif exp.nav in table.collection_map:
            target = self.table(table.collection_map[exp.nav].table)
        else:
            raise self.unknown_property(table, exp.nav)
        for col in exp.select or []:
            self.check_property(target, col)

    # ------------------------------------------------------------------ rendering

    def render(
        self,
        req: Request,
        table: Table,
        row: dict[str, Any],
        select: list[str] | None,
        expands: list[odata.Expand],
        cache: dict[tuple[str, str], Any],
        *,
        nested: bool = False,
    ) -> dict[str, Any]:
        prefer = req.prefer
        out: dict[str, Any] = {"@odata.etag": etag(row)}
        props = list(select) if select else table.all_properties()
        if table.pk not in props:
            props.append(table.pk)
        if (
            select
            and "_transactioncurrencyid_value" not in props
            and (
                any(c in table.money_columns for c in select)
                and "transactioncurrencyid" in table.lookup_map
            )
        ):
            props.append("_transactioncurrencyid_value")
        for prop in props:
            value = row.get(prop)
            if prefer.annotations and value is not None:
                self.annotate(out, table, row, prop, value, prefer, cache)
            out[prop] = value
        for exp in expands:
            out[exp.nav] = self.expand(req, table, row, exp, cache)
        return out

    def annotate(
        self,
        out: dict[str, Any],
        table: Table,
        row: dict[str, Any],
        prop: str,
        value: Any,
        prefer: odata.Prefer,
        cache: dict[tuple[str, str], Any],
    ) -> None:
        col = table.column_map.get(prop)
        if prop.startswith("_") and prop.endswith("_value") and prop[1:-6] in table.lookup_map:
            lk = table.lookup_map[prop[1:-6]]
            target = row.get(f"{prop}@{LOOKUP_LOGICAL}") or next(iter(lk.targets.values()))
            nav = next((n for n, t in lk.targets.items() if t == target), lk.name)
            if prefer.wants(FORMATTED):
                related = self.related_row(target, value, cache)
                if related is not None:
                    name = related.get(self.table(target).primary_name)
                    if name is not None:
                        out[f"{prop}@{FORMATTED}"] = name
            if prefer.wants(ASSOCIATED_NAV):
                out[f"{prop}@{ASSOCIATED_NAV}"] = nav
            if prefer.wants(LOOKUP_LOGICAL):
                out[f"{prop}@{LOOKUP_LOGICAL}"] = target
            return
        if col is None or not prefer.wants(FORMATTED):
            return
        formatted: str | None = None
        if col.type == CHOICE:
            formatted = col.options.get(value)
        elif col.type == BOOL:
            formatted = "Yes" if value else "No"
        elif col.type == MONEY:
            symbol = "$"
            currency_id = row.get("_transactioncurrencyid_value")
            if currency_id:
                currency = self.related_row("transactioncurrency", currency_id, cache)
                if currency:
                    symbol = currency.get("currencysymbol") or symbol
            formatted = f"{symbol}{value:,.2f}"
        elif col.type == DATETIME:
            d = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
            hour = d.hour % 12 or 12
            formatted = (
                f"{d.month}/{d.day}/{d.year} {hour}:{d.minute:02d} {'AM' if d.hour < 12 else 'PM'}"
            )
        elif col.type == DATE:
            d = datetime.strptime(value, "%Y-%m-%d")
            formatted = f"{d.month}/{d.day}/{d.year}"
        elif col.type in (INT, BIGINT):
            formatted = f"{value:,}"
        elif col.type == DECIMAL:
            formatted = f"{value:,.2f}"
        if formatted is not None:
            out[f"{prop}@{FORMATTED}"] = formatted

    def expand(
        self,
        req: Request,
        table: Table,
        row: dict[str, Any],
        exp: odata.Expand,
        cache: dict[tuple[str, str], Any],
    ) -> Any:
        if exp.nav in table.nav_map:
            lk, target_name = table.nav_map[exp.nav]
            ref = row.get(f"_{lk.name}_value")
            if (
                ref is None
                or row.get(f"_{lk.name}_value@{LOOKUP_LOGICAL}", target_name) != target_name
            ):
                return None
            target = self.table(target_name)
            related = self.related_row(target_name, ref, cache)
            if related is None:
                return None
            return self.render(req, target, related, exp.select, [], cache, nested=True)
        nav = table.collection_map[exp.nav]
        target = self.table(nav.table)
        children = self.children(table, row[table.pk], nav, cache)  # type: ignore[arg-type]
        return [self.render(req, target, c, exp.select, [], cache, nested=True) for c in children]

    def children(
        self,
        table: Table,
        row_id: str,
        nav: OneToMany | ManyToMany,
        cache: dict[Any, Any] | None = None,
    ) -> list[dict[str, Any]]:
        target = self.table(nav.table)
        if isinstance(nav, ManyToMany):
            ids = self.store.linked(nav.relationship, nav.this_side, row_id)
            return [r for r in (self.store.get(target.entity_set, i) for i in ids) if r]
        column = f"_{nav.lookup}_value"
        # one scan of the child table per request, grouped by parent (expand on a collection)
        index_key = ("children", table.logical, nav.name)
        index = cache.get(index_key) if cache is not None else None
        if index is None:
            index = {}
            for r in self.store.scan(target.entity_set):
                parent = r.get(column)
                if parent and r.get(f"{column}@{LOOKUP_LOGICAL}", table.logical) == table.logical:
                    index.setdefault(parent, []).append(r)
            for rows in index.values():
                rows.sort(key=lambda r: r[target.pk])
            if cache is not None:
                cache[index_key] = index
        return list(index.get(row_id, []))

    # ------------------------------------------------------------------ single entity

    def entity_resource(
        self,
        req: Request,
        table: Table,
        key: str,
        row: dict[str, Any] | None,
        rest: list[str],
    ) -> Response:
        if not rest:
            if req.method == "GET":
                if row is None:
                    self.find_row(table, key)  # raises the right 404
                assert row is not None
                return self.retrieve(req, table, row)
            if req.method == "PATCH":
                return self.upsert(req, table, key, row)
            if req.method == "DELETE":
                if row is None:
                    self.find_row(table, key)
                assert row is not None
                self.check_if_match(req, row)
                self.delete_row(table, row)
                return Response(204, [("OData-Version", "4.0")])
            raise ApiError(405, CODE_METHOD, f"The method {req.method} is not allowed here.")
        if row is None:
            self.find_row(table, key)
        assert row is not None
        prop = rest[0]
        is_ref = rest[-1] == "$ref"
        nav_name, nav_key = odata.split_name_and_key(prop)
        if is_ref:
            return self.reference(req, table, row, nav_name, nav_key, rest)
        if nav_name in table.collection_map and req.method == "GET":
            nav = table.collection_map[nav_name]
            target = self.table(nav.table)
            rows_source = lambda _set: self.children(table, row[table.pk], nav)  # noqa: E731
            return self.query(
                req,
                target,
                rows_source,
                base_path=f"{table.entity_set}({row[table.pk]})/{nav_name}",
                context_path=target.entity_set,
            )
        if nav_name in table.nav_map and req.method == "GET":
            lk, target_name = table.nav_map[nav_name]
            ref = row.get(f"_{lk.name}_value")
            if ref is None:
                return Response(204, [("OData-Version", "4.0")])
            target = self.table(target_name)
            related = self.find_row(target, ref)
            assert related is not None
            return self.retrieve(req, target, related)
        if (
            prop in table.column_map
            or prop == table.pk
            or (prop.startswith("_") and prop.endswith("_value"))
        ):
            self.check_property(table, prop)
            context = f"{req.root}$metadata#{table.entity_set}({row[table.pk]})/{prop}"
            if req.method == "GET":
                return json_response(200, {"@odata.context": context, "value": row.get(prop)})
            if req.method == "PUT":
                body = req.json_body()
                self.update_row(req, table, row, {prop: body.get("value")})
                return Response(204, [("OData-Version", "4.0")])
            if req.method == "DELETE":
                self.update_row(req, table, row, {prop: None})
                return Response(204, [("OData-Version", "4.0")])
        raise ApiError(404, CODE_NOT_FOUND_SEGMENT, f"Resource not found for the segment '{prop}'.")

    def retrieve(self, req: Request, table: Table, row: dict[str, Any]) -> Response:
        select = odata.parse_select(req.query.get("$select"))
        for col in select or []:
            self.check_property(table, col)
        expands = odata.parse_expand(req.query.get("$expand"))
        for exp in expands:
            self.check_expand(table, exp)
        inm = req.headers.get("if-none-match")
        cacheable = inm and inm not in ("null", "*") and not expands and not req.prefer.annotations
        if cacheable and inm.strip() == etag(row):
            return Response(
                304,
                [("Content-Type", JSON_TYPE), ("OData-Version", "4.0"), ("ETag", etag(row))],
            )
        body = {
            "@odata.context": f"{req.root}$metadata#{table.entity_set}"
            f"{self.context_select(select, expands)}/$entity",
            **self.render(req, table, row, select, expands, {}),
        }
        headers = [("ETag", etag(row))]
        if req.prefer.annotations_raw is not None:
            headers.append(
                ("Preference-Applied", f"odata.include-annotations={req.prefer.annotations_raw}")
            )
        return json_response(200, body, headers)

    def check_if_match(self, req: Request, row: dict[str, Any]) -> None:
        if_match = req.headers.get("if-match")
        if if_match and if_match.strip() != "*" and if_match.strip() != etag(row):
            raise ApiError(
                412,
                CODE_CONCURRENCY,
                "The version of the existing record doesn't match the RowVersion property provided.",  # noqa: E501
            )

    # ------------------------------------------------------------------ writes

    def entity_url(self, req: Request, table: Table, row_id: str) -> str:
        return f"{req.root}{table.entity_set}({row_id})"

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
        body = req.json_body()
        if not isinstance(body, dict):
            raise ApiError(400, CODE_BAD_PROPERTY, "The request body must be a JSON object.")
        if_match = (req.headers.get("if-match") or "").strip()
        if_none_match = (req.headers.get("if-none-match") or "").strip()
        parsed = odata.parse_key(key)
        key_url = f"{req.root}{table.entity_set}({key})"
        if row is None:
            if if_match:
                if isinstance(parsed, str):
                    raise self.not_found(table, parsed)
                self.find_row(table, key)  # raises the alternate-key 404
            seed_values: dict[str, Any] = (
                {table.pk: parsed} if isinstance(parsed, str) else dict(parsed)
            )
            created = self.create_row(req, table, {**seed_values, **body})
            return self.write_response(
                req, table, created, created=True, key_url=key_url, upsert=True
            )
        if if_none_match == "*":
            raise ApiError(412, CODE_DUPLICATE, "A record with matching key values already exists.")
        self.check_if_match(req, row)
        if not isinstance(parsed, str):
            body = {k: v for k, v in body.items() if k not in parsed}
        updated = self.update_row(req, table, row, body)
        return self.write_response(req, table, updated, created=False, key_url=key_url, upsert=True)

    def delete_row(self, table: Table, row: dict[str, Any]) -> None:
        self.store.delete(table.entity_set, row[table.pk], self.store.next_version())

    # -- value conversion

    def convert(self, table: Table, name: str, value: Any) -> Any:
        col = table.column_map[name]
        if value is None:
            return None

        def invalid() -> ApiError:
            return ApiError(
                400,
                CODE_VALIDATION,
                f"A validation error occurred.  The value '{value}' of the '{name}' attribute of "
                f"the '{table.logical}' entity is not valid for its type ({col.type}).",
            )

        if col.type in (STRING, MEMO):
            if not isinstance(value, str):
                raise invalid()
            limit = col.max_length or (1048576 if col.type == MEMO else 4000)
            if len(value) > limit:
                raise ApiError(
                    400,
                    CODE_VALIDATION,
                    f"A validation error occurred.  The length of the '{name}' attribute of the "
                    f"'{table.logical}' entity exceeded the maximum allowed length of '{limit}'.",
                )
            return value
        if col.type in (INT, BIGINT, CHOICE):
            if isinstance(value, bool) or not isinstance(value, int):
                raise invalid()
            if col.type == CHOICE and col.options and value not in col.options:
                raise ApiError(
                    400,
                    CODE_VALIDATION,
                    f"A validation error occurred.  The value {value} of '{name}' on record of "
                    f"type '{table.logical}' is outside the valid range. Accepted Values: "
                    + ",".join(str(k) for k in col.options),
                )
        elif col.type in (DECIMAL, MONEY):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                if isinstance(value, str):
                    try:
                        value = float(value)
                    except ValueError:
                        raise invalid() from None
                else:
                    raise invalid()
            value = round(
                float(value),
                col.precision if col.precision is not None else (4 if col.type == MONEY else 10),
            )
        elif col.type == BOOL:
            if not isinstance(value, bool):
                raise invalid()
        elif col.type == DATETIME:
            if not isinstance(value, str):
                raise invalid()
            try:
                value = odata.normalize_datetime(value)
            except ODataError:
                raise invalid() from None
        elif col.type == DATE:
            if not isinstance(value, str) or not odata.DATE_RE.match(value[:10]):
                raise invalid()
            value = value[:10]
        elif col.type == GUID:
            if not isinstance(value, str) or not odata.GUID_RE.match(value):
                raise invalid()
            value = value.lower()
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if numeric and (
            (col.minimum is not None and value < col.minimum)
            or (col.maximum is not None and value > col.maximum)
        ):
            raise ApiError(
                400,
                CODE_VALIDATION,
                f"A validation error occurred.  The value {value} of '{name}' on record of "
                f"type '{table.logical}' is outside the valid range.",
            )
        return value

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

    def check_writable(
        self,
        table: Table,
        name: str,
        creating: bool,
        row: dict[str, Any],
        read_only: bool,
        create_only: bool,
        value: Any,
        *,
        lookup: bool = False,
    ) -> None:
        if read_only:
            raise ApiError(
                400,
                CODE_VALIDATION,
                f"A validation error occurred.  The '{name}' attribute of the '{table.logical}' "
                "entity is read-only.",
            )
        if create_only and not creating:
            current = row.get(f"_{name}_value" if lookup else name)
            if lookup and isinstance(value, str):
                return  # compared after resolution in set_lookup's caller; keep it simple
            if value != current:
                raise ApiError(
                    400,
                    CODE_VALIDATION,
                    f"A validation error occurred.  The '{name}' attribute of the "
                    f"'{table.logical}' entity is not valid for update.",
                )

    @staticmethod
    def set_lookup(row: dict[str, Any], name: str, ref_id: str | None, target: str | None) -> None:
        row[f"_{name}_value"] = ref_id
        if ref_id is None:
            row.pop(f"_{name}_value@{LOOKUP_LOGICAL}", None)
        else:
            row[f"_{name}_value@{LOOKUP_LOGICAL}"] = target

    def unique_keys(self, table: Table, row: dict[str, Any]) -> dict[str, str]:
        # business-rule uniqueness first: its error (e.g. 0x80043b06) wins over the key's
        keys: dict[str, str] = {}
        for name, (cols, _, _) in table.unique.items():
            values = [row.get(c) for c in cols]
            if all(v is not None for v in values):
                keys["uq:" + name] = json.dumps(
                    [v.lower() if isinstance(v, str) else v for v in values]
                )
        for ak in table.alternate_keys:
            values = [row.get(c) for c in ak]
            if all(v is not None for v in values):
                keys["ak:" + ",".join(ak)] = json.dumps(
                    [v.lower() if isinstance(v, str) else v for v in values]
                )
        return keys

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

    def finish_row(
        self, table: Table, row: dict[str, Any], cache: dict[tuple[str, str], Any]
    ) -> None:
        """Computed columns and state/status consistency."""
        if "fullname" in table.computed:
            row["fullname"] = (
                " ".join(p for p in (row.get("firstname"), row.get("lastname")) if p) or None
            )
        if "address1_composite" in table.column_map:
            parts = [
                row.get("address1_line1"), row.get("address1_postalcode"),
                row.get("address1_city"), row.get("address1_country"),
            ]  # fmt: skip
            row["address1_composite"] = "\n".join(p for p in parts if p) or None
        if table.logical == "productpricelevel" and row.get("_productid_value"):
            product = self.related_row("product", row["_productid_value"], cache)
            row["productnumber"] = product.get("productnumber") if product else None
        if table.logical == "uom":
            row.setdefault("isschedulebaseuom", False)
        if table.logical == "systemuser" and row.get("isdisabled") is None:
            # Dataverse's isdisabled is a two-option column that defaults to "Enabled" (false),
            # so `$filter=isdisabled eq false` finds every enabled user.
            row["isdisabled"] = False

    def check_state(self, table: Table, row: dict[str, Any], body: dict[str, Any]) -> None:
        if not table.states:
            return
        state, status = row.get("statecode"), row.get("statuscode")
        if "statecode" in body and "statuscode" not in body:
            row["statuscode"] = table.states.get(state, ("", status))[1]
        elif (
            "statuscode" in body
            and "statecode" not in body
            and status in table.statuses
            and table.statuses[status][1] != state
        ):
            raise ApiError(
                400,
                CODE_VALIDATION,
                f"{status} is not a valid status code for state code "
                f"{table.logical}State.{table.states[state][0]} on {table.logical}.",
            )
        if row.get("statecode") not in table.states:
            raise ApiError(
                400, CODE_VALIDATION, f"{state} is not a valid state code on {table.logical}."
            )
        status = row.get("statuscode")
        if status not in table.statuses or table.statuses[status][1] != row["statecode"]:
            raise ApiError(
                400,
                CODE_VALIDATION,
                f"{status} is not a valid status code for state code "
                f"{table.logical}State.{table.states[row['statecode']][0]} on {table.logical}.",
            )

    def create_row(self, req: Request, table: Table, body: dict[str, Any]) -> dict[str, Any]:
        now = utcnow_iso()
        row: dict[str, Any] = {table.pk: None}
        deferred = self.apply_body(req, table, row, body, creating=True)
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
        self, req: Request, table: Table, row: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
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

    def business_rules(self, table: Table, row: dict[str, Any], old: dict[str, Any] | None) -> None:
        if (
            table.logical == "transactioncurrency"
            and old is not None
            and row.get("isocurrencycode") != old.get("isocurrencycode")
        ):
            raise ApiError(
                400,
                CODE_VALIDATION,
                "A validation error occurred.  The 'isocurrencycode' attribute of the "
                "'transactioncurrency' entity is not valid for update.",
            )

    # ------------------------------------------------------------------ $ref

    def require_admin(self, req: Request) -> None:
        roles = self.store.linked("systemuserroles", "a", req.user_id)
        if seed.SYSTEM_ADMINISTRATOR_ROLE_ID not in roles:
            raise ApiError(
                403,
                CODE_PRIVILEGE,
                f"Principal user (Id={req.user_id}, type=8) is missing prvAssignRole privilege. "
                "The user does not hold the necessary privileges.",
            )

    def associate(
        self, req: Request, table: Table, row: dict[str, Any], nav: OneToMany | ManyToMany, ref: str
    ) -> None:
        target_table, target_id = self.resolve_reference(req, ref)
        if target_table.logical != nav.table:
            raise ApiError(
                400,
                CODE_BAD_PROPERTY,
                f"The navigation property '{nav.name}' expects '{nav.table}' references.",
            )
        if isinstance(nav, ManyToMany):
            if nav.relationship == "systemuserroles":
                self.require_admin(req)
            a, b = (
                (row[table.pk], target_id) if nav.this_side == "a" else (target_id, row[table.pk])
            )
            self.store.link(nav.relationship, a, b)
            return
        child = self.store.get(target_table.entity_set, target_id)
        assert child is not None
        self.update_row_lookup(req, target_table, child, nav.lookup, row[table.pk], table.logical)

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

    def reference(
        self,
        req: Request,
        table: Table,
        row: dict[str, Any],
        nav_name: str,
        nav_key: str | None,
        rest: list[str],
    ) -> Response:
        done = Response(204, [("OData-Version", "4.0")])
        if nav_name in table.nav_map:
            lk, target = table.nav_map[nav_name]
            if req.method == "PUT":
                ref = req.json_body().get("@odata.id")
                if not isinstance(ref, str):
                    raise ApiError(400, CODE_BAD_PROPERTY, "The body needs an '@odata.id'.")
                ref_table, ref_id = self.resolve_reference(req, ref)
                if ref_table.logical != target:
                    raise ApiError(400, CODE_BAD_PROPERTY, f"'{nav_name}' expects a '{target}'.")
                self.update_row_lookup(req, table, row, lk.name, ref_id, target)
                return done
            if req.method == "DELETE":
                if row.get(f"_{lk.name}_value@{LOOKUP_LOGICAL}", target) == target:
                    self.update_row_lookup(req, table, row, lk.name, None, None)
                return done
        elif nav_name in table.collection_map:
            nav = table.collection_map[nav_name]
            if req.method == "POST":
                ref = req.json_body().get("@odata.id")
                if not isinstance(ref, str):
                    raise ApiError(400, CODE_BAD_PROPERTY, "The body needs an '@odata.id'.")
                self.associate(req, table, row, nav, ref)
                return done
            if req.method == "DELETE":
                if nav_key is not None:
                    ref_id = odata.parse_key(nav_key)
                    if not isinstance(ref_id, str):
                        raise ApiError(400, CODE_INVALID_ARGUMENT, "Use the id of the related row.")
                    target_table = self.table(nav.table)
                else:
                    ref = req.query.get("$id")
                    if not ref:
                        raise ApiError(
                            400, CODE_INVALID_ARGUMENT, "The $id query option is missing."
                        )
                    target_table, ref_id = self.resolve_reference(req, ref)
                if isinstance(nav, ManyToMany):
                    if nav.relationship == "systemuserroles":
                        self.require_admin(req)
                    a, b = (
                        (row[table.pk], ref_id) if nav.this_side == "a" else (ref_id, row[table.pk])
                    )
                    self.store.unlink(nav.relationship, a, b)
                    return done
                child = self.store.get(target_table.entity_set, ref_id)
                if child is None:
                    raise self.not_found(target_table, ref_id)
                if child.get(f"_{nav.lookup}_value") == row[table.pk]:
                    self.update_row_lookup(req, target_table, child, nav.lookup, None, None)
                return done
        raise ApiError(
            404, CODE_NOT_FOUND_SEGMENT, f"Resource not found for the segment '{nav_name}'."
        )

    # ------------------------------------------------------------------ bulk messages

    def bulk(self, req: Request, table: Table, message: str) -> Response:
        if not table.bulk:
            raise ApiError(
                400,
                CODE_NOT_SUPPORTED,
                f"The '{message}' message is not supported on the '{table.logical}' table. "
                "Send the operations one by one or in a $batch.",
            )
        body = req.json_body()
        targets = body.get("Targets") if isinstance(body, dict) else None
        if not isinstance(targets, list):
            raise ApiError(400, CODE_INVALID_ARGUMENT, "The parameter 'Targets' is missing.")
        expected = f"Microsoft.Dynamics.CRM.{table.logical}"
        ids: list[str] = []
        for index, target in enumerate(targets):
            if not isinstance(target, dict) or target.get("@odata.type") != expected:
                raise ApiError(
                    400,
                    CODE_INVALID_ARGUMENT,
                    f'Target {index}: every target needs "@odata.type": "{expected}".',
                )
            try:
                if message == "CreateMultiple":
                    ids.append(self.create_row(req, table, target)[table.pk])
                elif message == "UpdateMultiple":
                    row_id = target.get(table.pk)
                    if not isinstance(row_id, str):
                        raise ApiError(
                            400, CODE_INVALID_ARGUMENT, f"Target {index} has no {table.pk}."
                        )
                    row = self.find_row(table, row_id)
                    assert row is not None
                    self.update_row(req, table, row, target)
                else:
                    ref = target.get("@odata.id")
                    if isinstance(ref, str):
                        key = odata.split_name_and_key(ref.rsplit("/", 1)[-1])[1] or ""
                    elif isinstance(target.get(table.pk), str):
                        key = target[table.pk]
                    else:
                        raise ApiError(
                            400,
                            CODE_INVALID_ARGUMENT,
                            f"Target {index} names no record ({table.pk} or @odata.id).",
                        )
                    row = self.find_row(table, key, must_exist=False)
                    data = {k: v for k, v in target.items() if k != "@odata.id"}
                    if row is None:
                        parsed = odata.parse_key(key)
                        extra = {table.pk: parsed} if isinstance(parsed, str) else parsed
                        self.create_row(req, table, {**extra, **data})
                    else:
                        self.update_row(req, table, row, data)
            except ApiError as exc:
                exc.message = f"{exc.message} (target {index})"
                raise
        if message == "CreateMultiple":
            return json_response(
                200,
                {
                    "@odata.context": f"{req.root}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse",  # noqa: E501
                    "Ids": ids,
                },
            )
        return Response(204, [("OData-Version", "4.0")])


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
