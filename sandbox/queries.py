"""Reads of the sandbox Web API: queries, paging, change tracking, rendering of rows."""

from __future__ import annotations

import base64
import bisect
import functools
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote_plus

from sandbox import clock, odata
from sandbox.base import ApiBase
from sandbox.protocol import (
    ASSOCIATED_NAV,
    CODE_EXPIRED_VERSION,
    CODE_INVALID_ARGUMENT,
    CODE_NOT_FOUND_SEGMENT,
    CODE_NOT_SUPPORTED,
    FORMATTED,
    JSON_TYPE,
    LOOKUP_LOGICAL,
    MAX_PAGE,
    ApiError,
    Request,
    Response,
    etag,
    json_response,
)
from sandbox.tables import (
    BIGINT,
    BOOL,
    CHOICE,
    DATE,
    DATETIME,
    DECIMAL,
    INT,
    MONEY,
    ManyToMany,
    OneToMany,
    Table,
)

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def key_lookup(pk: str, text: str) -> list[str] | None:
    """The ids of a filter that only compares the primary key with ids, joined by `or`
    (`accountid eq <id> or accountid eq <id>`); None for any other filter."""
    term = re.compile(rf"\(?\s*{re.escape(pk)}\s+eq\s+'?({_GUID})'?\s*\)?", re.IGNORECASE)
    ids = []
    for part in re.split(r"\s+or\s+", text.strip()):
        match = term.fullmatch(part.strip())
        if match is None:
            return None
        ids.append(match[1].lower())
    return list(dict.fromkeys(ids))


class QueryMixin(ApiBase):
    """GET on collections, rows, navigation properties and `$count`: filters, ordering,
    paging, change tracking, `$expand` and annotations."""

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
                        assert row is not None  # a changed row; tombstones ("t") have none
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
            ids = key_lookup(table.pk, q["$filter"]) if "$filter" in q else None
            if ids is not None and source == self.store.scan:
                # Rows by primary key (what the engine's reads by id ask): looked up, not a
                # scan of the table; the filter below still decides.
                found = (self.store.get(table.entity_set, row_id) for row_id in ids)
                rows = [r for r in found if r is not None]
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
        stamp = clock.utcnow().strftime("%m/%d/%Y %H:%M:%S")
        return quote(f"{version}!{stamp}", safe="")

    def parse_deltatoken(self, text: str) -> tuple[int, datetime]:
        version_text, _, stamp = text.partition("!")
        try:
            version = int(version_text)
            issued = datetime.strptime(stamp, "%m/%d/%Y %H:%M:%S").replace(tzinfo=UTC)
        except ValueError as exc:
            raise ApiError(400, CODE_INVALID_ARGUMENT, "The $deltatoken is not valid.") from exc
        expiry = timedelta(seconds=self.settings.change_tracking_expiry_seconds)
        if clock.utcnow() - issued > expiry or version > self.store.current_version:
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
            formatted = self.column_options(table, prop).get(value)
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

    def retrieve(self, req: Request, table: Table, row: dict[str, Any]) -> Response:
        select = odata.parse_select(req.query.get("$select"))
        for col in select or []:
            self.check_property(table, col)
        expands = odata.parse_expand(req.query.get("$expand"))
        for exp in expands:
            self.check_expand(table, exp)
        inm = req.headers.get("if-none-match", "")
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
