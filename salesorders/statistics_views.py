"""The customer card's "Update account statistics" action. Views stay thin: the work is in the
services (`statistics.py`)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import role_required
from erp.models import Customer

from . import statistics
from .erp_pages import UPDATERS


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


@require_POST
@role_required(*UPDATERS)
def customer_statistics_update(request: HttpRequest, erp_uuid: uuid.UUID) -> HttpResponse:
    """ "Update Account Statistics" on the customer card: this customer's statistics are
    written now, in the request (one CRM write), as the reference's action does, with its
    answer."""
    customer = Customer.objects.filter(uuid=erp_uuid).first()
    if customer is None:
        raise Http404
    outcome = statistics.customer_statistics_run(customer_uuids=[customer.uuid])
    if outcome.failed:
        messages.error(request, "; ".join(outcome.failed))
    elif outcome.run.status == "skipped":
        messages.error(request, outcome.run.message)
    else:
        messages.success(
            request, _("The customer statistics have been successfully updated in the CRM.")
        )
    return _back(request, reverse("erp:customers-list"))
