"""Pages of the sales documents: the sales order card with its lines and actions, the order's
create/edit/delete pages, and the read-only card of a posted sales invoice. Lists are the
generic ones (erp.views.record_list). Every change goes through erp.documents."""

import dataclasses
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import ERP_READERS, ERP_WRITERS, role_required
from erp import documents, extensions, selectors
from erp.forms import SalesOrderLineForm, record_form_class
from erp.models import (
    SALES_ORDER_HEADER_FIELDS,
    PostedSalesInvoice,
    SalesOrder,
    SalesOrderLine,
)
from erp.tables import POSTED_SALES_INVOICES, SALES_ORDERS

# A new order asks for little: the rest comes from the customer and is changed on the card.
NEW_ORDER = dataclasses.replace(
    SALES_ORDERS,
    form_fields=(
        "customer",
        "your_reference",
        "external_document_no",
        "order_date",
        "requested_delivery_date",
    ),
)
# The header fields of the card, in groups.
GENERAL_FIELDS = (
    *SALES_ORDER_HEADER_FIELDS,
    "status",
    "amount",
    "shipped",
    "invoiced",
    "last_shipment_date",
)
ADDRESS_GROUPS = (("bill_to", gettext_lazy("Bill-to")), ("ship_to", gettext_lazy("Ship-to")))
ADDRESS_PARTS = ("name", "address", "address_2", "post_code", "city", "county", "country_code")


def _order(pk: int) -> SalesOrder:
    return get_object_or_404(SalesOrder.objects.select_related("customer", "currency"), pk=pk)


def _refused(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _order_card(
    request: HttpRequest,
    order: SalesOrder,
    *,
    line_forms: dict[int, SalesOrderLineForm] | None = None,
    new_line: SalesOrderLineForm | None = None,
    status: int = 200,
) -> HttpResponse:
    lines = list(
        order.lines.select_related("item", "resource", "unit_of_measure").order_by("line_no")
    )
    editable = order.status == SalesOrder.Status.OPEN
    line_forms = line_forms or {}
    rows = []
    for line in lines:
        form = line_forms.get(line.pk)
        if form is None and editable:
            form = SalesOrderLineForm(
                prefix=f"line-{line.pk}", initial=SalesOrderLineForm.initial_for(line)
            )
        rows.append((line, form))
    return render(
        request,
        "erp/sales_order_detail.html",
        {
            "table": SALES_ORDERS,
            "object": order,
            "general_fields": GENERAL_FIELDS,
            "address_groups": [
                (label, [f"{group}_{part}" for part in ADDRESS_PARTS])
                for group, label in ADDRESS_GROUPS
            ],
            "rows": rows,
            "editable": editable,
            "new_line": new_line or SalesOrderLineForm(prefix="new"),
            "invoices": order.invoices.order_by("no"),
            "panels": extensions.card_panels(table=SALES_ORDERS, obj=order, request=request),
        },
        status=status,
    )


@role_required(*ERP_READERS)
@require_http_methods(["GET"])
def sales_order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_card(request, _order(pk))


def _header_form(request: HttpRequest, order: SalesOrder | None, data: Any = None) -> HttpResponse:
    table = SALES_ORDERS if order is not None else NEW_ORDER
    form = record_form_class(table)(data, instance=order)
    if data is not None and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in table.form_fields}
        try:
            if order is None:
                saved = documents.sales_order_create(data=fields)
                messages.success(request, _("%(record)s was created.") % {"record": saved})
            else:
                saved = documents.sales_order_update(order=order, data=fields)
                messages.success(request, _("%(record)s was saved.") % {"record": saved})
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
        else:
            return redirect("erp:sales-orders-detail", pk=saved.pk)
    return render(
        request,
        "erp/record_form.html",
        {"table": table, "object": order, "label": str(order or ""), "form": form},
        status=400 if form.is_bound and form.errors else 200,
    )


@role_required(*ERP_WRITERS)
@require_http_methods(["GET", "POST"])
def sales_order_create(request: HttpRequest) -> HttpResponse:
    return _header_form(request, None, request.POST if request.method == "POST" else None)


