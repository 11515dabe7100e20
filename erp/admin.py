"""Django admin for the ERP tables, generated from the same registry as the web UI."""

from django.contrib import admin
from django.db import models

from erp.tables import BIG_TABLES, TABLES, Table


def _admin_class(table: Table) -> type[admin.ModelAdmin]:
    fks = [name for name in table.form_fields if isinstance(table.field(name), models.ForeignKey)]
    displayed_fks = [c for c in table.columns if c in fks]
    attrs = {
        "list_display": table.columns,
        "search_fields": table.search_fields,
        "list_filter": table.filters,
        "readonly_fields": ("uuid", "modified_at"),
        "list_select_related": displayed_fks,
        # A drop-down with every customer or item would render 100,000 options.
        "raw_id_fields": [n for n in fks if table.field(n).related_model in BIG_TABLES],
        "list_per_page": 50,
        "formfield_overrides": {models.URLField: {"assume_scheme": "https"}},
        "show_full_result_count": False,
    }
    return type(f"{table.model.__name__}Admin", (admin.ModelAdmin,), attrs)


for _table in TABLES:
    admin.site.register(_table.model, _admin_class(_table))
