"""Reads of the coupling pages: the mappings with their counts, one page of ERP records with
their coupling state (keyset pagination on an indexed order, one coupling query per page), one
page of CRM rows read live (Dataverse paging by nextLink), and the CRM search of the coupling
dialog.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import connections, models
from django.db.models import BooleanField, Exists, Expression, F, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils.translation import gettext as _

from connection.interactive import CrmReadProblem, crm_client, crm_problem
from connection.selectors import crm_connection_settings
from dataverse import errors as dv
from dataverse.odata import odata_literal
from erp import pagination
from erp import selectors as erp_selectors
from erp.selectors import EXACT_COUNT_LIMIT, ListCount
from erp.tables import TABLES_BY_MODEL, key_field
from syncjobs.engine.erp import ErpTable, MappingBroken
from syncjobs.models import CrmCoupling, Direction, IntegrationTableMapping, UidType

from . import selectors

PER_PAGE = 50
CRM_PER_PAGE = 25
SEARCH_LIMIT = 15

# The column that names a row of each CRM table, and one that tells rows apart.
CRM_NAME_COLUMNS = {
    "account": "name",
    "contact": "fullname",
    "systemuser": "fullname",
    "transactioncurrency": "currencyname",
    "uomschedule": "name",
    "pricelevel": "name",
    "product": "name",
}
CRM_DETAIL_COLUMNS = {
    "account": "accountnumber",
    "contact": "emailaddress1",
    "systemuser": "internalemailaddress",
    "transactioncurrency": "isocurrencycode",
    "product": "productnumber",
}

STATES = ("coupled", "not_coupled", "failed", "skipped", "conflict")


def state_label(state: str) -> str:
    return {
        "coupled": _("Coupled"),
        "not_coupled": _("Not coupled"),
        "failed": _("Failed"),
        "skipped": _("Skipped"),
        "conflict": _("Conflict"),
        "waiting": _("Waiting"),
    }[state]


def crm_name_column(entity: str) -> str:
    return CRM_NAME_COLUMNS.get(entity, "name")


# -- the mappings ------------------------------------------------------------------------------


def page_mappings() -> list[IntegrationTableMapping]:
    """The mappings that couple records (not option values) of an ERP table this app has."""
    found = []
    for mapping in IntegrationTableMapping.objects.filter(crm_uid_type=UidType.GUID).order_by(
        "priority", "name"
    ):
        try:
            apps.get_model(mapping.erp_table)
        except (LookupError, ValueError):
            continue
        found.append(mapping)
    return found


def page_mapping(pk: int) -> IntegrationTableMapping | None:
    return next((m for m in page_mappings() if m.pk == pk), None)


@dataclass(frozen=True)
class MappingCounts:
    mapping: IntegrationTableMapping
    records: int
    coupled: int
    failed: int
    skipped: int
    conflict: int
    waiting: int
    missing: list[tuple[IntegrationTableMapping | None, str, int]]

    @property
    def not_coupled(self) -> int:
        return max(self.records - self.coupled, 0)


def _mapping_counts(mapping: IntegrationTableMapping) -> MappingCounts:
    model = apps.get_model(mapping.erp_table)
    # One pass over the mapping's couplings (an index holds every column it reads) for every
    # state; the waiting records' mappings only when some wait.
    counts = selectors.coupling_state_counts(mapping=mapping)
    missing: list[tuple[IntegrationTableMapping | None, str, int]] = []
    if counts.waiting:
        by_name = {m.name: m for m in IntegrationTableMapping.objects.all()}
        missing = [
            (by_name.get(name), name, n)
            for name, n in selectors.missing_dependencies(mapping=mapping)
        ]
    return MappingCounts(
        mapping=mapping,
        records=model._default_manager.count(),
        coupled=counts.coupled,
        failed=counts.failed,
        skipped=counts.skipped,
        conflict=counts.conflict,
        waiting=counts.waiting,
        missing=missing,
    )


def mapping_overview() -> list[MappingCounts]:
    return [_mapping_counts(m) for m in page_mappings()]


def mapping_counts(mapping: IntegrationTableMapping) -> MappingCounts:
    return _mapping_counts(mapping)


def may_create_in_crm(mapping: IntegrationTableMapping) -> bool:
    return mapping.direction in (Direction.TO_CRM, Direction.BIDIRECTIONAL)


def may_create_in_erp(mapping: IntegrationTableMapping) -> bool:
    return mapping.direction in (Direction.FROM_CRM, Direction.BIDIRECTIONAL)


# -- coupling state of a row -----------------------------------------------------------------


def coupling_state(coupling: CrmCoupling | None) -> str:
    if coupling is None:
        return "not_coupled"
    if coupling.conflict:
        return "conflict"
    if coupling.skipped:
        return "skipped"
    if coupling.waiting_for:
        return "waiting"
    if "failure" in (coupling.last_result_to_crm, coupling.last_result_from_crm):
        return "failed"
    return "coupled"


class _InArray(Expression):
    """`column = ANY(ARRAY(subquery))` (PostgreSQL): the subquery runs once, as an InitPlan,
    and the list's records are then fetched by the column's index."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, column: str, rows: QuerySet[Any]) -> None:
        super().__init__()
        self.lhs: Any = F(column)
        self.rows: Any = Subquery(rows)

    def get_source_expressions(self) -> list[Any]:
        return [self.lhs, self.rows]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.lhs, self.rows = exprs

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = compiler.compile(self.lhs)
        rows, rows_params = compiler.compile(self.rows)
        return f"{lhs} = ANY(ARRAY{rows})", (*lhs_params, *rows_params)


