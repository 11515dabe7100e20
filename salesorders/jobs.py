"""One run of each scheduled lead-to-cash job, as the job queue calls it (registered in
apps.py): idempotent, recorded in a JobRun; with the integration off a skipped run."""

from syncjobs import services as sync_services
from syncjobs.defaults import AUTO_CREATE_ORDERS_JOB
from syncjobs.models import JobRun

from . import pull, push, statistics


def auto_create_run() -> JobRun:
    return pull.auto_create_run(job_name=AUTO_CREATE_ORDERS_JOB.name)


def order_status_run() -> JobRun:
    skipped = sync_services.disabled_run_record(job_name=push.ORDER_STATUS)
    return skipped or push.order_status_run().run


def customer_statistics_run() -> JobRun:
    skipped = sync_services.disabled_run_record(job_name=statistics.STATISTICS)
    return skipped or statistics.customer_statistics_run().run
