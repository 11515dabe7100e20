"""Reads for the ERP pages: list queries, filters, references that block a delete, counts."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connections, models
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from erp import pagination
from erp.pagination import SortKey
from erp.tables import BIG_TABLES, TABLES, TABLES_BY_MODEL, Table, key_field

# Query-string value that selects records whose field is empty (a blank choice or no FK).
EMPTY = "_none"
# The largest id a BigAutoField holds; a bigger number cannot name a record.
MAX_ID = 2**63 - 1
BOOLEAN_VALUES = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass(frozen=True)
class FilterOption:
    value: str
    label: str


@dataclass(frozen=True)
class ListFilter:
    name: str
    label: str
    # No options means a free-text filter (exact match), e.g. a country code.
    options: tuple[FilterOption, ...]
    selected: str


@dataclass(frozen=True)
class Reference:
    """Records of one table that point at a record and keep it from being deleted."""

    table_name: str
    count: int
    examples: tuple[str, ...]
    # The referencing table's list, filtered to these records, when it has such a filter.
    url: str = ""


def _related_label_fields(fk: models.ForeignKey) -> list[str]:
    return [f"{fk.name}__{key_field(fk.related_model)}"]


def sortable_columns(*, table: Table) -> tuple[str, ...]:
    return table.columns


def column_ordering(model: type[models.Model], sort: str) -> tuple[SortKey, ...]:
    """The keys of a sort by one column of `model` (`name`, `-city`; a foreign key sorts by
    the related table's key), the pk last."""
    name = sort.lstrip("-")
    fld = model._meta.get_field(name)
    expression = (
        f"{name}__{key_field(fld.related_model)}" if isinstance(fld, models.ForeignKey) else name
    )
    keys = [pagination.sort_key(model, expression, descending=sort.startswith("-"))]
    return pagination.ordering_with_pk(model, keys)


def table_ordering(*, table: Table, sort: str) -> tuple[str, tuple[SortKey, ...]]:
    """The sort a list page uses (`sort` if it names a column, else "": the table's default)
    and its keys, the pk last: every row has one place, so paging neither repeats nor skips."""
    name = sort.lstrip("-")
    model = table.model
    if name and name in sortable_columns(table=table):
        return sort, column_ordering(model, sort)
    keys = [
        pagination.sort_key(model, path.lstrip("-"), descending=path.startswith("-"))
        for path in (model._meta.ordering or ())
        if isinstance(path, str)
    ]
    return "", pagination.ordering_with_pk(model, keys)


def table_list(
    *,
    table: Table,
    search: str = "",
    sort: str = "",
    filters: dict[str, str] | None = None,
    conditions: Sequence[Q] = (),
    fields: Sequence[str] = (),
) -> QuerySet:
    """The rows of a list page: only the displayed columns (and `fields`), related keys in the
    same query. `conditions` narrow it further (the filters of extension columns,
    `erp.extensions`): part of the query, so paging and counting see them."""
    qs = table.model.objects.all()
    fks = [f for f in (table.field(c) for c in table.columns) if isinstance(f, models.ForeignKey)]
    if fks:
        qs = qs.select_related(*(f.name for f in fks))
    only = [
        "pk",
        *(c for c in table.columns if not isinstance(table.field(c), models.ForeignKey)),
        *fields,
    ]
    for fk in fks:
        only += [fk.name, *_related_label_fields(fk)]
    qs = qs.only(*only)

    search = search.strip()
    if search:
        condition = Q()
        for name in table.search_fields:
            condition |= Q(**{f"{name}__icontains": search})
        qs = qs.filter(condition)

    qs = qs.filter(_filter_condition(table=table, filters=filters or {}))
    for condition in conditions:
        qs = qs.filter(condition)
    _sort, keys = table_ordering(table=table, sort=sort)
    return qs.order_by(*(key.order_by() for key in keys))


@dataclass(frozen=True)
class ListCount:
    """How many rows a list holds: exact, or PostgreSQL's planner estimate for big lists."""

    value: int
    exact: bool


@dataclass(frozen=True)
class ListPage:
    """One page of a list, read by keyset. Links carry cursors: `previous_cursor` reads the
    page before the first row, `next_cursor` the page after the last one."""

    rows: list[models.Model]
    count: ListCount
    has_previous: bool
    has_next: bool
    previous_cursor: str
    next_cursor: str
    # Position of the first row (1-based) where it is known without counting: the first
    # page, a page by number, the last page of an exactly counted list.
    start_index: int | None

    @property
    def end_index(self) -> int | None:
        return None if self.start_index is None else self.start_index + len(self.rows) - 1


# Up to this many rows a list is counted exactly (counting stops one row after it); a bigger
# list on PostgreSQL shows the planner's estimate, so that no page reads a million rows just
# to count them.
EXACT_COUNT_LIMIT = 10_000
# How long an estimate is reused for the same list (same table, search and filters).
COUNT_CACHE_SECONDS = 60


def _rounded(value: int) -> int:
    """An estimate to two significant digits (999,987 -> 1,000,000): it is not exact."""
    if value < 100:
        return value
    digits = len(str(value)) - 2
    return round(value, -digits)


def _planner_estimate(*, rows: QuerySet) -> int:
    connection = connections[rows.db]
    with connection.cursor() as cursor:
        if not rows.query.has_filters():
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [connection.ops.quote_name(rows.model._meta.db_table)],
            )
            found = cursor.fetchone()
            # -1: never vacuumed or analyzed; ask the planner instead.
            if found is not None and found[0] >= 0:
                return int(found[0])
        sql, params = rows.order_by().values("pk").query.sql_with_params()
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def table_count(*, rows: QuerySet) -> ListCount:
    """The number of rows of a list. Exact on SQLite and up to EXACT_COUNT_LIMIT; above it, on
    PostgreSQL, the planner's estimate (pg_class.reltuples for a whole table, EXPLAIN for a
    search or a filter), kept for COUNT_CACHE_SECONDS."""
    if connections[rows.db].vendor != "postgresql":
        return ListCount(rows.count(), exact=True)
    sql, params = rows.order_by().values("pk").query.sql_with_params()
    digest = hashlib.sha256(f"{sql}\x00{params!r}".encode()).hexdigest()
    cache_key = f"erp-list-count:{digest}"
    cached = cache.get(cache_key)
    if isinstance(cached, int):
        return ListCount(cached, exact=False)
    limit = EXACT_COUNT_LIMIT
    bounded = rows.order_by().values("pk")[: limit + 1].count()
    if bounded <= limit:
        return ListCount(bounded, exact=True)
    estimate = _rounded(max(_planner_estimate(rows=rows), limit + 1))
    cache.set(cache_key, estimate, COUNT_CACHE_SECONDS)
    return ListCount(estimate, exact=False)


