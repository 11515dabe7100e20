"""Display helpers for ERP records: one place decides how a value looks in lists and cards."""

from typing import Any

from django import template
from django.db import models
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import roles
from erp.tables import DOCUMENT_TABLES, TABLES, TABLES_BY_MODEL, key_field

register = template.Library()


def _list_url(model: type[models.Model], cache: dict[Any, Any]) -> str | None:
    """The list URL of a registered table, looked up once per page: card URLs append the pk."""
    if model not in cache:
        table = TABLES_BY_MODEL.get(model)
        cache[model] = reverse(f"erp:{table.slug}-list") if table is not None else ""
    return cache[model] or None


def _display(obj: models.Model, fld: Any, *, link: bool, cache: dict[Any, Any]) -> SafeString | str:
    """How one value looks. `cache` holds lookups shared by all rows of a page."""
    name = fld.name
    if isinstance(fld, models.ForeignKey):
        related = getattr(obj, name)
        if related is None:
            return ""
        key = key_field(type(related))
        label = str(getattr(related, key)) if key != "pk" else str(related)
        base = _list_url(type(related), cache) if link else None
        if base is not None:
            return format_html('<a href="{}{}/">{}</a>', base, related.pk, label)
        return label
    value = getattr(obj, name)
    if isinstance(fld, models.BooleanField):
        return _("Yes") if value else _("No")
    if fld.choices:
        # A plain dict: get_FOO_display() hashes every lazy label of the field on each call.
        if fld not in cache:
            cache[fld] = {k: str(v) for k, v in fld.flatchoices}
        return cache[fld].get(value, str(value))
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


@register.simple_tag
def field_value(obj: models.Model, name: str) -> SafeString | str:
    return _display(obj, obj._meta.get_field(name), link=True, cache={})


@register.simple_tag
def list_rows(table: Any, objects: Any, extra_cells: Any = None) -> list[SafeString]:
    """The table rows of a list page as HTML, built in one pass: a template tag or loop per
    cell costs more than the database query on a 50-row page. `extra_cells` holds, per row,
    the cells of the columns other apps add (erp.extensions), already HTML."""
    cache: dict[Any, Any] = {}
    base = _list_url(table.model, cache)
    columns = [table.field(name) for name in table.columns]
    numeric = [isinstance(f, models.DecimalField | models.IntegerField) for f in columns]
    rows = []
    for index, obj in enumerate(objects):
        key = _display(obj, columns[0], link=False, cache=cache)
        cells = [
            format_html('<td><a class="record-link" href="{}{}/">{}</a></td>', base, obj.pk, key)
        ]
        for fld, num in zip(columns[1:], numeric[1:], strict=True):
            # Lists link to related cards but not to e-mail or web addresses (too busy).
            value = _display(obj, fld, link=isinstance(fld, models.ForeignKey), cache=cache)
            cells.append(format_html('<td class="num">{}</td>' if num else "<td>{}</td>", value))
        if extra_cells:
            cells.extend(conditional_escape(cell) for cell in extra_cells[index])
        rows.append(mark_safe("".join(cells)))  # noqa: S308 - every part went through format_html
    return rows


@register.filter
def is_numeric(table: Any, name: str) -> bool:
    return isinstance(table.field(name), models.DecimalField | models.IntegerField)


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
    """The registry and the sales documents, for the navigation menu on every page."""
    return (*TABLES, *DOCUMENT_TABLES)


# Role names are group names stored in the database; these are their translated labels.
ROLE_LABELS = {
    roles.INTEGRATION_ADMIN: gettext_lazy("Integration administrators"),
    roles.SALESPERSON: gettext_lazy("Salespeople"),
    roles.SUPPORT: gettext_lazy("Support"),
}


@register.filter
def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))
