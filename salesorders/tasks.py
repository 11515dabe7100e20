"""Background work of the sales order integration. Tasks take ids, call a service and record
their outcome (JobRun for the scheduled jobs, CrmOrderImport per order).

The scheduled jobs (definitions in syncjobs/defaults.py: AUTO_CREATE_ORDERS_JOB,
ORDER_STATUS_JOB, CUSTOMER_STATISTICS_JOB) run through their job queue entries (paused or on
hold: not run); what each run does is registered with the job queue in apps.py (jobs.py)."""

import uuid

from celery import shared_task

from syncjobs import services as sync_services
from syncjobs.models import JobQueueEntry

from . import pull


@shared_task(name="salesorders.auto_create_sales_orders", ignore_result=True)
def auto_create_sales_orders() -> None:
    """The "Auto Create Sales Orders" job (bc-integration.md §7.1, every 30 minutes): every
    submitted CRM order not taken over yet becomes an ERP order; one job row with the counts
    and an error row per order that failed."""
    sync_services.recurring_job_run(job=JobQueueEntry.Job.AUTO_CREATE_SALES_ORDERS)


@shared_task(name="salesorders.order_status", ignore_result=True)
def order_status() -> None:
    sync_services.recurring_job_run(job=JobQueueEntry.Job.ORDER_STATUS)


@shared_task(name="salesorders.customer_statistics", ignore_result=True)
def customer_statistics() -> None:
    sync_services.recurring_job_run(job=JobQueueEntry.Job.CUSTOMER_STATISTICS)


@shared_task(name="salesorders.create_crm_orders", ignore_result=True)
def create_crm_orders(crm_order_ids: list[str]) -> None:
    """The orders a person chose on the CRM orders page ("Create in ERP" for several). An
    order already created is left as it is, so a second delivery does nothing more."""
    try:
        pull.crm_orders_pull(crm_order_ids=[uuid.UUID(i) for i in crm_order_ids])
    except pull.PullUnavailable:
        # Switched off between the click and the worker: the page says so when reloaded.
        return
