"""ERP → CRM for sales orders: the order status job and the posted invoices
(docs/reference/business-central.md §7.1, §2.2-2.3 POSTEDSALESINV-INV / POSTEDSALESLINE-INV).

Order status ("CRM Order Status Update Job", every 7 minutes): a coupled ERP order that was
released, shipped or invoiced since the last run gets, per step, a post on its CRM order's wall
with the reference's message, and the CRM order moves with it: shipped → Fulfilled (the
FulfillSalesOrder message, status Complete), invoiced → Invoiced (statecode 4, statuscode
100003, a state change Dataverse allows on a closed order). Each step is sent once: a step is
recorded (`OrderStatusSent`) only after the CRM accepted it, and a post's id is derived from the
order and the step, so a run retried after a lost answer never posts twice.

Posted invoices go through the synchronization engine (mapping POSTEDSALESINV-INV, its lines
with it): the invoice is linked to the CRM order its ERP order is coupled to.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from connection import selectors as connection_selectors
from connection import services as connection_services
from connection.clients import client_get
from dataverse import errors as dv
from dataverse.client import DataverseClient
from erp.models import SalesOrder
from syncjobs import services as sync_services
from syncjobs.defaults import ORDER_STATUS_JOB
from syncjobs.engine import EngineResult
from syncjobs.models import CrmCoupling, IntegrationTableMapping, JobRun, SyncError

from .models import OrderStage, OrderStatusSent

logger = logging.getLogger(__name__)

ORDER_STATUS = ORDER_STATUS_JOB.name
INVOICES_MAPPING = "POSTEDSALESINV-INV"
ERP_ORDER, CRM_ORDER = "erp.salesorder", "salesorder"
# Dataverse's salesorder states and the status codes the reference sets (dataverse-web-api.md)
ACTIVE, SUBMITTED, CANCELED, FULFILLED, INVOICED = 0, 1, 2, 3, 4
COMPLETE, INVOICED_STATUS = 100001, 100003
# post.source Auto Post, post.type Status
POST_SOURCE_AUTO, POST_TYPE_STATUS = 1, 7
POSTS = ("posts", "post", "postid")
# The CRM cannot be reached or refuses our credentials: every further order would fail alike.
UNAVAILABLE = (dv.AuthenticationFailed, dv.ConnectionFailed, dv.Throttled, dv.Forbidden)
# Derives the id of a status post from the order and the step (never a second post).
POST_NAMESPACE = uuid.UUID("3f0c9a52-6a51-4e07-9a0f-4b1f4f1e7a10")
ORDERS_PER_QUERY = 1000


def _stage_messages() -> dict[str, str]:
    return {
        OrderStage.RELEASED: _("The order status has changed to Released."),
        OrderStage.SHIPPED: _("A shipment has been created for the order."),
        OrderStage.INVOICED: _("An invoice has been created for the order."),
    }


@dataclass
class OrderStatusOutcome:
    run: JobRun
    # "SO0001: released, shipped"
    sent: list[str] = field(default_factory=list)
    # "SO0002: <why>"
    failed: list[str] = field(default_factory=list)


class CrmUnavailable(Exception):
    pass


def order_stages_reached(*, order: SalesOrder) -> list[str]:
    """The steps an ERP order has reached, in order. A released order that was reopened keeps
    the steps it reached (the CRM was told)."""
    stages: list[str] = []
    if order.status == SalesOrder.Status.RELEASED or order.shipped or order.invoiced:
        stages.append(OrderStage.RELEASED)
    if order.shipped:
        stages.append(OrderStage.SHIPPED)
    if order.invoiced:
        stages.append(OrderStage.INVOICED)
    return stages


def orders_due() -> list[tuple[SalesOrder, uuid.UUID, list[str]]]:
    """Coupled ERP orders with steps not sent yet: (order, CRM order id, steps to send)."""
    couplings = dict(
        CrmCoupling.objects.filter(
            erp_table=ERP_ORDER, crm_entity=CRM_ORDER, state=CrmCoupling.State.COUPLED
        ).values_list("erp_uuid", "crm_id")
    )
    # Orders that were told they are invoiced have nothing left to hear.
    finished = set(
        OrderStatusSent.objects.filter(stage=OrderStage.INVOICED).values_list("erp_uuid", flat=True)
    )
    wanted = [u for u in couplings if u not in finished]
    due: list[tuple[SalesOrder, uuid.UUID, list[str]]] = []
    for start in range(0, len(wanted), ORDERS_PER_QUERY):
        chunk = wanted[start : start + ORDERS_PER_QUERY]
        sent: dict[uuid.UUID, set[str]] = {}
        for erp_uuid, stage in OrderStatusSent.objects.filter(erp_uuid__in=chunk).values_list(
            "erp_uuid", "stage"
        ):
            sent.setdefault(erp_uuid, set()).add(stage)
        orders = SalesOrder.objects.filter(uuid__in=chunk).only(
            "uuid", "no", "status", "shipped", "invoiced"
        )
        for order in orders.order_by("no"):
            stages = [
                s for s in order_stages_reached(order=order) if s not in sent.get(order.uuid, set())
            ]
            if stages:
                due.append((order, couplings[order.uuid], stages))
    return due


def _post(client: DataverseClient, crm_id: uuid.UUID, stage: str) -> None:
    client.register_table(*POSTS)
    client.create(
        "posts",
        {
            "text": _stage_messages()[stage],
            "source": POST_SOURCE_AUTO,
            "type": POST_TYPE_STATUS,
            "regardingobjectid_salesorder@odata.bind": f"/salesorders({crm_id})",
        },
        id=uuid.uuid5(POST_NAMESPACE, f"{crm_id}:{stage}"),
    )


def _crm_state(client: DataverseClient, crm_id: uuid.UUID) -> int:
    row = client.get("salesorders", crm_id, select=["statecode", "statuscode"]) or {}
    return int(row.get("statecode") or 0)


def _fulfill(client: DataverseClient, crm_id: uuid.UUID) -> None:
    client.request(
        "POST",
        "FulfillSalesOrder",
        json_body={
            "OrderClose": {
                "@odata.type": "Microsoft.Dynamics.CRM.orderclose",
                "subject": _("Shipped in the ERP"),
                "salesorderid@odata.bind": f"/salesorders({crm_id})",
            },
            "Status": COMPLETE,
        },
    )


def _stage_send(client: DataverseClient, crm_id: uuid.UUID, stage: str) -> None:
    """Tell the CRM order about one step. Safe to repeat: the post has a fixed id and a state
    the order already has is not set again."""
    if stage == OrderStage.SHIPPED:
        if _crm_state(client, crm_id) in (ACTIVE, SUBMITTED):
            _fulfill(client, crm_id)
    elif stage == OrderStage.INVOICED:
        state = _crm_state(client, crm_id)
        if state in (ACTIVE, SUBMITTED):
            # Invoiced without a shipment step seen (both in one run): fulfilled first, as
            # Dataverse closes an order before it is invoiced.
            _fulfill(client, crm_id)
            state = FULFILLED
        if state != INVOICED:
            client.update(
                "salesorders", crm_id, {"statecode": INVOICED, "statuscode": INVOICED_STATUS}
            )
    _post(client, crm_id, stage)


def _stage_label(stage: str) -> str:
    return str(OrderStage(stage).label).lower()


def order_status_push(*, run: JobRun) -> OrderStatusOutcome:
    """Send every coupled ERP order's new steps to its CRM order; one JobRun for the run
    (modified = orders updated, failed = orders that failed, with why in the message)."""
    outcome = OrderStatusOutcome(run=run)
    connection = connection_selectors.crm_connection_settings()
    if connection is None:
        sync_services.job_run_finish(
            run=run, status=JobRun.Status.SKIPPED, message=_("No CRM connection is set up.")
        )
        return outcome
    client = client_get(settings=connection)
    try:
        for order, crm_id, stages in orders_due():
            try:
                done = _order_send(client, order, crm_id, stages)
            except dv.NotFound:
                _failed(outcome, order, _("the coupled CRM order no longer exists"))
                continue
            except dv.Forbidden as exc:
                connection_services.connection_disable_for_error(error=exc)
                raise CrmUnavailable(str(exc)) from exc
            except UNAVAILABLE as exc:
                raise CrmUnavailable(str(exc)) from exc
            except dv.DataverseError as exc:
                _failed(outcome, order, str(exc))
                continue
            if done:
                run.modified += 1
                outcome.sent.append(f"{order.no}: {', '.join(_stage_label(s) for s in done)}")
    except CrmUnavailable as exc:
        # The CRM did not answer: nothing further can be sent now; what was not recorded as
        # sent is sent by the next run.
        run.failed += 1
        outcome.failed.append(str(exc))
        run.save(update_fields=["modified", "failed", "skipped"])
        sync_services.job_run_finish(
            run=run, status=JobRun.Status.FAILED, message=_summary(outcome)
        )
        return outcome
    except BaseException as exc:
        # A time limit or a worker shutdown: the run must not stay "running" forever.
        run.save(update_fields=["modified", "failed", "skipped"])
        sync_services.job_run_finish(
            run=run, status=JobRun.Status.FAILED, message=f"interrupted: {exc!r}"
        )
        raise
    run.save(update_fields=["modified", "failed", "skipped"])
    status = JobRun.Status.FAILED if outcome.failed else JobRun.Status.SUCCEEDED
    sync_services.job_run_finish(run=run, status=status, message=_summary(outcome))
    return outcome


def _order_send(
    client: DataverseClient, order: SalesOrder, crm_id: uuid.UUID, stages: Sequence[str]
) -> list[str]:
    """Send the steps in order; each is recorded once the CRM took it. An error stops the
    order's later steps (they would overtake it)."""
    done = []
    for stage in stages:
        _stage_send(client, crm_id, stage)
        OrderStatusSent.objects.get_or_create(
            erp_uuid=order.uuid, stage=stage, defaults={"crm_id": crm_id}
        )
        done.append(stage)
    return done


