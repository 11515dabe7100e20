"""Display helpers for ERP records: one place decides how a value looks in lists and cards."""

from typing import Any

from django import template
from django.db import models
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import roles
from erp.tables import TABLES, TABLES_BY_MODEL, key_field

register = template.Library()


@register.simple_tag
def field_value(obj: models.Model, name: str, link: bool = True) -> SafeString | str:
    fld = obj._meta.get_field(name)
    if isinstance(fld, models.ForeignKey):
        related = getattr(obj, name)
        if related is None:
            return ""
        key = key_field(type(related))
        label = str(getattr(related, key)) if key != "pk" else str(related)
        table = TABLES_BY_MODEL.get(type(related))
        if link and table is not None:
            url = reverse(f"erp:{table.slug}-detail", args=[related.pk])
            return format_html('<a href="{}">{}</a>', url, label)
        return label
    value = getattr(obj, name)
    if isinstance(fld, models.BooleanField):
        return _("Yes") if value else _("No")
    if fld.choices:
        return str(getattr(obj, f"get_{name}_display")())
    if value is None or value == "":
        return ""
    if isinstance(fld, models.DecimalField):
        return number_format(
            value, decimal_pos=fld.decimal_places, use_l10n=True, force_grouping=True
        )
    if isinstance(fld, models.DateTimeField):
        return date_filter(value, "SHORT_DATETIME_FORMAT")
    if isinstance(fld, models.DateField):
        return date_filter(value, "SHORT_DATE_FORMAT")
    if isinstance(fld, models.EmailField) and link:
        return format_html('<a href="mailto:{}">{}</a>', value, value)
    if isinstance(fld, models.URLField) and link:
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', value, value)
    return str(value)


@register.filter
def is_numeric(table: Any, name: str) -> bool:
    return isinstance(table.field(name), models.DecimalField | models.IntegerField)


@register.filter
def is_fk(table: Any, name: str) -> bool:
    return isinstance(table.field(name), models.ForeignKey)


@register.simple_tag
def column_label(table: Any, name: str) -> str:
    return capfirst(str(table.field(name).verbose_name))


@register.simple_tag(takes_context=True)
def sort_link(context: template.Context, name: str) -> str:
    """The sort value a column header links to: ascending first, then descending."""
    current = context.get("sort", "")
    return f"-{name}" if current == name else name


@register.simple_tag(takes_context=True)
def sort_state(context: template.Context, name: str) -> str:
    current = context.get("sort", "")
    if current == name:
        return "ascending"
    if current == f"-{name}":
        return "descending"
    return "none"


@register.simple_tag
def erp_tables() -> tuple[Any, ...]:
    """The registry, for the navigation menu on every page."""
    return TABLES


# Role names are group names stored in the database; these are their translated labels.
ROLE_LABELS = {
    roles.INTEGRATION_ADMIN: gettext_lazy("Integration administrators"),
    roles.SALESPERSON: gettext_lazy("Salespeople"),
    roles.SUPPORT: gettext_lazy("Support"),
}


@register.filter
def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))
