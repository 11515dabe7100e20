"""Scheduled integration jobs. They take ids, are idempotent and record each run in JobRun.

A mapping job runs the synchronization engine (syncjobs/engine/) for its mapping; a run that
finds the mapping busy, disabled or the integration off records why and does nothing.
"""

from celery import Task, shared_task
from django.conf import settings

from connection.selectors import integration_enabled

from . import fullsync, fullsync_chunks, jobqueue, nrt, services
from .models import IntegrationTableMapping, JobQueueEntry


@shared_task(name="syncjobs.synchronize_mapping", ignore_result=True)
def synchronize_mapping(
    mapping_id: int,
    full: bool = False,
    direction: str | None = None,
    pull: bool = False,
    entry: int | None = None,
) -> None:
    """Both directions of the mapping, or `direction` only. `entry`: the run of that job queue
    entry (beat sends the recurring one's id; "synchronize now" a one-off's). `pull` (the CRM
    pull every minute, `nrt.crm_pull`): quietly nothing when the integration is off or the
    mapping's job is on hold, no job row when the pass found nothing, and a wake-up of the
    mapping's idle job when it found changes."""
    if entry is not None:
        services.queue_entry_run(entry_id=entry)
        return
    mapping = IntegrationTableMapping.objects.filter(pk=mapping_id).first()
    if mapping is None:
        # The mapping was deleted (e.g. reset to defaults) after the run was queued.
        return
    if pull:
        if not (integration_enabled() and mapping.enabled):
            return
        result = services.mapping_synchronize(mapping=mapping, direction=direction)
        if jobqueue.jobs_did_work(nrt.quiet_runs_drop(result.jobs)):
            jobqueue.entries_wake(mapping_ids=[mapping.pk])
        return
    if services.disabled_run_record(job_name=mapping.name, mapping=mapping) is not None:
        return
    services.mapping_synchronize(mapping=mapping, full=full, direction=direction)


@shared_task(name="syncjobs.near_real_time", ignore_result=True)
def near_real_time(mapping_id: int) -> None:
    """The changed records of one mapping, ERP → CRM, seconds after they changed (nrt.py)."""
    jobs = nrt.pending_synchronize(mapping_id=mapping_id)
    mapping = IntegrationTableMapping.objects.filter(pk=mapping_id).first()
    if mapping is not None and any(j.inserted or j.coupled or j.modified for j in jobs):
        services.dependants_wake(mapping=mapping)


@shared_task(name="syncjobs.queue_entry_run", ignore_result=True)
def queue_entry_run(entry_id: int) -> None:
    """One run of a job queue entry ("run now", a wake-up, a one-off's retry)."""
    services.queue_entry_run(entry_id=entry_id)


@shared_task(name="syncjobs.crm_pull", ignore_result=True)
def crm_pull() -> None:
    services.recurring_job_run(job=JobQueueEntry.Job.CRM_PULL)


@shared_task(name="syncjobs.sync_log_cleanup", ignore_result=True)
def sync_log_cleanup() -> None:
    services.recurring_job_run(job=JobQueueEntry.Job.LOG_CLEANUP)


@shared_task(name="syncjobs.item_availability", ignore_result=True)
def item_availability() -> None:
    services.recurring_job_run(job=JobQueueEntry.Job.ITEM_AVAILABILITY)


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


@shared_task(
    name="syncjobs.fullsync_chunk",
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    soft_time_limit=settings.FULLSYNC_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.FULLSYNC_TASK_TIME_LIMIT,
)
def fullsync_chunk(self: Task, chunk_id: int) -> None:
    """One chunk of a large table's full synchronization, then any other chunk of its line
    nobody runs (syncjobs/fullsync_chunks.py). A busy mapping comes back as a delay."""
    outcome = fullsync_chunks.chunk_work(chunk_id=chunk_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(name="syncjobs.fullsync_sweep", ignore_result=True)
def fullsync_sweep() -> None:
    """The tasks of a full synchronization a dead worker took with it, sent again."""
    fullsync_chunks.chunks_sweep()
