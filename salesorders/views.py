"""The CRM orders page ("Sales Orders - Dynamics 365 Sales", bc-integration.md §7.1): the
submitted CRM orders read live, "Create in ERP" for one (now) or several (on a worker), the
failed ones with their reason and Retry; and the write-in product setup."""

from __future__ import annotations

import uuid
from functools import partial

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.roles import ALL_ROLES, INTEGRATION_ADMIN, SALESPERSON, has_role, role_required
from connection.selectors import crm_connection_get

from . import pull, selectors_pull, tasks
from .forms import SalesOrderSetupForm
from .models import CrmOrderImport

READERS = ALL_ROLES
# Creating an ERP order is writing ERP records: salespeople and administrators, as coupling.
CREATORS = (INTEGRATION_ADMIN, SALESPERSON)
SETUP_EDITORS = (INTEGRATION_ADMIN,)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect("salesorders:crm-orders")


def _ids(values: list[str]) -> list[uuid.UUID]:
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    return ids


@role_required(*READERS)
def crm_orders(request: HttpRequest) -> HttpResponse:
    connection = crm_connection_get()
    notice = ""
    if connection is None:
        notice = _("No CRM connection is set up yet.")
    elif not connection.is_enabled:
        notice = _("The integration is disabled: CRM orders cannot be created in the ERP now.")
    elif not connection.sales_order_integration:
        notice = _("Sales order integration is off: switch it on on the connection page.")
    page = (
        selectors_pull.crm_orders_page(link=request.GET.get("next", ""))
        if connection is not None
        else selectors_pull.CrmOrderPage()
    )
    setup = pull.sales_order_setup_get()
    return render(
        request,
        "salesorders/crm_orders.html",
        {
            "page": page,
            "failed": selectors_pull.failed_imports()[:100],
            "notice": notice,
            "can_create": has_role(request.user, CREATORS) and not notice,
            "can_setup": has_role(request.user, SETUP_EDITORS),
            "setup": setup,
            "processor": connection.order_processor_name if connection else "",
            "auto_create": bool(connection and connection.auto_create_sales_orders),
        },
    )


@require_POST
@role_required(*CREATORS)
def crm_order_create(request: HttpRequest) -> HttpResponse:
    """ "Create in ERP" or "Retry" of one CRM order, now."""
    ids = _ids(request.POST.getlist("crm_order"))
    if len(ids) != 1:
        messages.error(request, _("Choose one CRM order."))
        return _back(request)
    try:
        record = pull.crm_order_create_now(crm_order_id=ids[0])
    except pull.PullUnavailable as exc:
        messages.error(request, exc.message)
        return _back(request)
    label = record.crm_order_number or str(record.crm_order_id)
    if record.status == CrmOrderImport.Status.CREATED:
        messages.success(
            request,
            _("CRM order %(crm)s is ERP sales order %(erp)s.")
            % {"crm": label, "erp": record.erp_order_no},
        )
    else:
        messages.error(
            request,
            _("CRM order %(crm)s was not created: %(reason)s")
            % {"crm": label, "reason": record.reason},
        )
    return _back(request)


@require_POST
@role_required(*CREATORS)
def crm_orders_create(request: HttpRequest) -> HttpResponse:
    """ "Create in ERP" for the selected orders: on a worker, after this request commits."""
    ids = _ids(request.POST.getlist("crm_order"))
    if not ids:
        messages.error(request, _("Select the CRM orders to create in the ERP."))
        return _back(request)
    try:
        pull.pull_connection_check()
    except pull.PullUnavailable as exc:
        messages.error(request, exc.message)
        return _back(request)
    transaction.on_commit(partial(tasks.create_crm_orders.delay, [str(i) for i in ids]))
    messages.info(
        request,
        ngettext(
            "%(count)s CRM order is being created in the ERP; reload this page to see it.",
            "%(count)s CRM orders are being created in the ERP; reload this page to see them.",
            len(ids),
        )
        % {"count": len(ids)},
    )
    return _back(request)


@role_required(*SETUP_EDITORS)
def setup(request: HttpRequest) -> HttpResponse:
    current = pull.sales_order_setup_get()
    form = SalesOrderSetupForm.for_setup(current, request.POST or None)
    if request.method == "POST" and form.is_valid():
        pull.sales_order_setup_save(
            write_in_type=form.cleaned_data["write_in_type"],
            write_in_item=form.cleaned_data["write_in_item"],
            write_in_resource=form.cleaned_data["write_in_resource"],
        )
        messages.success(request, _("The sales order integration setup is saved."))
        return redirect(reverse("salesorders:crm-orders"))
    return render(request, "salesorders/setup.html", {"form": form})