def _cursor(*, sort: str, keys: tuple[SortKey, ...], row: models.Model, forward: bool) -> str:
    values = pagination.row_values(row, keys)
    return pagination.cursor_encode(sort=sort, values=values, forward=forward)


def _page(
    *,
    rows: list[models.Model],
    sort: str,
    keys: tuple[SortKey, ...],
    has_previous: bool,
    has_next: bool,
    count: ListCount,
    start_index: int | None,
) -> ListPage:
    return ListPage(
        rows=rows,
        count=count,
        has_previous=has_previous and bool(rows),
        has_next=has_next and bool(rows),
        previous_cursor=_cursor(sort=sort, keys=keys, row=rows[0], forward=False)
        if has_previous and rows
        else "",
        next_cursor=_cursor(sort=sort, keys=keys, row=rows[-1], forward=True)
        if has_next and rows
        else "",
        start_index=start_index if rows else None,
    )


def table_page(
    *,
    table: Table,
    search: str = "",
    sort: str = "",
    filters: dict[str, str] | None = None,
    per_page: int = 50,
    cursor: str = "",
    page: str = "",
    conditions: Sequence[Q] = (),
    fields: Sequence[str] = (),
) -> ListPage:
    """One page of a list page: the first page; the page after or before a `cursor`'s row;
    `page="last"`, read as the first page of the reversed order; or `page=<number>`, the
    old way by OFFSET (links no longer lead there, bookmarks still do).

    A cursor that is malformed or belongs to another sort gives the first page, and so does a
    page number that is not one; one past the end gives the last page."""
    sort, keys = table_ordering(table=table, sort=sort)
    rows = table_list(
        table=table,
        search=search,
        sort=sort,
        filters=filters,
        conditions=conditions,
        fields=fields,
    )
    page = (page or "").strip()
    if page == "last":
        return _last_page(rows=rows, sort=sort, keys=keys, per_page=per_page)
    if cursor:
        decoded = pagination.cursor_decode(cursor, sort=sort, keys=keys)
        if decoded is not None:
            return _cursor_page(rows=rows, sort=sort, keys=keys, per_page=per_page, at=decoded)
    elif page.isascii() and page.isdigit() and 1 < int(page) <= MAX_PAGE_NUMBER:
        return _numbered_page(rows=rows, sort=sort, keys=keys, per_page=per_page, number=int(page))
    return _first_page(rows=rows, sort=sort, keys=keys, per_page=per_page)