def state_condition(label: str, state: str) -> Q:
    """ERP records (of the table with model label `label`) whose coupling is in `state`.

    Coupled / not coupled: an Exists subquery on the couplings' unique (erp_table, erp_uuid)
    index, which a page read in the list's order stops after a page of rows. The rare states
    (failed, skipped, conflict, waiting) are a few rows of the couplings, found by their own
    (partial) indexes, and the records are fetched by their uuid: SQLite plans `uuid IN
    (subquery)` that way; PostgreSQL's cost model would rather walk the list's index probing
    the couplings once per record, or scan the table to count, so there the subquery is made
    an array first (`= ANY(ARRAY(...))`, evaluated once). Before, the failed filter took
    over 150 ms at 100,000 customers on both."""
    couplings = CrmCoupling.objects.filter(erp_table=label)
    if state == "coupled":
        return Q(Exists(couplings.filter(erp_uuid=OuterRef("uuid"))))
    if state == "not_coupled":
        return ~Q(Exists(couplings.filter(erp_uuid=OuterRef("uuid"))))
    rare = couplings.filter(selectors._state_filter(state)).values("erp_uuid")
    if connections[rare.db].vendor == "postgresql":
        return Q(_InArray("uuid", rare))
    return Q(uuid__in=rare)


# -- the ERP side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ErpRow:
    record: Any
    label: str
    url: str
    coupling: CrmCoupling | None
    crm_url: str
    # The value of the column the page is sorted by, unless that is the record's key.
    sort_value: str = ""

    @property
    def state(self) -> str:
        return coupling_state(self.coupling)

    @property
    def state_label(self) -> str:
        return state_label(self.state)


@dataclass
class ErpPage:
    rows: list[ErpRow]
    count: int
    sort: str
    sorts: list[tuple[str, str]]
    first: bool
    has_next: bool
    has_previous: bool
    next_cursor: str = ""
    previous_cursor: str = ""
    problem: str = ""
    # "exact", "estimate" (PostgreSQL's planner) or "more" (SQLite: more than `count`).
    count_kind: str = "exact"


