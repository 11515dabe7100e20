"""The customer card's "Account statistics" panel (docs/reference/business-central.md §7.4,
the customer card action "Update Account Statistics"): when the customer is coupled to an
account, what was last written to its statistics in the CRM and a button that writes them now.

`erp/` knows nothing of the integration: the panel is registered with `erp.extensions` when the
app is ready (`apps.py`), as the coupling panel is.
"""

from __future__ import annotations

from django.db import models
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from accounts.roles import INTEGRATION_ADMIN, SALESPERSON, has_role
from erp.models import Customer
from erp.tables import Table
from syncjobs.models import CrmCoupling

from .models import CustomerStatisticsSent
from .statistics import CRM_ACCOUNT, ERP_CUSTOMER

# Who may write a customer's statistics to the CRM now.
UPDATERS = (INTEGRATION_ADMIN, SALESPERSON)


def card_panel(table: Table, obj: models.Model, request: HttpRequest) -> SafeString | None:
    if table.model is not Customer or not has_role(request.user, UPDATERS):
        return None
    erp_uuid = getattr(obj, "uuid", None)
    if erp_uuid is None:
        return None
    coupled = CrmCoupling.objects.filter(
        erp_table=ERP_CUSTOMER,
        erp_uuid=erp_uuid,
        crm_entity=CRM_ACCOUNT,
        state=CrmCoupling.State.COUPLED,
    ).exists()
    if not coupled:
        return None
    context = {
        "record": obj,
        "sent": CustomerStatisticsSent.objects.filter(erp_uuid=erp_uuid).first(),
        "next": request.get_full_path(),
    }
    return render_to_string("salesorders/_statistics_panel.html", context, request=request)