# Beyond this page number, ?page=N is read as the last page (OFFSET would have to skip more
# rows than any ERP table holds).
MAX_PAGE_NUMBER = 10**9


class _SeekReader:
    """Reads a page in the list's order from the indexes of its sort keys: the rows after (or
    before) a boundary row by the seek condition, from the start (or the end) without one."""

    def __init__(self, *, rows: QuerySet, keys: tuple[SortKey, ...]) -> None:
        self.rows = rows
        self.keys = keys

    def read(self, *, after: Sequence[Any] | None, forward: bool, limit: int) -> list[Any]:
        keys = self.keys if forward else pagination.reverse(self.keys)
        qs = self.rows if forward else self.rows.order_by(*(k.order_by() for k in keys))
        if after is not None:
            qs = qs.filter(pagination.seek_condition(keys, after))
        return list(qs[:limit])


# A list sorted by a foreign key whose table holds at most this many rows is read group by
# group; with more, walking the groups (one query each) could cost more than the join's sort.
MAX_SORT_GROUPS = 100


class _GroupReader:
    """Reads a list sorted by a foreign-key column (`salesperson__code`, then the pk) one
    related record at a time: the groups in the related key's order come from the small
    related table, and each group's rows in pk order from the (fk, id) index
    (`erp.models.group_sort_indexes`). ORDER BY the joined code instead sorts the whole table
    on every page (450 to 650 ms at 1,000,000 customers on PostgreSQL). The rows and their
    order are the same as the join's, NULLs last ascending and first descending as everywhere
    (`erp.pagination`), so cursors are the same too."""

    def __init__(
        self,
        *,
        rows: QuerySet,
        keys: tuple[SortKey, ...],
        fk: models.ForeignKey,
        groups: list[tuple[Any, Any]],
    ) -> None:
        self.rows = rows
        self.keys = keys
        self.fk = fk
        # (related pk, related key) in the list's order; (None, None) is the group of rows
        # without a related record.
        self.groups = groups
        self.fallback = _SeekReader(rows=rows, keys=keys)

    @classmethod
    def for_sort(cls, *, rows: QuerySet, keys: tuple[SortKey, ...]) -> "_GroupReader | None":
        """The reader when the list's first key is a foreign key's unique key on a small table
        and the pk is the only other key; else None (the seek reader serves it)."""
        if len(keys) != 2 or keys[-1].path != "pk":
            return None
        first = keys[0]
        parts = first.path.split("__")
        if len(parts) != 2:
            return None
        fld = rows.model._meta.get_field(parts[0])
        if not isinstance(fld, models.ForeignKey):
            return None
        related = fld.related_model
        if related in BIG_TABLES:
            return None
        target = related._meta.pk if parts[1] == "pk" else related._meta.get_field(parts[1])
        if not getattr(target, "unique", False):
            # Groups are one related record each only when its key is unique.
            return None
        order = f"-{parts[1]}" if first.descending else parts[1]
        found = list(
            related._default_manager.using(rows.db)
            .order_by(order)
            .values_list("pk", parts[1])[: MAX_SORT_GROUPS + 1]
        )
        if len(found) > MAX_SORT_GROUPS:
            return None
        if fld.null:
            # The rows without one: after every group ascending, before every group descending.
            found = [(None, None), *found] if first.descending else [*found, (None, None)]
        return cls(rows=rows, keys=keys, fk=fld, groups=found)

    def read(self, *, after: Sequence[Any] | None, forward: bool, limit: int) -> list[Any]:
        groups = self.groups if forward else self.groups[::-1]
        pk_descending = self.keys[-1].descending == forward
        start, after_pk = 0, None
        if after is not None:
            key, after_pk = after[0], after[-1]
            start = next((i for i, (_pk, k) in enumerate(groups) if k == key), -1)
            if start < 0:
                # The boundary's related record is gone (or renamed) since the link was made:
                # where its rows belong now only the database's collation can say.
                return self.fallback.read(after=after, forward=forward, limit=limit)
        found: list[Any] = []
        for index in range(start, len(groups)):
            related_pk = groups[index][0]
            if related_pk is None:
                qs = self.rows.filter(**{f"{self.fk.name}__isnull": True})
            else:
                qs = self.rows.filter(**{self.fk.attname: related_pk})
            if index == start and after_pk is not None:
                qs = qs.filter(**{f"pk__{'lt' if pk_descending else 'gt'}": after_pk})
            qs = qs.order_by("-pk" if pk_descending else "pk")
            found += list(qs[: limit - len(found)])
            if len(found) >= limit:
                break
        return found