@role_required(*ERP_WRITERS)
@require_http_methods(["GET", "POST"])
def sales_order_edit(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    if order.status != SalesOrder.Status.OPEN:
        messages.error(
            request,
            _("Sales order %(no)s is released: reopen it before changing it.") % {"no": order.no},
        )
        return redirect("erp:sales-orders-detail", pk=order.pk)
    return _header_form(request, order, request.POST if request.method == "POST" else None)


@role_required(*ERP_WRITERS)
@require_http_methods(["GET", "POST"])
def sales_order_delete(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    references = selectors.record_references(obj=order)
    if request.method == "POST" and not references:
        try:
            documents.sales_order_delete(order=order)
        except ValidationError as exc:
            _refused(request, exc)
            return redirect("erp:sales-orders-detail", pk=order.pk)
        messages.success(request, _("%(record)s was deleted.") % {"record": order})
        return redirect("erp:sales-orders-list")
    return render(
        request,
        "erp/record_confirm_delete.html",
        {"table": SALES_ORDERS, "object": order, "references": references},
        status=409 if references and request.method == "POST" else 200,
    )


@role_required(*ERP_WRITERS)
@require_POST
def sales_order_line_add(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    form = SalesOrderLineForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            line = documents.sales_order_line_add(order=order, data=form.line_data())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Line %(line)s was added.") % {"line": line.line_no})
            return redirect("erp:sales-orders-detail", pk=order.pk)
    return _order_card(request, order, new_line=form, status=400)


@role_required(*ERP_WRITERS)
@require_POST
def sales_order_line_edit(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    order = _order(pk)
    line = get_object_or_404(SalesOrderLine, pk=line_pk, order=order)
    form = SalesOrderLineForm(request.POST, prefix=f"line-{line.pk}")
    if form.is_valid():
        try:
            documents.sales_order_line_update(line=line, data=form.line_data(line))
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Line %(line)s was saved.") % {"line": line.line_no})
            return redirect("erp:sales-orders-detail", pk=order.pk)
    return _order_card(request, order, line_forms={line.pk: form}, status=400)


@role_required(*ERP_WRITERS)
@require_POST
def sales_order_line_delete(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    order = _order(pk)
    line = get_object_or_404(SalesOrderLine, pk=line_pk, order=order)
    try:
        documents.sales_order_line_delete(line=line)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("Line %(line)s was deleted.") % {"line": line.line_no})
    return redirect("erp:sales-orders-detail", pk=order.pk)


@role_required(*ERP_WRITERS)
@require_POST
def sales_order_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Release, reopen, post shipment or post invoice, from the card's buttons."""
    order = _order(pk)
    try:
        if action == "release":
            documents.sales_order_release(order=order)
            message = _("Sales order %(no)s was released.") % {"no": order.no}
        elif action == "reopen":
            documents.sales_order_reopen(order=order)
            message = _("Sales order %(no)s was reopened.") % {"no": order.no}
        elif action == "ship":
            shipment = documents.sales_order_ship(order=order)
            count = len(shipment.lines)
            message = ngettext(
                "The shipment of sales order %(no)s was posted (%(lines)d line).",
                "The shipment of sales order %(no)s was posted (%(lines)d lines).",
                count,
            ) % {"no": order.no, "lines": count}
        else:
            invoice = documents.sales_order_invoice(order=order)
            message = _("Posted sales invoice %(invoice)s was created for sales order %(no)s.") % {
                "invoice": invoice.no,
                "no": order.no,
            }
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, message)
    return redirect("erp:sales-orders-detail", pk=order.pk)


@role_required(*ERP_READERS)
@require_http_methods(["GET"])
def posted_sales_invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(
        PostedSalesInvoice.objects.select_related("customer", "order", "currency"), pk=pk
    )
    return render(
        request,
        "erp/posted_sales_invoice_detail.html",
        {
            "table": POSTED_SALES_INVOICES,
            "object": invoice,
            "fields": selectors.record_fields(table=POSTED_SALES_INVOICES, obj=invoice),
            "lines": invoice.lines.select_related("item", "resource", "unit_of_measure"),
            "panels": extensions.card_panels(
                table=POSTED_SALES_INVOICES, obj=invoice, request=request
            ),
        },
    )
