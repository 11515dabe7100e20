"""Job queue entries: the state of every recurring and one-off integration job
(docs/reference/business-central.md §5.8), and the one place that keeps an entry's
django_celery_beat PeriodicTask in step with it (`entry_task_apply`).

- A recurring mapping entry is run by beat through its PeriodicTask (task
  `syncjobs.synchronize_mapping`, kwargs `{"entry": id}`). After a run that found nothing to do
  its interval doubles, up to the mapping's inactivity timeout (the reference sleeps the whole
  timeout at once); a change to synchronize (an ERP write to its table, a CRM pull that found
  changes) brings it back to its interval and runs it SYNC_JOB_WAKE_DELAY_SECONDS later.
- A mapping whose last SYNC_AUTO_HOLD_RUNS job runs failed at SYNC_AUTO_HOLD_FAILURE_RATE or
  more puts its recurring entry on hold with the reason.
- "Run now", "Synchronize modified records" and "Run full synchronization" make one-off entries
  (an identical one still ready is reused, as the reference removes it).
- Pausing, holding, resuming change the entry, then its PeriodicTask.

The runs themselves (what a job does) are services.queue_entry_run; this module holds no engine
code, so the near-real-time receivers (nrt.py) can wake entries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connection.selectors import integration_enabled
from connection.services import JOB_NAME_PREFIX

from .models import Direction, IntegrationTableMapping, JobQueueEntry, JobRun

logger = logging.getLogger(__name__)

Job = JobQueueEntry.Job
Status = JobQueueEntry.Status
Hold = JobQueueEntry.Hold

# The reference's attempts and rerun delay (§5.8): a recurring mapping job 10 attempts, a
# one-off 2, 30 s apart.
RECURRING_MAX_ATTEMPTS = 10
ONE_OFF_MAX_ATTEMPTS = 2
RERUN_DELAY_SECONDS = 30
ENTRY_TASK = "syncjobs.queue_entry_run"
MAPPING_TASK = "syncjobs.synchronize_mapping"
TO_CRM_DIRECTIONS = (Direction.TO_CRM, Direction.BIDIRECTIONAL)
# What a run that did something changed: any of these non-zero is work, not idleness.
WORK_COUNTERS = (
    "inserted", "modified", "deleted", "failed", "coupled", "uncoupled", "conflicts",
)  # fmt: skip


def default_interval_minutes() -> int:
    return max(1, int(settings.SYNC_JOB_INTERVAL_MINUTES))


def job_name(name: str) -> str:
    return f"{JOB_NAME_PREFIX}{name}"


def interval_schedule(minutes: int) -> IntervalSchedule:
    schedule, _created = IntervalSchedule.objects.get_or_create(
        every=max(1, minutes), period=IntervalSchedule.MINUTES
    )
    return schedule


def _entry_send(entry_id: int, mapping_id: int | None, full: bool, countdown: float) -> None:
    """Send a run of the entry to the workers: a mapping's through its mapping task (as beat
    sends it), any other through the entry task. By name: tasks imports the services that
    import this module."""
    if mapping_id is not None:
        kwargs: dict[str, object] = {"entry": entry_id}
        if full:
            kwargs["full"] = True
        current_app.send_task(
            MAPPING_TASK, args=[mapping_id], kwargs=kwargs, countdown=max(0.0, countdown)
        )
    else:
        current_app.send_task(ENTRY_TASK, args=[entry_id], countdown=max(0.0, countdown))


def _send_on_commit(entry: JobQueueEntry, countdown: float = 0.0) -> None:
    mapping_id = entry.mapping_id if entry.job == Job.MAPPING else None
    transaction.on_commit(partial(_entry_send, entry.pk, mapping_id, entry.full, countdown))


# --- the one place an entry meets its PeriodicTask -----------------------------------------


def entry_task_apply(*, entry: JobQueueEntry) -> None:
    """Make the entry's PeriodicTask follow it: enabled while the entry may run (ready or in
    process, its mapping enabled, the integration on), every `current_interval_minutes`."""
    task = entry.periodic_task
    if task is None:
        return
    mapping = entry.mapping
    enabled = (
        entry.status in (Status.READY, Status.IN_PROCESS, Status.FINISHED)
        and (mapping is None or mapping.enabled)
        and integration_enabled()
    )
    interval = interval_schedule(entry.current_interval_minutes)
    if task.enabled != enabled or task.interval_id != interval.pk:
        task.enabled = enabled
        task.interval = interval
        # save() (not a bulk update) so django_celery_beat notices the schedule change.
        task.save(update_fields=["enabled", "interval"])


def recurring_entry_create(
    *,
    job: str,
    name: str,
    task: str,
    description: str,
    interval_minutes: int,
    enabled: bool,
    mapping: IntegrationTableMapping | None = None,
    inactivity_timeout_minutes: int = 0,
) -> JobQueueEntry:
    """A recurring entry with its PeriodicTask (named `JOB_NAME_PREFIX + name`)."""
    entry = JobQueueEntry.objects.create(
        job=job,
        mapping=mapping,
        recurring=True,
        description=description,
        max_attempts=RECURRING_MAX_ATTEMPTS,
        interval_minutes=interval_minutes,
        current_interval_minutes=interval_minutes,
        inactivity_timeout_minutes=inactivity_timeout_minutes,
        next_run_at=timezone.now() + timedelta(minutes=interval_minutes),
    )
    kwargs = {"entry": entry.pk} if mapping is not None else {}
    entry.periodic_task = PeriodicTask.objects.create(
        name=job_name(name),
        task=task,
        interval=interval_schedule(interval_minutes),
        args=json.dumps([mapping.pk] if mapping is not None else []),
        kwargs=json.dumps(kwargs),
        enabled=enabled,
        description=description,
    )
    entry.save(update_fields=["periodic_task"])
    return entry


def mapping_description(mapping: IntegrationTableMapping) -> str:
    return f"{mapping.name} - CRM synchronization job"


def mapping_entry_create(*, mapping: IntegrationTableMapping, enabled: bool) -> JobQueueEntry:
    """The recurring incremental job of a mapping: its entry and PeriodicTask."""
    entry = recurring_entry_create(
        job=Job.MAPPING,
        name=mapping.name,
        task=MAPPING_TASK,
        description=mapping_description(mapping),
        interval_minutes=mapping.interval_minutes,
        inactivity_timeout_minutes=mapping.inactivity_timeout_minutes,
        enabled=enabled and mapping.enabled,
        mapping=mapping,
    )
    mapping.periodic_task = entry.periodic_task
    mapping.save(update_fields=["periodic_task"])
    return entry


def mapping_entry(mapping: IntegrationTableMapping) -> JobQueueEntry | None:
    return (
        JobQueueEntry.objects.select_related("periodic_task", "mapping")
        .filter(mapping=mapping, recurring=True)
        .first()
    )


def mapping_entry_apply(*, mapping: IntegrationTableMapping) -> None:
    """After a mapping changed (interval, inactivity timeout, enabled switch): its entry takes
    the new interval (starting again from it) and its PeriodicTask follows. A mapping with a
    PeriodicTask but no entry (made before entries existed) gets one."""
    entry = mapping_entry(mapping)
    if entry is None:
        if mapping.periodic_task is None:
            return
        entry = JobQueueEntry.objects.create(
            job=Job.MAPPING,
            mapping=mapping,
            recurring=True,
            description=mapping_description(mapping),
            max_attempts=RECURRING_MAX_ATTEMPTS,
            interval_minutes=mapping.interval_minutes,
            current_interval_minutes=mapping.interval_minutes,
            inactivity_timeout_minutes=mapping.inactivity_timeout_minutes,
            periodic_task=mapping.periodic_task,
        )
        task = mapping.periodic_task
        task.kwargs = json.dumps({"entry": entry.pk})
        task.save(update_fields=["kwargs"])
    entry.mapping = mapping
    task = mapping.periodic_task
    if task is not None and entry.periodic_task_id == task.pk:
        entry.periodic_task = task  # the caller's instance shows the change too
    if entry.interval_minutes != mapping.interval_minutes:
        entry.interval_minutes = mapping.interval_minutes
        entry.current_interval_minutes = mapping.interval_minutes
    entry.inactivity_timeout_minutes = mapping.inactivity_timeout_minutes
    entry.save(
        update_fields=["interval_minutes", "current_interval_minutes", "inactivity_timeout_minutes"]
    )
    entry_task_apply(entry=entry)


def system_entry(job: str) -> JobQueueEntry:
    """The recurring entry of a job beat schedules from the settings (the CRM pull, the log
    cleanup), made at its first run if missing."""
    minutes = {
        Job.CRM_PULL: max(1, round(settings.CRM_PULL_INTERVAL_SECONDS / 60)),
        Job.LOG_CLEANUP: 6 * 60,
    }.get(Job(job), default_interval_minutes())
    description = {
        Job.CRM_PULL: "CRM pull - changes read from the CRM",
        Job.LOG_CLEANUP: "Job log cleanup",
    }.get(Job(job), str(Job(job).label))
    entry, _created = JobQueueEntry.objects.get_or_create(
        job=job,
        recurring=True,
        mapping=None,
        defaults={
            "description": description,
            "interval_minutes": minutes,
            "current_interval_minutes": minutes,
            "max_attempts": RECURRING_MAX_ATTEMPTS,
        },
    )
    return entry


def recurring_job_entry(job: str) -> JobQueueEntry | None:
    """The recurring entry of a non-mapping job (item availability, ...), if it exists."""
    return JobQueueEntry.objects.filter(job=job, recurring=True, mapping=None).first()


# --- one-off entries ------------------------------------------------------------------------


def one_off_create(
    *,
    job: str,
    mapping: IntegrationTableMapping | None = None,
    full: bool = False,
    description: str = "",
) -> JobQueueEntry:
    """A one-off entry, sent to the workers once the transaction commits. An identical one
    still ready is reused (sent again: its run claims it once)."""
    entry = (
        JobQueueEntry.objects.filter(
            job=job, mapping=mapping, recurring=False, full=full, status=Status.READY
        )
        .order_by("pk")
        .first()
    )
    if entry is None:
        if not description:
            description = (
                f"{mapping.name} - {'full' if full else 'modified records'} synchronization"
                if mapping is not None
                else f"{Job(job).label} - run now"
            )
        entry = JobQueueEntry.objects.create(
            job=job,
            mapping=mapping,
            recurring=False,
            full=full,
            description=description,
            max_attempts=ONE_OFF_MAX_ATTEMPTS,
            interval_minutes=0,
            current_interval_minutes=0,
            earliest_start_at=timezone.now(),
            next_run_at=timezone.now(),
        )
    _send_on_commit(entry)
    return entry


# --- a run: claim and finish ----------------------------------------------------------------


def entry_claim(*, entry_id: int) -> JobQueueEntry | None:
    """Take a ready entry for a run (conditional UPDATE: a duplicate delivery finds it taken).
    An entry in process for longer than a task may run belonged to a worker that died."""
    now = timezone.now()
    stale = now - timedelta(seconds=int(settings.CELERY_TASK_TIME_LIMIT))
    taken = (
        JobQueueEntry.objects.filter(pk=entry_id)
        .filter(Q(status=Status.READY) | Q(status=Status.IN_PROCESS, last_started_at__lt=stale))
        .update(status=Status.IN_PROCESS, last_started_at=now, last_finished_at=None)
    )
    if taken != 1:
        return None
    return JobQueueEntry.objects.select_related("mapping", "periodic_task").get(pk=entry_id)


@dataclass(frozen=True)
class Outcome:
    """What a run of an entry came to: `error` when it failed, `idle` when it found nothing to
    do, `not_run` when it could not start (the mapping busy or disabled, no connection)."""

    error: str = ""
    idle: bool = False
    not_run: str = ""


# What a job of an app above this one does (the sales order jobs of salesorders/): registered
# by that app when it is ready, so that its entries run, pause and hold like every other.
_RUNNERS: dict[str, Callable[[], JobRun]] = {}


def job_runner_register(job: str, runner: Callable[[], JobRun]) -> None:
    """`runner` does one run of this JobQueueEntry.Job and returns its job row."""
    _RUNNERS[job] = runner


def job_runner(job: str) -> Callable[[], JobRun] | None:
    return _RUNNERS.get(job)


def outcome_of(jobs: Iterable[JobRun]) -> Outcome:
    jobs = list(jobs)
    failed = [j for j in jobs if j.status == JobRun.Status.FAILED]
    if failed:
        return Outcome(error="; ".join(f"{j.job_name}: {j.message}" for j in failed))
    skipped = [j for j in jobs if j.status == JobRun.Status.SKIPPED]
    if skipped and len(skipped) == len(jobs):
        return Outcome(not_run="; ".join(j.message for j in skipped))
    idle = all(not any(getattr(j, c) for c in WORK_COUNTERS) for j in jobs)
    return Outcome(idle=idle)


def jobs_did_work(jobs: Iterable[JobRun]) -> bool:
    """Did these runs move any record (the sign that more work may follow)?"""
    return any(j.inserted or j.modified or j.deleted or j.coupled or j.uncoupled for j in jobs)


def mapping_held(mapping_id: int) -> bool:
    """Is the mapping's recurring job on hold or in error? Its other runs (near-real-time,
    the CRM pull) wait with it."""
    return JobQueueEntry.objects.filter(
        mapping_id=mapping_id, recurring=True, status__in=(Status.ON_HOLD, Status.ERROR)
    ).exists()


def entry_finish(*, entry: JobQueueEntry, outcome: Outcome) -> JobQueueEntry:
    """Record a run's end: attempts, last error, the idle backoff (recurring), the next run;
    a one-off that failed runs again after RERUN_DELAY_SECONDS until its attempts are used."""
    now = timezone.now()
    entry.refresh_from_db()
    entry.last_finished_at = now
    held_meanwhile = entry.status == Status.ON_HOLD  # put on hold while it ran: stays so
    if outcome.error:
        entry.attempts += 1
        entry.last_error = outcome.error
    elif outcome.not_run:
        # A busy mapping is no failure of a recurring job (its next run comes); a one-off
        # counts it, so that it does not wait forever.
        entry.attempts += 0 if entry.recurring else 1
        entry.last_error = outcome.not_run
    else:
        entry.attempts = 0
        entry.last_error = ""
    if entry.recurring:
        base = entry.interval_minutes
        if outcome.idle and entry.inactivity_timeout_minutes > base:
            entry.current_interval_minutes = min(
                max(entry.current_interval_minutes * 2, base * 2),
                entry.inactivity_timeout_minutes,
            )
        elif not outcome.not_run:
            entry.current_interval_minutes = base
        entry.next_run_at = now + timedelta(minutes=entry.current_interval_minutes)
        if not held_meanwhile:
            out_of_attempts = outcome.error and entry.attempts >= entry.max_attempts
            entry.status = Status.ERROR if out_of_attempts else Status.READY
    elif not held_meanwhile:
        if (outcome.error or outcome.not_run) and entry.attempts < entry.max_attempts:
            entry.status = Status.READY
            entry.earliest_start_at = now + timedelta(seconds=RERUN_DELAY_SECONDS)
            entry.next_run_at = entry.earliest_start_at
            _send_on_commit(entry, countdown=RERUN_DELAY_SECONDS)
        else:
            entry.status = Status.ERROR if (outcome.error or outcome.not_run) else Status.FINISHED
            entry.next_run_at = None
    entry.save()
    entry_task_apply(entry=entry)
    return entry


# --- waking idle entries --------------------------------------------------------------------


def entries_wake(*, mapping_ids: Iterable[int]) -> list[int]:
    """Bring the backed-off recurring entries of these mappings back to their interval and run
    them SYNC_JOB_WAKE_DELAY_SECONDS from now. Returns the entries woken."""
    ids = list(mapping_ids)
    if not ids:
        return []
    backed_off = Q(
        job=Job.MAPPING,
        recurring=True,
        status=Status.READY,
        mapping_id__in=ids,
        current_interval_minutes__gt=F("interval_minutes"),
    )
    # Read first: most changes find nothing to wake, and a read takes no write lock.
    candidates = list(JobQueueEntry.objects.filter(backed_off).values_list("pk", flat=True))
    if not candidates:
        return []
    delay = float(settings.SYNC_JOB_WAKE_DELAY_SECONDS)
    woken = []
    for pk in candidates:
        claimed = JobQueueEntry.objects.filter(backed_off, pk=pk).update(
            current_interval_minutes=F("interval_minutes"),
            next_run_at=timezone.now() + timedelta(seconds=delay),
        )
        if claimed == 1:
            entry = JobQueueEntry.objects.select_related("mapping", "periodic_task").get(pk=pk)
            entry_task_apply(entry=entry)
            _send_on_commit(entry, countdown=delay)
            woken.append(pk)
    if woken:
        logger.info("job queue: woke entries %s, there is work", woken)
    return woken


def entries_wake_for_table(*, erp_table: str) -> list[int]:
    """An ERP record of `erp_table` ("erp.customer") was written: wake the enabled mappings
    that send it to the CRM."""
    ids = [
        m.pk
        for m in IntegrationTableMapping.objects.filter(
            enabled=True, direction__in=TO_CRM_DIRECTIONS
        ).only("pk", "erp_table")
        if m.erp_table.lower() == erp_table
    ]
    return entries_wake(mapping_ids=ids)


# --- automatic hold -------------------------------------------------------------------------


def mapping_failures_check(*, mapping: IntegrationTableMapping) -> JobQueueEntry | None:
    """Put the mapping's recurring entry on hold when its last SYNC_AUTO_HOLD_RUNS job runs
    (counted from its last resume) failed at SYNC_AUTO_HOLD_FAILURE_RATE or more. Returns the
    entry when it was put on hold now."""
    window = int(settings.SYNC_AUTO_HOLD_RUNS)
    threshold = float(settings.SYNC_AUTO_HOLD_FAILURE_RATE)
    entry = mapping_entry(mapping)
    if window <= 0 or entry is None or entry.status in (Status.ON_HOLD, Status.ERROR):
        return None
    runs = JobRun.objects.filter(
        mapping=mapping,
        kind=JobRun.Kind.SYNCHRONIZATION,
        status__in=(JobRun.Status.SUCCEEDED, JobRun.Status.FAILED),
    )
    if entry.failures_counted_from is not None:
        runs = runs.filter(started_at__gte=entry.failures_counted_from)
    last = list(runs.order_by("-started_at", "-id").values_list("status", "message")[:window])
    if len(last) < window:
        return None
    failed = [message for status, message in last if status == JobRun.Status.FAILED]
    if len(failed) / window < threshold:
        return None
    reason = _(
        "Put on hold automatically: %(failed)s of the last %(runs)s runs of %(name)s failed "
        "(threshold %(threshold)s%%). Last error: %(error)s"
    ) % {
        "failed": len(failed),
        "runs": window,
        "name": mapping.name,
        "threshold": round(threshold * 100),
        "error": failed[0] if failed else "—",
    }
    held = JobQueueEntry.objects.filter(
        pk=entry.pk, status__in=(Status.READY, Status.IN_PROCESS)
    ).update(status=Status.ON_HOLD, hold=Hold.AUTOMATIC, on_hold_reason=reason)
    if held != 1:
        return None
    entry.refresh_from_db()
    entry_task_apply(entry=entry)
    logger.warning("job queue: %s", reason)
    return entry


# --- actions of the page and the API --------------------------------------------------------


class EntryActionRefused(Exception):
    """The action does not apply to the entry in its state; the message says why."""


def _hold(entry: JobQueueEntry, *, hold: str, reason: str) -> JobQueueEntry:
    if entry.status in (Status.FINISHED,):
        raise EntryActionRefused(_("This job has finished: there is nothing to hold."))
    entry.status = Status.ON_HOLD
    entry.hold = hold
    entry.on_hold_reason = reason
    entry.save(update_fields=["status", "hold", "on_hold_reason"])
    entry_task_apply(entry=entry)
    return entry


@transaction.atomic
def entry_pause(*, entry: JobQueueEntry, by: str) -> JobQueueEntry:
    if entry.status == Status.ON_HOLD:
        raise EntryActionRefused(_("This job is on hold already."))
    return _hold(entry, hold=Hold.PAUSED, reason=_("Paused by %(user)s.") % {"user": by})


@transaction.atomic
def entry_hold(*, entry: JobQueueEntry, reason: str, by: str) -> JobQueueEntry:
    reason = reason.strip()
    if not reason:
        raise EntryActionRefused(_("Say why the job is put on hold."))
    return _hold(
        entry, hold=Hold.MANUAL, reason=_("%(reason)s (%(user)s)") % {"reason": reason, "user": by}
    )


@transaction.atomic
def entry_resume(*, entry: JobQueueEntry) -> JobQueueEntry:
    """Back to ready (from on hold or error): attempts start again, the automatic hold counts
    failures from now, a recurring entry runs again at its interval, a one-off now."""
    if entry.status not in (Status.ON_HOLD, Status.ERROR):
        raise EntryActionRefused(_("Only a job on hold or in error can be resumed."))
    now = timezone.now()
    entry.status = Status.READY
    entry.hold = Hold.NONE
    entry.on_hold_reason = ""
    entry.attempts = 0
    entry.failures_counted_from = now
    if entry.recurring:
        entry.current_interval_minutes = entry.interval_minutes
        entry.next_run_at = now + timedelta(minutes=entry.interval_minutes)
    else:
        entry.earliest_start_at = now
        entry.next_run_at = now
        _send_on_commit(entry)
    entry.save()
    entry_task_apply(entry=entry)
    return entry


@transaction.atomic
def entry_run_now(*, entry: JobQueueEntry) -> JobQueueEntry:
    """Run the entry's job now as a one-off entry (a recurring one keeps its schedule and its
    state; a one-off still waiting is sent again)."""
    if entry.job == Job.MAPPING and entry.mapping is None:
        raise EntryActionRefused(_("The mapping of this job no longer exists."))
    if entry.job == Job.MAPPING and entry.mapping is not None and not entry.mapping.enabled:
        raise EntryActionRefused(
            _("%(name)s is disabled: enable it first.") % {"name": entry.mapping.name}
        )
    if not integration_enabled():
        raise EntryActionRefused(
            _("The integration is disabled: enable it on the connection page first.")
        )
    if not entry.recurring:
        if entry.status != Status.READY:
            raise EntryActionRefused(_("Only a ready one-off job can be run now."))
        _send_on_commit(entry)
        return entry
    return one_off_create(job=entry.job, mapping=entry.mapping)


# --- reads ------------------------------------------------------------------------------------


def entry_list(*, status: str = "", mapping_id: int | None = None) -> QuerySet[JobQueueEntry]:
    rows = JobQueueEntry.objects.select_related("mapping", "periodic_task")
    if status:
        rows = rows.filter(status=status)
    if mapping_id is not None:
        rows = rows.filter(mapping_id=mapping_id)
    return rows


def entries_on_hold() -> list[JobQueueEntry]:
    """The entries on hold or in error, with why: the connection page and /sync/ show them."""
    return list(
        JobQueueEntry.objects.select_related("mapping")
        .filter(status__in=(Status.ON_HOLD, Status.ERROR))
        .order_by("-recurring", "mapping__priority", "pk")
    )


def entries_old_delete(*, before: object) -> int:
    """Finished and failed one-off entries older than `before` (with the job logs)."""
    deleted, _ = JobQueueEntry.objects.filter(
        recurring=False,
        status__in=(Status.FINISHED, Status.ERROR),
        created_at__lt=before,
    ).delete()
    return deleted