def _failed(outcome: OrderStatusOutcome, order: SalesOrder, reason: str) -> None:
    outcome.run.failed += 1
    outcome.failed.append(f"{order.no}: {reason}")
    SyncError.objects.create(
        job=outcome.run,
        erp_table=ERP_ORDER,
        erp_uuid=order.uuid,
        crm_entity=CRM_ORDER,
        source=str(order),
        message=reason,
    )


def _summary(outcome: OrderStatusOutcome) -> str:
    parts = [_("%(count)s order(s) updated") % {"count": outcome.run.modified}]
    if outcome.sent:
        parts.append("; ".join(outcome.sent[:20]))
    if outcome.failed:
        parts.append(_("failed: %(list)s") % {"list": "; ".join(outcome.failed[:20])})
    return ". ".join(parts)


def order_status_run() -> OrderStatusOutcome:
    """One run of the order status job, recorded as a JobRun (also `salesorders push`)."""
    run = sync_services.job_run_start(job_name=ORDER_STATUS)
    return order_status_push(run=run)


# -- posted invoices -------------------------------------------------------------------------


@dataclass
class InvoicePushOutcome:
    result: EngineResult | None
    message: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        if self.result is None:
            return bool(self.message)
        return any(j.status == JobRun.Status.FAILED or j.failed for j in self.result.jobs)