def erp_sorts(mapping: IntegrationTableMapping) -> list[tuple[str, str]]:
    """The orders of the ERP side: the table's key, the columns its ERP list page shows (each
    with an index on (column, id), a foreign key read group by group: `erp.selectors`) and
    the modification time, each both ways; the primary key breaks ties."""
    model = apps.get_model(mapping.erp_table)
    key = key_field(model)
    registry = TABLES_BY_MODEL.get(model)
    columns = [key, *(registry.columns if registry is not None else ()), "modified_at"]
    found: list[tuple[str, str]] = []
    for column in dict.fromkeys(columns):
        label = "#" if column == "pk" else str(model._meta.get_field(column).verbose_name)
        found += [(column, label), (f"-{column}", f"{label} ↓")]
    return found


def sort_value(record: Any, sort: str) -> str:
    """What the row shows of the column it is sorted by (beside its name), "" for the key."""
    column = sort.lstrip("-")
    if column in ("pk", key_field(type(record))):
        return ""
    value = getattr(record, column, None)
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def erp_url(record: Any) -> str:
    table = TABLES_BY_MODEL.get(type(record))
    if table is None:
        return ""
    return reverse(f"erp:{table.slug}-detail", kwargs={"pk": record.pk})


def erp_count(qs: QuerySet[Any]) -> ListCount:
    """How many records the ERP side lists: exact up to EXACT_COUNT_LIMIT (counting stops one
    row after it); above it PostgreSQL's planner estimate (erp's list count), and on SQLite
    "more than" the limit. The mapping's counts above the page give the exact totals per state;
    counting 50,000 coupled records exactly on every page would cost more than the page."""
    bounded = qs.order_by().values("pk")[: EXACT_COUNT_LIMIT + 1].count()
    if bounded <= EXACT_COUNT_LIMIT:
        return ListCount(bounded, exact=True)
    if connections[qs.db].vendor == "postgresql":
        return erp_selectors.table_count(rows=qs)
    return ListCount(EXACT_COUNT_LIMIT, exact=False)


def _erp_rows(
    qs: QuerySet[Any],
    *,
    keys: tuple[pagination.SortKey, ...],
    sort: str,
    after: str,
    before: str,
    last: bool,
    per_page: int,
) -> tuple[list[Any], bool, bool, bool]:
    """The records of one ERP page by keyset, and whether it is the first page, has a next
    and has a previous page."""

    def at(token: str, forward: bool) -> tuple[Any, ...] | None:
        cursor = pagination.cursor_decode(token, sort=sort, keys=keys) if token else None
        return cursor.values if cursor is not None and cursor.forward == forward else None

    def read(boundary: tuple[Any, ...] | None, forward: bool) -> list[Any]:
        return erp_selectors.keyset_rows(
            rows=qs.order_by(*(k.order_by() for k in keys)),
            keys=keys,
            after=boundary,
            forward=forward,
            limit=per_page + 1,
        )

    rows: list[Any]
    first = not (after or before or last)
    has_next = has_previous = False
    if before and (boundary := at(before, False)) is not None:
        rows = read(boundary, False)
        has_previous = len(rows) > per_page
        rows = rows[:per_page][::-1]
        has_next = True
        if not has_previous:
            # Nothing before this page: it is the first page, shown whole.
            rows = read(None, True)
            has_next = len(rows) > per_page
            rows = rows[:per_page]
            first = True
    elif last:
        rows = read(None, False)
        has_previous = len(rows) > per_page
        rows = rows[:per_page][::-1]
    else:
        boundary = at(after, True)
        if boundary is not None:
            has_previous = True
        else:
            first = True
        rows = read(boundary, True)
        has_next = len(rows) > per_page
        rows = rows[:per_page]
    return rows, first, has_next, has_previous


