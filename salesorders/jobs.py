"""One run of each scheduled lead-to-cash job, as the job queue calls it (registered in
apps.py): idempotent, recorded in a JobRun; with the integration off a skipped run."""

from django.utils.translation import gettext as _

from connection.selectors import crm_connection_get
from syncjobs import services as sync_services
from syncjobs.defaults import AUTO_CREATE_ORDERS_JOB
from syncjobs.models import JobRun

from . import pull, push, statistics


def _skipped_when_disabled(job_name: str) -> JobRun | None:
    """A skipped run while the integration is disabled; None when it may run."""
    connection = crm_connection_get()
    if connection is not None and connection.is_enabled:
        return None
    run = sync_services.job_run_start(job_name=job_name)
    return sync_services.job_run_finish(
        run=run, status=JobRun.Status.SKIPPED, message=_("The integration is disabled.")
    )


def auto_create_run() -> JobRun:
    return pull.auto_create_run(job_name=AUTO_CREATE_ORDERS_JOB.name)


def order_status_run() -> JobRun:
    return _skipped_when_disabled(push.ORDER_STATUS) or push.order_status_run().run


def customer_statistics_run() -> JobRun:
    return _skipped_when_disabled(statistics.STATISTICS) or statistics.customer_statistics_run().run
