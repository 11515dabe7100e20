"""django-filter FilterSets for the REST API, one per ERP table, derived from `erp.tables`.

Foreign keys are filtered by the related record's code or number (`?salesperson=JO`), the
same keys the API shows, rather than by database ids. `_none` selects records whose field is
empty (no salesperson, not blocked), like the list pages.
"""

import datetime
from collections.abc import Callable
from typing import Any

import django_filters
from django import forms
from django.db import models
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from erp.tables import TABLES, Table, key_field

EMPTY = "_none"
# Tables with an address also filter by city (exact, case-insensitive).
ADDRESS_FILTERS = ("city", "post_code")
# Filters the API offers beyond the list pages' (readers of one item's prices, of one
# company's people).
EXTRA_FILTERS: dict[str, tuple[str, ...]] = {
    "sales-prices": ("item",),
    "contacts": ("company",),
    "customers": ("payment_terms", "shipment_method", "shipping_agent", "primary_contact"),
    # Readers of one customer's documents, and the integration finding an order by the CRM's
    # reference or an invoice by its order.
    "sales-orders": ("customer", "your_reference", "external_document_no"),
    "sales-order-lines": ("order", "item", "resource"),
    "posted-sales-invoices": ("customer", "order", "order_no", "your_reference"),
    "posted-sales-invoice-lines": ("invoice", "item", "resource"),
}


class StorableIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date and time, handed to the database in UTC. Python accepts offsets up to
    ±23:59, PostgreSQL only up to ±15:59 ("time zone displacement out of range"); and
    9999-12-31T23:00-05:00 or 0001-01-01T00:00+01:00 fall outside the years Python can hold in
    UTC (OverflowError deep in the database adapter). Either was a 500."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError as exc:
            raise forms.ValidationError(
                _("Enter a date and time between years 1 and 9999 in UTC."), code="invalid"
            ) from exc


class StorableIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = StorableIsoDateTimeField


def _filter_empty_aware(name: str, lookup: str) -> Callable[[QuerySet, str, str], QuerySet]:
    def method(queryset: QuerySet, _field_name: str, value: str) -> QuerySet:
        if value == EMPTY:
            fld = queryset.model._meta.get_field(name)
            if isinstance(fld, models.ForeignKey):
                return queryset.filter(**{f"{name}__isnull": True})
            return queryset.filter(**{name: ""})
        return queryset.filter(**{lookup: value})

    return method


def _declared_filters(table: Table) -> dict[str, django_filters.Filter]:
    declared: dict[str, django_filters.Filter] = {}
    names = [*table.filters, *EXTRA_FILTERS.get(table.slug, ())]
    field_names = {f.name for f in table.model._meta.get_fields()}
    names += [n for n in ADDRESS_FILTERS if n in field_names and n not in names]
    for name in names:
        fld = table.field(name)
        label = fld.verbose_name
        if isinstance(fld, models.BooleanField):
            declared[name] = django_filters.BooleanFilter(field_name=name, label=label)
        elif isinstance(fld, models.ForeignKey):
            key = key_field(fld.related_model)
            declared[name] = django_filters.CharFilter(
                label=label,
                method=_filter_empty_aware(name, f"{name}__{key}__iexact"),
                help_text=_("Code or number of the related record; _none for blank."),
            )
        elif fld.choices:
            declared[name] = django_filters.CharFilter(
                label=label,
                method=_filter_empty_aware(name, name),
                help_text=_("One of %(values)s; _none for blank.")
                % {"values": ", ".join(str(v) for v, _label in fld.choices if v)},
            )
        else:
            declared[name] = django_filters.CharFilter(
                field_name=name, lookup_expr="iexact", label=label
            )
    # Incremental readers ask for what changed since their last run.
    declared["modified_at__gte"] = StorableIsoDateTimeFilter(
        field_name="modified_at", lookup_expr="gte", label=_("modified at or after")
    )
    declared["modified_at__lt"] = StorableIsoDateTimeFilter(
        field_name="modified_at", lookup_expr="lt", label=_("modified before")
    )
    declared["uuid"] = django_filters.UUIDFilter(field_name="uuid", label=_("UUID"))
    return declared


def filterset_for(table: Table) -> type[django_filters.FilterSet]:
    meta = type("Meta", (), {"model": table.model, "fields": []})
    name = f"{table.model.__name__}FilterSet"
    return type(name, (django_filters.FilterSet,), {"Meta": meta, **_declared_filters(table)})


FILTERSETS: dict[str, type[django_filters.FilterSet]] = {t.slug: filterset_for(t) for t in TABLES}