def erp_page(
    mapping: IntegrationTableMapping,
    *,
    search: str = "",
    state: str = "",
    sort: str = "",
    after: str = "",
    before: str = "",
    last: bool = False,
    per_page: int | None = None,
    crm_url: Any = None,
) -> ErpPage:
    """One page of the mapping's ERP records in scope, with their couplings.

    Keyset pagination as on the ERP list pages (`erp.pagination`, `erp.selectors.keyset_rows`):
    the page after (or before) a cursor of the sort column's value and the primary key, on an
    index, so page 2,000 costs what page 1 costs; one query for the couplings of the page's
    records, none per row."""
    per_page = per_page or PER_PAGE
    erp_table = ErpTable(mapping.erp_table, mapping.table_filter)
    model = erp_table.model
    sorts = erp_sorts(mapping)
    if sort not in [s for s, _label in sorts]:
        sort = sorts[0][0]
    try:
        qs: QuerySet[Any] = erp_table.scope()
    except MappingBroken as exc:
        return ErpPage([], 0, sort, sorts, True, False, False, problem=str(exc))
    search = search.strip()
    registry = TABLES_BY_MODEL.get(model)
    if search and registry is not None:
        condition = Q()
        for name in registry.search_fields:
            condition |= Q(**{f"{name}__icontains": search})
        qs = qs.filter(condition)
    if state in STATES:
        qs = qs.filter(state_condition(erp_table.label, state))
    count = erp_count(qs)
    count_kind = "exact" if count.exact else "estimate"
    if not count.exact and connections[qs.db].vendor != "postgresql":
        count_kind = "more"

    keys = erp_selectors.column_ordering(model, sort)
    sorted_by = model._meta.get_field(sort.lstrip("-")) if sort.lstrip("-") != "pk" else None
    if isinstance(sorted_by, models.ForeignKey):
        # The cursor and the row show the related record's key: loaded with the page.
        qs = qs.select_related(sorted_by.name)

    rows, first, has_next, has_previous = _erp_rows(
        qs, keys=keys, sort=sort, after=after, before=before, last=last, per_page=per_page
    )
    couplings = {
        c.erp_uuid: c
        for c in CrmCoupling.objects.filter(
            erp_table=erp_table.label, erp_uuid__in=[r.uuid for r in rows]
        )
    }
    result = []
    for record in rows:
        coupling = couplings.get(record.uuid)
        result.append(
            ErpRow(
                record=record,
                label=str(record),
                url=erp_url(record),
                coupling=coupling,
                crm_url=crm_url(coupling.crm_entity, coupling.crm_id)
                if coupling is not None and crm_url is not None
                else "",
                sort_value=sort_value(record, sort),
            )
        )

    def cursor(record: Any, *, forward: bool) -> str:
        values = pagination.row_values(record, keys)
        return pagination.cursor_encode(sort=sort, values=values, forward=forward)

    return ErpPage(
        rows=result,
        count=count.value,
        sort=sort,
        sorts=sorts,
        first=first,
        has_next=has_next,
        has_previous=has_previous,
        next_cursor=cursor(rows[-1], forward=True) if rows else "",
        previous_cursor=cursor(rows[0], forward=False) if rows else "",
        count_kind=count_kind,
    )


# -- the CRM side ------------------------------------------------------------------------------


def crm_record_urls() -> Callable[[str, uuid.UUID], str]:
    """The CRM's web address of a row (Dataverse's deep link, the adapter's record_url), as a
    function that reads the connection once: a page of rows must not read (and decrypt) the
    saved connection once per row."""
    connection = crm_connection_settings()
    if connection is None:
        return lambda entity, row_id: ""
    base = connection.base_url

    def url(entity: str, row_id: uuid.UUID) -> str:
        return f"{base}/main.aspx?pagetype=entityrecord&etn={entity}&id={row_id}"

    return url


def crm_record_url(entity: str, row_id: uuid.UUID) -> str:
    """The CRM's web address of one row."""
    return crm_record_urls()(entity, row_id)


@dataclass
class CrmItem:
    id: uuid.UUID
    name: str
    detail: str
    modified_on: str
    coupling: CrmCoupling | None
    erp_label: str = ""
    erp_url: str = ""
    crm_url: str = ""

    @property
    def state(self) -> str:
        return coupling_state(self.coupling)

    @property
    def state_label(self) -> str:
        return state_label(self.state)


@dataclass
class CrmPage:
    rows: list[CrmItem] = field(default_factory=list)
    next_link: str = ""
    problem: str = ""


