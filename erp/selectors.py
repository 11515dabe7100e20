"""Reads for the ERP pages: list queries, filters, references that block a delete, counts."""

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import models
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from erp.tables import TABLES, TABLES_BY_MODEL, Table, key_field

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


def _sort_expression(*, table: Table, name: str) -> str:
    fld = table.field(name)
    if isinstance(fld, models.ForeignKey):
        return f"{name}__{key_field(fld.related_model)}"
    return name


def sortable_columns(*, table: Table) -> tuple[str, ...]:
    return table.columns


def table_list(
    *, table: Table, search: str = "", sort: str = "", filters: dict[str, str] | None = None
) -> QuerySet:
    """The rows of a list page: only the displayed columns, related keys in the same query."""
    qs = table.model.objects.all()
    fks = [f for f in (table.field(c) for c in table.columns) if isinstance(f, models.ForeignKey)]
    if fks:
        qs = qs.select_related(*(f.name for f in fks))
    only = ["pk", *(c for c in table.columns if not isinstance(table.field(c), models.ForeignKey))]
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

    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name in sortable_columns(table=table):
        expression = _sort_expression(table=table, name=name)
        # The pk breaks ties so that paging through equal values neither repeats nor skips rows.
        order = ("-" if descending else "", "-pk" if descending else "pk")
        qs = qs.order_by(f"{order[0]}{expression}", order[1])
    else:
        qs = qs.order_by(*(table.model._meta.ordering or ()), "pk")
    return qs


def table_page(*, rows: QuerySet, number: str | None, per_page: int) -> Page:
    """One page of a list. A first page that holds every row needs no COUNT query: with a
    search that matches a handful of rows, the count would scan the table a second time."""
    paginator = Paginator(rows, per_page)
    if number in (None, "", "1"):
        head = list(rows[: per_page + 1])
        if len(head) <= per_page:
            paginator.count = len(head)  # count is a cached_property; this fills the cache
        return Page(head[:per_page], 1, paginator)
    page = paginator.get_page(number)
    if page.number == 1:
        return page
    # A deep page: with OFFSET the database walks every skipped row through the joins of the
    # displayed columns. Find the page's keys on the ordered table alone, then load just those
    # rows with their joins (a "deferred join"); keeps page 1,900 of 2,000 cheap on PostgreSQL.
    assert isinstance(page.object_list, QuerySet)  # a slice of `rows`
    keys = list(page.object_list.values_list("pk", flat=True))
    loaded = {row.pk: row for row in rows.order_by().filter(pk__in=keys)}
    page.object_list = [loaded[key] for key in keys if key in loaded]
    return page


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
