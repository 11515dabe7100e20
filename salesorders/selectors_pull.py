"""Reads of the CRM orders page: the submitted CRM orders, live, one page at a time, beside
what the ERP made of each; and the orders that failed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from connection.interactive import CrmReadProblem, crm_client, crm_problem
from dataverse import errors as dv

from . import pull
from .models import CrmOrderImport

CRM_ORDERS_PER_PAGE = 25


@dataclass(frozen=True)
class CrmOrderRow:
    order: pull.CrmOrder
    record: CrmOrderImport | None

    @property
    def created(self) -> bool:
        """Created and still there: an ERP order deleted since may be created again."""
        record = self.record
        return bool(
            record
            and record.status == CrmOrderImport.Status.CREATED
            and record.erp_order_id is not None
        )

    @property
    def deleted(self) -> bool:
        record = self.record
        return bool(
            record
            and record.status == CrmOrderImport.Status.CREATED
            and record.erp_order_id is None
        )

    @property
    def failed(self) -> bool:
        return bool(self.record and self.record.status == CrmOrderImport.Status.FAILED)


@dataclass(frozen=True)
class CrmOrderPage:
    rows: list[CrmOrderRow] = field(default_factory=list)
    next_link: str = ""
    problem: str = ""


def crm_orders_page(*, link: str = "", per_page: int = CRM_ORDERS_PER_PAGE) -> CrmOrderPage:
    """One page of the submitted CRM orders, newest first, read live: the first page, or the
    page behind a nextLink the previous page gave (checked to point at the CRM's own Web API
    and its sales orders, so a crafted link cannot send our token elsewhere)."""
    try:
        client = crm_client()
        if link:
            root = f"{client.settings.base_url}/api/data/"
            if not link.startswith(root) or f"/{pull.ORDERS}" not in link:
                return CrmOrderPage(problem=_("That page link is not one of the CRM's."))
            page = client.get_page(link, page_size=per_page, annotations=True)
        else:
            page = client.get_page(
                pull.ORDERS,
                select=pull.ORDER_COLUMNS,
                filter=pull.submitted_orders_filter(waiting_only=False),
                orderby="createdon desc,salesorderid asc",
                page_size=per_page,
                annotations=True,
            )
    except CrmReadProblem as exc:
        return CrmOrderPage(problem=exc.message)
    except dv.DataverseError as exc:
        return CrmOrderPage(problem=crm_problem(exc).message)
    orders = [pull.crm_order_parse(raw) for raw in page.rows]
    records = {
        r.crm_order_id: r
        for r in CrmOrderImport.objects.filter(
            crm_order_id__in=[o.id for o in orders]
        ).select_related("erp_order")
    }
    return CrmOrderPage(
        rows=[CrmOrderRow(order=o, record=records.get(o.id)) for o in orders],
        next_link=page.next_link or "",
    )


def failed_imports() -> QuerySet[CrmOrderImport]:
    return CrmOrderImport.objects.filter(status=CrmOrderImport.Status.FAILED)


def import_get(*, crm_order_id: uuid.UUID) -> CrmOrderImport | None:
    return CrmOrderImport.objects.filter(crm_order_id=crm_order_id).first()