def _crm_query(mapping: IntegrationTableMapping, search: str) -> tuple[list[str], str]:
    name = crm_name_column(mapping.crm_entity)
    detail = CRM_DETAIL_COLUMNS.get(mapping.crm_entity)
    select = [mapping.crm_uid_field, name, "modifiedon", *([detail] if detail else [])]
    conditions = []
    if mapping.integration_table_filter:
        conditions.append(f"({mapping.integration_table_filter})")
    search = search.strip()
    if search:
        text = odata_literal(search)
        alternatives = [f"contains({name},{text})"]
        if detail:
            alternatives.append(f"contains({detail},{text})")
        conditions.append("(" + " or ".join(alternatives) + ")")
    return select, " and ".join(conditions)


def _items(mapping: IntegrationTableMapping, raw_rows: list[dict[str, Any]]) -> list[CrmItem]:
    name = crm_name_column(mapping.crm_entity)
    detail = CRM_DETAIL_COLUMNS.get(mapping.crm_entity)
    ids = []
    for raw in raw_rows:
        try:
            ids.append(uuid.UUID(str(raw.get(mapping.crm_uid_field))))
        except ValueError:
            continue
    couplings = {
        c.crm_id: c
        for c in CrmCoupling.objects.filter(crm_entity=mapping.crm_entity, crm_id__in=ids)
    }
    records: dict[tuple[str, uuid.UUID], Any] = {}
    tables: dict[str, list[uuid.UUID]] = {}
    for c in couplings.values():
        tables.setdefault(c.erp_table, []).append(c.erp_uuid)
    for table, uuids in tables.items():
        try:
            for key, obj in selectors.erp_records(table, uuids).items():
                records[(table, key)] = obj
        except LookupError:
            continue
    items = []
    record_url = crm_record_urls()
    for raw, row_id in zip(raw_rows, ids, strict=False):
        coupling = couplings.get(row_id)
        record = records.get((coupling.erp_table, coupling.erp_uuid)) if coupling else None
        items.append(
            CrmItem(
                id=row_id,
                name=str(raw.get(name) or ""),
                detail=str(raw.get(detail) or "") if detail else "",
                modified_on=str(raw.get("modifiedon") or "")[:19].replace("T", " "),
                coupling=coupling,
                erp_label=str(record) if record is not None else "",
                erp_url=erp_url(record) if record is not None else "",
                crm_url=record_url(mapping.crm_entity, row_id),
            )
        )
    return items


CRM_SORTS = ("name", "-name", "-modifiedon")


def crm_page(
    mapping: IntegrationTableMapping,
    *,
    search: str = "",
    sort: str = "",
    link: str = "",
    per_page: int | None = None,
) -> CrmPage:
    """One page of the mapping's CRM rows in scope, read live: the first page of the query,
    or the page behind a nextLink the previous page gave (checked to point at the CRM's own
    Web API and this table, so a crafted link cannot send our token elsewhere)."""
    try:
        client = crm_client()
        if link:
            root = f"{client.settings.base_url}/api/data/"
            if not link.startswith(root) or f"/{mapping.crm_entity_set}" not in link:
                return CrmPage(problem=_("That page link is not one of the CRM's."))
            page = client.get_page(link, page_size=per_page or CRM_PER_PAGE)
        else:
            select, expression = _crm_query(mapping, search)
            name = crm_name_column(mapping.crm_entity)
            column, down = (sort.lstrip("-"), sort.startswith("-"))
            order = {"name": name, "modifiedon": "modifiedon"}.get(column, name)
            page = client.get_page(
                mapping.crm_entity_set,
                select=select,
                filter=expression or None,
                orderby=f"{order} {'desc' if down else 'asc'},{mapping.crm_uid_field} asc",
                page_size=per_page or CRM_PER_PAGE,
            )
    except CrmReadProblem as exc:
        return CrmPage(problem=exc.message)
    except dv.DataverseError as exc:
        return CrmPage(problem=crm_problem(exc).message)
    return CrmPage(rows=_items(mapping, page.rows), next_link=page.next_link or "")