def _reader(*, rows: QuerySet, keys: tuple[SortKey, ...]) -> "_SeekReader | _GroupReader":
    return _GroupReader.for_sort(rows=rows, keys=keys) or _SeekReader(rows=rows, keys=keys)


def keyset_rows(
    *,
    rows: QuerySet,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    forward: bool,
    limit: int,
) -> list[Any]:
    """Up to `limit` rows of `rows` in the order of `keys` (`forward`) or the reverse, after
    the row whose key values are `after` (from the start without one): how any keyset page
    of ERP records is read, the list pages' and others' (the coupling pages)."""
    return _reader(rows=rows, keys=keys).read(after=after, forward=forward, limit=limit)


def _first_page(*, rows: QuerySet, sort: str, keys: tuple[SortKey, ...], per_page: int) -> ListPage:
    head = _reader(rows=rows, keys=keys).read(after=None, forward=True, limit=per_page + 1)
    has_next = len(head) > per_page
    # A first page that holds every row needs no COUNT query: with a search that matches a
    # handful of rows, the count would scan the table a second time.
    count = table_count(rows=rows) if has_next else ListCount(len(head), exact=True)
    return _page(
        rows=head[:per_page],
        sort=sort,
        keys=keys,
        has_previous=False,
        has_next=has_next,
        count=count,
        start_index=1,
    )


def _cursor_page(
    *,
    rows: QuerySet,
    sort: str,
    keys: tuple[SortKey, ...],
    per_page: int,
    at: pagination.Cursor,
) -> ListPage:
    reader = _reader(rows=rows, keys=keys)
    if at.forward:
        found = reader.read(after=at.values, forward=True, limit=per_page + 1)
        if not found:
            # The rows after it were deleted since the link was made.
            return _last_page(rows=rows, sort=sort, keys=keys, per_page=per_page)
        return _page(
            rows=found[:per_page],
            sort=sort,
            keys=keys,
            has_previous=True,
            has_next=len(found) > per_page,
            count=table_count(rows=rows),
            start_index=None,
        )
    found = reader.read(after=at.values, forward=False, limit=per_page + 1)
    if len(found) <= per_page:
        # Nothing before this page: it is the first page, shown whole.
        return _first_page(rows=rows, sort=sort, keys=keys, per_page=per_page)
    return _page(
        rows=found[:per_page][::-1],
        sort=sort,
        keys=keys,
        has_previous=True,
        has_next=True,
        count=table_count(rows=rows),
        start_index=None,
    )


def _last_page(*, rows: QuerySet, sort: str, keys: tuple[SortKey, ...], per_page: int) -> ListPage:
    """The end of the reversed order. With an exact count it holds what is left after full
    pages, as walking forward from the first page would end; with an estimate, a full page."""
    count = table_count(rows=rows)
    size = (count.value % per_page or per_page) if count.exact else per_page
    found = _reader(rows=rows, keys=keys).read(after=None, forward=False, limit=size + 1)
    shown = found[:size][::-1]
    return _page(
        rows=shown,
        sort=sort,
        keys=keys,
        has_previous=len(found) > size,
        has_next=False,
        count=count,
        start_index=count.value - len(shown) + 1 if count.exact else None,
    )


