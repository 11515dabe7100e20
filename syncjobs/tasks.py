"""Scheduled integration jobs. They take ids, are idempotent and record each run in JobRun.

A mapping job runs the synchronization engine (syncjobs/engine/) for its mapping; a run that
finds the mapping busy, disabled or the integration off records why and does nothing.
"""

from celery import Task, shared_task
from django.conf import settings
from django.utils.translation import gettext as _

from connection.selectors import crm_connection_get

from . import fullsync, nrt, services
from .models import IntegrationTableMapping, JobRun


def _integration_enabled() -> bool:
    connection = crm_connection_get()
    return bool(connection and connection.is_enabled)


def _availability_enabled() -> bool:
    connection = crm_connection_get()
    return bool(connection and connection.availability_enabled)


@shared_task(name="syncjobs.synchronize_mapping", ignore_result=True)
def synchronize_mapping(
    mapping_id: int, full: bool = False, direction: str | None = None, pull: bool = False
) -> None:
    """Both directions of the mapping, or `direction` only. `pull` (the CRM pull every minute,
    `nrt.crm_pull`): quietly nothing when the integration is off, and no job row when the pass
    found nothing."""
    mapping = IntegrationTableMapping.objects.filter(pk=mapping_id).first()
    if mapping is None:
        # The mapping was deleted (e.g. reset to defaults) after the run was queued.
        return
    if pull:
        if not (_integration_enabled() and mapping.enabled):
            return
        result = services.mapping_synchronize(mapping=mapping, direction=direction)
        nrt.quiet_runs_drop(result.jobs)
        return
    if not _integration_enabled():
        run = services.job_run_start(job_name=mapping.name, mapping=mapping)
        services.job_run_finish(
            run=run, status=JobRun.Status.SKIPPED, message=_("The integration is disabled.")
        )
        return
    services.mapping_synchronize(mapping=mapping, full=full, direction=direction)


@shared_task(name="syncjobs.near_real_time", ignore_result=True)
def near_real_time(mapping_id: int) -> None:
    """The changed records of one mapping, ERP → CRM, seconds after they changed (nrt.py)."""
    jobs = nrt.pending_synchronize(mapping_id=mapping_id)
    mapping = IntegrationTableMapping.objects.filter(pk=mapping_id).first()
    if mapping is not None and any(j.inserted or j.coupled or j.modified for j in jobs):
        services.dependants_wake(mapping=mapping)


@shared_task(name="syncjobs.crm_pull", ignore_result=True)
def crm_pull() -> None:
    nrt.crm_pull()


@shared_task(name="syncjobs.sync_log_cleanup", ignore_result=True)
def sync_log_cleanup() -> None:
    services.sync_log_cleanup()


@shared_task(name="syncjobs.item_availability", ignore_result=True)
def item_availability() -> None:
    run = services.job_run_start(job_name=services.ITEM_AVAILABILITY)
    if not _integration_enabled():
        services.job_run_finish(
            run=run, status=JobRun.Status.SKIPPED, message=_("The integration is disabled.")
        )
        return
    if not _availability_enabled():
        services.job_run_finish(
            run=run,
            status=JobRun.Status.SKIPPED,
            message=_("Item availability is not published to the CRM."),
        )
        return
    services.item_availability_push(run=run)


@shared_task(
    name="syncjobs.fullsync_line",
    bind=True,
    ignore_result=True,
    acks_late=True,
    # A worker process killed while running a line gives its message back (the line is taken
    # over by the next delivery, fullsync._claim), instead of Celery acknowledging it.
    reject_on_worker_lost=True,
    max_retries=None,
    soft_time_limit=settings.FULLSYNC_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.FULLSYNC_TASK_TIME_LIMIT,
)
def fullsync_line(self: Task, line_id: int) -> None:
    """One line of a full synchronization (syncjobs/fullsync.py). Transient CRM failures and a
    busy mapping come back as a delay: the task sends itself again after it; the line counts
    its attempts and fails after FULLSYNC_MAX_ATTEMPTS."""
    outcome = fullsync.line_run(line_id=line_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