# How many CRM page trails (one per search and sort a person paged through) a session keeps.
CRM_TRAILS_KEPT = 5
CRM_TRAIL_PAGES = 200
CRM_TRAILS_SESSION_KEY = "coupling_crm_trails"


@dataclass(frozen=True)
class CrmTrailPage:
    """Where the CRM side is: page `number` (1-based) of the trail `trail`, read by `link`
    ("" for the first page)."""

    trail: str
    number: int
    link: str


def crm_trail_page(
    session: Any, *, mapping: IntegrationTableMapping, trail: str, number: str, query: str
) -> CrmTrailPage:
    """The page the CRM side shows. Dataverse pages forward only (each page's nextLink holds
    the paging cookie of the next), so the session keeps the links of the pages a person has
    seen, per trail: "Previous" and "First" are pages of the trail read again by their
    links. A trail belongs to one mapping, search and sort (`query`); an unknown or expired
    trail, or a page not reached yet, is the first page of a new trail."""
    trails = session.get(CRM_TRAILS_SESSION_KEY) or {}
    known = trails.get(trail) if isinstance(trails, dict) else None
    wanted = int(number) if number.isascii() and number.isdigit() else 1
    if (
        isinstance(known, dict)
        and known.get("mapping") == mapping.pk
        and known.get("query") == query
        and 1 <= wanted <= len(known.get("links") or ()) + 1
    ):
        link = str(known["links"][wanted - 2]) if wanted > 1 else ""
        return CrmTrailPage(trail=trail, number=wanted, link=link)
    return CrmTrailPage(trail=uuid.uuid4().hex[:16], number=1, link="")


def crm_trail_remember(
    session: Any,
    *,
    mapping: IntegrationTableMapping,
    at: CrmTrailPage,
    query: str,
    next_link: str,
) -> None:
    """Keep the link of the page after `at` (the pages beyond it are forgotten: the CRM may
    have changed since), and only the newest CRM_TRAILS_KEPT trails."""
    trails = session.get(CRM_TRAILS_SESSION_KEY)
    trails = dict(trails) if isinstance(trails, dict) else {}
    known = trails.pop(at.trail, None)
    links = list(known.get("links") or ()) if isinstance(known, dict) else []
    links = links[: at.number - 1]
    if next_link and len(links) < CRM_TRAIL_PAGES:
        links.append(next_link)
    trails[at.trail] = {"mapping": mapping.pk, "query": query, "links": links}
    # dicts keep insertion order: the trail just used is the newest.
    session[CRM_TRAILS_SESSION_KEY] = dict(list(trails.items())[-CRM_TRAILS_KEPT:])


def crm_search(mapping: IntegrationTableMapping, search: str) -> list[CrmItem]:
    """The first rows in scope whose name (or detail column) contains `search`, for the
    coupling dialog's search-as-you-type. Raises CrmReadProblem."""
    client = crm_client()
    select, expression = _crm_query(mapping, search)
    try:
        page = client.get_page(
            mapping.crm_entity_set,
            select=select,
            filter=expression or None,
            orderby=f"{crm_name_column(mapping.crm_entity)} asc",
            top=SEARCH_LIMIT,
        )
    except dv.DataverseError as exc:
        raise crm_problem(exc) from exc
    return _items(mapping, page.rows)


def crm_rows(mapping: IntegrationTableMapping, ids: list[uuid.UUID]) -> dict[uuid.UUID, CrmItem]:
    """Rows by id (the candidates of a match-based run), whatever the filter."""
    if not ids:
        return {}
    client = crm_client()
    select, _expression = _crm_query(mapping, "")
    expression = " or ".join(f"{mapping.crm_uid_field} eq {i}" for i in ids[:50])
    try:
        page = client.get_page(mapping.crm_entity_set, select=select, filter=expression)
    except dv.DataverseError as exc:
        raise crm_problem(exc) from exc
    return {item.id: item for item in _items(mapping, page.rows)}


def model_of(mapping: IntegrationTableMapping) -> type[models.Model]:
    return apps.get_model(mapping.erp_table)