def _numbered_page(
    *, rows: QuerySet, sort: str, keys: tuple[SortKey, ...], per_page: int, number: int
) -> ListPage:
    # OFFSET makes the database walk every skipped row; doing it on the ordered table alone
    # and then loading just the page's rows with their joins (a "deferred join") keeps the
    # walk as light as it can be.
    offset = (number - 1) * per_page
    pks = list(rows.values_list("pk", flat=True)[offset : offset + per_page + 1])
    if not pks:
        return _last_page(rows=rows, sort=sort, keys=keys, per_page=per_page)
    loaded = {row.pk: row for row in rows.order_by().filter(pk__in=pks[:per_page])}
    return _page(
        rows=[loaded[pk] for pk in pks[:per_page] if pk in loaded],
        sort=sort,
        keys=keys,
        has_previous=True,
        has_next=len(pks) > per_page,
        count=table_count(rows=rows),
        start_index=offset + 1,
    )


def _filter_condition(*, table: Table, filters: dict[str, str]) -> Q:
    condition = Q()
    for name in table.filters:
        value = (filters.get(name) or "").strip()
        if not value:
            continue
        fld = table.field(name)
        if isinstance(fld, models.BooleanField):
            if value.lower() in BOOLEAN_VALUES:
                condition &= Q(**{name: BOOLEAN_VALUES[value.lower()]})
        elif isinstance(fld, models.ForeignKey):
            if value == EMPTY:
                condition &= Q(**{f"{name}__isnull": True})
            elif value.isascii() and value.isdigit() and int(value) <= MAX_ID:
                # isascii: "²" is a digit to isdigit() but not to int().
                condition &= Q(**{f"{name}_id": int(value)})
            else:
                # An unknown value must narrow the list, not silently show everything.
                condition &= Q(pk__in=[])
        elif fld.choices:
            condition &= Q(**{name: "" if value == EMPTY else value})
        else:
            condition &= Q(**{f"{name}__iexact": value})
    return condition


def table_filters(*, table: Table, filters: dict[str, str]) -> list[ListFilter]:
    """The filter controls of a list page with their options and current values."""
    result = []
    for name in table.filters:
        fld = table.field(name)
        options: list[FilterOption] = []
        if isinstance(fld, models.BooleanField):
            options = [FilterOption("true", str(_("Yes"))), FilterOption("false", str(_("No")))]
        elif isinstance(fld, models.ForeignKey):
            related = fld.related_model
            key = key_field(related)
            options = [
                FilterOption(str(obj.pk), str(obj))
                for obj in related._default_manager.order_by(key)[:500]
            ]
            if fld.null:
                options.insert(0, FilterOption(EMPTY, str(_("(blank)"))))
        elif fld.choices:
            options = [
                FilterOption(EMPTY if value == "" else str(value), str(label))
                for value, label in fld.choices
            ]
        result.append(
            ListFilter(
                name=name,
                label=str(fld.verbose_name),
                options=tuple(options),
                selected=(filters.get(name) or "").strip(),
            )
        )
    return result


def record_references(*, obj: models.Model, limit: int = 5) -> list[Reference]:
    """Records that protect `obj` from deletion, counted per table, with a few examples."""
    references = []
    for rel in obj._meta.related_objects:
        if not rel.one_to_many or rel.on_delete is not models.PROTECT:
            continue
        qs = rel.related_model._base_manager.filter(**{rel.field.name: obj})
        count = qs.count()
        if not count:
            continue
        key = key_field(rel.related_model)
        if key == "pk":
            examples = tuple(str(o) for o in qs.select_related().order_by("pk")[:limit])
        else:
            examples = tuple(str(v) for v in qs.order_by(key).values_list(key, flat=True)[:limit])
        table = TABLES_BY_MODEL.get(rel.related_model)
        url = ""
        if table is not None and rel.field.name in table.filters:
            list_url = reverse(f"erp:{table.slug}-list")
            url = f"{list_url}?{urlencode({rel.field.name: obj.pk})}"
        references.append(
            Reference(
                table_name=str(rel.related_model._meta.verbose_name_plural),
                count=count,
                examples=examples,
                url=url,
            )
        )
    return references


def table_counts() -> list[tuple[Table, int]]:
    return [(table, table.model._default_manager.count()) for table in TABLES]


def record_fields(*, table: Table, obj: models.Model) -> list[tuple[str, Any, models.Field]]:
    """The fields shown on a read-only card: label, value and the field."""
    names = [*table.form_fields, "uuid", "modified_at"]
    return [(str(table.field(n).verbose_name), getattr(obj, n), table.field(n)) for n in names]