def posted_invoices_push() -> InvoicePushOutcome:
    """Synchronize the posted invoices now, with their lines (the engine's to-CRM pass of
    POSTEDSALESINV-INV and its child mapping)."""
    mapping = IntegrationTableMapping.objects.filter(name=INVOICES_MAPPING).first()
    if mapping is None:
        return InvoicePushOutcome(
            result=None,
            message=_(
                "There is no %(name)s mapping: use the default synchronization setup with "
                "posted sales invoices."
            )
            % {"name": INVOICES_MAPPING},
        )
    result = sync_services.mapping_synchronize(mapping=mapping, direction="to_crm")
    errors = [
        f"{e.source}: {e.message}"
        for e in SyncError.objects.filter(job__in=result.jobs).order_by("id")[:50]
    ]
    return InvoicePushOutcome(result=result, errors=errors)


def job_counts(jobs: Sequence[JobRun]) -> dict[str, Any]:
    """Counters of the engine's runs by mapping name, for the command's output."""
    counts: dict[str, Any] = {}
    for job in jobs:
        entry = counts.setdefault(
            job.job_name, {"inserted": 0, "modified": 0, "failed": 0, "status": job.status}
        )
        entry["inserted"] += job.inserted
        entry["modified"] += job.modified
        entry["failed"] += job.failed
    return counts
