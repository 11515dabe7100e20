"""Generic list and card pages for every ERP table in the registry (`erp.tables`)."""

from django.contrib import messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.roles import ERP_READERS, ERP_WRITERS, role_required
from erp import extensions, selectors, services
from erp.forms import record_form_class
from erp.query_input import list_query_clean
from erp.tables import Table

PAGE_SIZE = 50


def _get_record(table: Table, pk: int) -> models.Model:
    return get_object_or_404(table.model._default_manager.all(), pk=pk)


@role_required(*ERP_READERS)
@require_http_methods(["GET"])
def record_list(request: HttpRequest, table: Table) -> HttpResponse:
    # Columns other apps add (erp.extensions), each with a filter of its own.
    columns = extensions.list_columns(table=table, request=request)
    names = [*table.filters, *(c.name for c in columns)]
    query = list_query_clean(
        search=request.GET.get("q", ""),
        filters={name: request.GET.get(name, "") for name in names},
    )
    labels = {c.name: c.filter_label for c in columns}
    for name, problem in query.problems:
        if name == "q":
            label = _("Search")
        else:
            label = labels.get(name) or str(capfirst(table.field(name).verbose_name))
        messages.error(request, f"{label}: {problem}")
    search = query.search
    filters = {name: query.filters[name] for name in table.filters}
    chosen = {c.name: query.filters[c.name].strip() for c in columns}
    page = selectors.table_page(
        table=table,
        search=search,
        sort=request.GET.get("sort", ""),
        filters=filters,
        per_page=PAGE_SIZE,
        cursor=request.GET.get("cursor", ""),
        page=request.GET.get("page", ""),
        conditions=[c.condition(chosen[c.name]) for c in columns if chosen[c.name]],
        fields=[f for c in columns for f in c.fields],
    )
    sort, _keys = selectors.table_ordering(table=table, sort=request.GET.get("sort", ""))
    # One list of extra cells per row: each column builds its cells for the page at once.
    per_column = [c.cells(page.rows) for c in columns]
    extra_cells = [list(cells) for cells in zip(*per_column, strict=True)] if columns else []
    column_filters = [
        selectors.ListFilter(
            name=c.name,
            label=c.filter_label,
            options=tuple(selectors.FilterOption(o.value, o.label) for o in c.options),
            selected=chosen[c.name],
        )
        for c in columns
    ]
    return render(
        request,
        "erp/record_list.html",
        {
            "table": table,
            "page": page,
            "q": search,
            "sort": sort,
            "filters": [*selectors.table_filters(table=table, filters=filters), *column_filters],
            "extra_columns": columns,
            "extra_cells": extra_cells,
            "filtered": bool(
                search.strip() or any(v.strip() for v in filters.values()) or any(chosen.values())
            ),
        },
    )


@role_required(*ERP_READERS)
@require_http_methods(["GET"])
def record_detail(request: HttpRequest, table: Table, pk: int) -> HttpResponse:
    obj = _get_record(table, pk)
    return render(
        request,
        "erp/record_detail.html",
        {
            "table": table,
            "object": obj,
            "fields": selectors.record_fields(table=table, obj=obj),
            # Panels other apps add (erp.extensions): the coupling to the CRM, say.
            "panels": extensions.card_panels(table=table, obj=obj, request=request),
        },
    )


def _edit(request: HttpRequest, table: Table, obj: models.Model | None) -> HttpResponse:
    form_class = record_form_class(table)
    # Validation writes the typed values into the instance; titles show the stored record.
    label = str(obj) if obj is not None else ""
    form = form_class(request.POST if request.method == "POST" else None, instance=obj)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        if obj is None:
            messages.success(request, _("%(record)s was created.") % {"record": saved})
        else:
            messages.success(request, _("%(record)s was saved.") % {"record": saved})
        return redirect(f"erp:{table.slug}-detail", pk=saved.pk)
    return render(
        request,
        "erp/record_form.html",
        {"table": table, "object": obj, "label": label, "form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


@role_required(*ERP_WRITERS)
@require_http_methods(["GET", "POST"])
def record_create(request: HttpRequest, table: Table) -> HttpResponse:
    return _edit(request, table, None)


@role_required(*ERP_WRITERS)
@require_http_methods(["GET", "POST"])
def record_edit(request: HttpRequest, table: Table, pk: int) -> HttpResponse:
    return _edit(request, table, _get_record(table, pk))


@role_required(*ERP_WRITERS)
@require_http_methods(["GET", "POST"])
def record_delete(request: HttpRequest, table: Table, pk: int) -> HttpResponse:
    obj = _get_record(table, pk)
    references = selectors.record_references(obj=obj)
    if request.method == "POST" and not references:
        label = str(obj)
        try:
            services.record_delete(instance=obj)
        except services.RecordInUse:
            # A reference was added between the check and the delete.
            references = selectors.record_references(obj=obj)
        else:
            messages.success(request, _("%(record)s was deleted.") % {"record": label})
            return redirect(f"erp:{table.slug}-list")
    if request.method == "POST":
        messages.error(request, _("%(record)s was not deleted.") % {"record": obj})
    return render(
        request,
        "erp/record_confirm_delete.html",
        {"table": table, "object": obj, "references": references},
        status=409 if references and request.method == "POST" else 200,
    )
