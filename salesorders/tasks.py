"""Scheduled lead-to-cash jobs (their definitions: syncjobs/defaults.py ORDER_STATUS_JOB and
CUSTOMER_STATISTICS_JOB). They take no arguments, are idempotent and record each run in
JobRun; with the integration off they record a skipped run and do nothing."""

from celery import shared_task
from django.utils.translation import gettext as _

from connection.selectors import crm_connection_get
from syncjobs import services as sync_services
from syncjobs.models import JobRun

from . import push, statistics


def _skipped_unless_enabled(job_name: str) -> JobRun | None:
    """A run, or None (after recording a skipped one) while the integration is disabled."""
    run = sync_services.job_run_start(job_name=job_name)
    connection = crm_connection_get()
    if connection is None or not connection.is_enabled:
        sync_services.job_run_finish(
            run=run, status=JobRun.Status.SKIPPED, message=_("The integration is disabled.")
        )
        return None
    return run


@shared_task(name="salesorders.order_status", ignore_result=True)
def order_status() -> None:
    run = _skipped_unless_enabled(push.ORDER_STATUS)
    if run is not None:
        push.order_status_push(run=run)


@shared_task(name="salesorders.customer_statistics", ignore_result=True)
def customer_statistics() -> None:
    run = _skipped_unless_enabled(statistics.STATISTICS)
    if run is not None:
        statistics.customer_statistics_push(run=run)
