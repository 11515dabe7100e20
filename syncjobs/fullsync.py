"""Full synchronization ("CRM Full Synch. Review", docs/reference/business-central.md §4):
services and selectors.

- `fullsync_prepare()` builds a run in status "ready" with one line per mapping in scope
  (§4.2), each with both sides' counts and the initial synchronization recommendation (§4.5).
- `fullsync_start()` starts it: every line whose dependencies (the mappings of its dependency
  filter that are lines of the run) have finished is queued, one Celery task per line
  (`syncjobs.fullsync_line`, sent after the transaction commits); the others are on hold.
- `line_run()` is what that task calls: it claims the line, runs the engine's full pass of the
  mapping (`syncjobs.engine.synchronize(full=True)`), records the job runs on the line, and
  `run_advance()` queues the lines that can start now. Several workers run independent lines
  in parallel.
- A line that failed (the CRM stayed unreachable through the retries, the mapping is broken)
  blocks its dependants, which say so, until it is restarted (`line_restart()`).
- One full synchronization runs at a time: the database refuses a second running row
  (FullSyncRun's constraint), so a second start fails with `FullSyncBusy` from anywhere.
- A "couple records first" recommendation is accepted from coupling/ (match-based coupling
  lives above this layer): fullsync_advice.py holds the hooks it calls.
- A large table's to-CRM pass runs in chunks that several workers share
  (syncjobs/fullsync_chunks.py): the line's task splits it and returns; when the last chunk has
  ended the line's task runs again and finishes the line (the from-CRM pass, its dependants).
"""

from __future__ import annotations

import copy
import logging
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import FieldError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from connection.clients import client_get
from connection.models import OwnerMode
from connection.selectors import crm_connection_get, crm_connection_settings
from dataverse import errors as dv

from . import engine, fullsync_chunks
from .engine.erp import ErpTable, MappingBroken
from .engine.run import MappingBusy, NoConnection, holder_is_dead, lease_seconds
from .models import (
    Direction,
    FullSyncChunk,
    FullSyncLine,
    FullSyncRun,
    IntegrationTableMapping,
    JobRun,
    Recommendation,
    UidType,
)
from .services import children_synchronize, dependants_wake
from .validation import erp_model

logger = logging.getLogger(__name__)

LINE_TASK = fullsync_chunks.LINE_TASK
# The engine's message for a pass stopped because the CRM could not be reached (engine/run.py):
# worth trying again; any other stopped pass (a broken mapping) is not.
TRANSIENT_PREFIX = "stopped: the CRM did not answer"
SALESPEOPLE = "SALESPEOPLE"
# Dataverse's $count stops at 5000.
COUNT_LIMIT = 5000
ACTIVE_LINE = (FullSyncLine.Status.READY, FullSyncLine.Status.IN_PROCESS)


class FullSyncError(Exception):
    """A full synchronization action that cannot be done now; `.message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FullSyncBusy(FullSyncError):
    """A full synchronization is running already."""


# --- selectors -----------------------------------------------------------------------------


def fullsync_current() -> FullSyncRun | None:
    """The running full synchronization, else the latest one (or None)."""
    running = FullSyncRun.objects.filter(status=FullSyncRun.Status.RUNNING).first()
    return running or FullSyncRun.objects.order_by("-created_at", "-id").first()


def fullsync_running() -> FullSyncRun | None:
    return FullSyncRun.objects.filter(status=FullSyncRun.Status.RUNNING).first()


def fullsync_lines(*, run: FullSyncRun) -> list[FullSyncLine]:
    """The run's lines. A line in process shows the job runs its pass is writing (the engine
    creates them inside `synchronize` and flushes their counters every chunk); the line
    records them when the pass returns."""
    lines = list(
        run.lines.select_related("to_crm_job", "from_crm_job", "mapping").order_by(
            "position", "name"
        )
    )
    for line in lines:
        if line.status != FullSyncLine.Status.IN_PROCESS or line.started_at is None:
            continue
        jobs = JobRun.objects.filter(
            mapping_id=line.mapping_id,
            full=True,
            kind=JobRun.Kind.SYNCHRONIZATION,
            started_at__gte=line.started_at,
        ).order_by("-id")
        if line.to_crm_job is None:
            line.to_crm_job = jobs.filter(direction=Direction.TO_CRM).first()
        elif line.to_crm_job.status == JobRun.Status.RUNNING:
            line.to_crm_job = _with_running_chunks(line, line.to_crm_job)
        if line.from_crm_job is None:
            line.from_crm_job = jobs.filter(direction=Direction.FROM_CRM).first()
    return lines


def _with_running_chunks(line: FullSyncLine, job: JobRun) -> JobRun:
    """A chunked line's to-CRM job holds its finished chunks; the chunks running now add what
    they have done so far (their job runs' counters, written every chunk of records). A copy:
    nothing is saved."""
    running = FullSyncChunk.objects.filter(
        line=line, status=FullSyncChunk.Status.RUNNING, job__isnull=False
    ).aggregate(**{c: Sum(f"job__{c}") for c in fullsync_chunks.COUNTERS})
    if not any(running.values()):
        return job
    shown = copy.copy(job)
    for counter, value in running.items():
        setattr(shown, counter, getattr(job, counter) + (value or 0))
    return shown


def _done_of(job: JobRun | None, *, options: bool) -> int:
    if job is None:
        return 0
    done = (
        job.inserted
        + job.modified
        + job.deleted
        + job.unchanged
        + job.skipped
        + job.failed
        + job.conflicts
    )
    # An option mapping couples option values without counting them otherwise.
    return done + (job.coupled if options else 0)


@dataclass(frozen=True)
class LineProgress:
    done: int
    total: int | None
    rate: float | None  # records per second
    seconds_left: int | None

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, int(100 * self.done / self.total))


def line_progress(*, line: FullSyncLine, now: Any = None) -> LineProgress:
    """Records done / total, rate and time left of a line, from its job runs' counters (which
    the engine writes every chunk) and both sides' counts."""
    now = now or timezone.now()
    options = line.mapping is not None and line.mapping.crm_uid_type == UidType.OPTION
    to_job, from_job = line.to_crm_job, line.from_crm_job
    done = _done_of(to_job, options=options) + _done_of(from_job, options=options)
    total: int | None = 0
    if line.direction in (Direction.TO_CRM, Direction.BIDIRECTIONAL):
        total = None if line.erp_count is None else (total or 0) + line.erp_count
    if line.direction in (Direction.FROM_CRM, Direction.BIDIRECTIONAL) and total is not None:
        if line.crm_count is None:
            total = None
        else:
            # The from-CRM pass also reads the rows the to-CRM pass has just created.
            total += line.crm_count + (to_job.inserted if to_job else 0)
    if line.status == FullSyncLine.Status.FINISHED:
        total = done
    elif total is not None:
        total = max(total, done)
    rate = seconds_left = None
    if line.started_at and line.status == FullSyncLine.Status.IN_PROCESS:
        elapsed = (now - line.started_at).total_seconds()
        if elapsed > 0 and done:
            rate = done / elapsed
            if total is not None:
                seconds_left = int((total - done) / rate)
    elif line.started_at and line.finished_at and done:
        elapsed = (line.finished_at - line.started_at).total_seconds()
        rate = done / elapsed if elapsed > 0 else None
    return LineProgress(done=done, total=total, rate=rate, seconds_left=seconds_left)


def lines_with_data_on_both_sides(*, run: FullSyncRun) -> list[FullSyncLine]:
    """Lines where the ERP and the CRM both hold records: a full synchronization would create
    duplicates of the records that are not coupled yet (couple them first)."""
    return [line for line in fullsync_lines(run=run) if line.erp_count and line.crm_count]


def _job_dict(job: JobRun | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "url": f"/sync/runs/{job.pk}/",
        "inserted": job.inserted,
        "modified": job.modified,
        "deleted": job.deleted,
        "unchanged": job.unchanged,
        "skipped": job.skipped,
        "failed": job.failed,
        "coupled": job.coupled,
        "conflicts": job.conflicts,
        "message": job.message,
    }


def fullsync_status(*, run: FullSyncRun | None = None) -> dict[str, Any]:
    """The run and its lines as plain data: the review page's poller, the REST API and the
    `fullsync` command read this."""
    run = run if run is not None else fullsync_current()
    if run is None:
        return {"run": None, "lines": [], "done": 0, "total": 0, "percent": None}
    run.refresh_from_db()
    now = timezone.now()
    lines = []
    done_all = total_all = 0
    known = True
    chunks = _chunk_counts(run)
    for line in fullsync_lines(run=run):
        progress = line_progress(line=line, now=now)
        done_all += progress.done
        if progress.total is None:
            known = False
        else:
            total_all += progress.total
        lines.append(
            {
                "id": line.pk,
                "name": line.name,
                "mapping": line.mapping_id,
                "dependency_filter": line.dependency_filter,
                "direction": line.direction,
                "direction_label": str(Direction(line.direction).label),
                "erp_count": line.erp_count,
                "crm_count": line.crm_count,
                "crm_count_capped": line.crm_count_capped,
                "count_error": line.count_error,
                "recommendation": line.recommendation,
                "recommendation_label": str(Recommendation(line.recommendation).label),
                "status": line.status,
                "status_label": str(FullSyncLine.Status(line.status).label),
                "message": line.message,
                "attempts": line.attempts,
                "started_at": line.started_at,
                "finished_at": line.finished_at,
                "done": progress.done,
                "total": progress.total,
                "percent": progress.percent,
                "rate": round(progress.rate, 1) if progress.rate is not None else None,
                "seconds_left": progress.seconds_left,
                # A large table's to-CRM pass in chunks shared by the workers: (done, total).
                "chunks_done": chunks.get(line.pk, (None, None))[0],
                "chunks_total": chunks.get(line.pk, (None, None))[1],
                "to_crm_job": _job_dict(line.to_crm_job),
                "from_crm_job": _job_dict(line.from_crm_job),
            }
        )
    percent = None
    if run.status == FullSyncRun.Status.FINISHED:
        percent = 100
    elif known and total_all:
        percent = min(100, int(100 * done_all / total_all))
    return {
        "run": {
            "id": run.pk,
            "status": run.status,
            "status_label": str(run.get_status_display()),
            "created_at": run.created_at,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "started_by": run.started_by.get_username() if run.started_by else None,
        },
        "lines": lines,
        "done": done_all,
        "total": total_all if known else None,
        "percent": percent,
    }


def _chunk_counts(run: FullSyncRun) -> dict[int, tuple[int, int]]:
    """Line id -> (chunks done, chunks) of the run's chunked lines."""
    rows = (
        FullSyncChunk.objects.filter(line__run=run)
        .values("line_id")
        .annotate(total=Count("id"), done=Count("id", filter=Q(status=FullSyncChunk.Status.DONE)))
    )
    return {row["line_id"]: (row["done"], row["total"]) for row in rows}


@dataclass(frozen=True)
class FullSyncSummary:
    run: FullSyncRun | None
    lines: int = 0
    finished: int = 0
    failed: tuple[str, ...] = ()


def fullsync_summary() -> FullSyncSummary:
    """The current run in a few numbers (the connection page, the setup's last step)."""
    run = fullsync_current()
    if run is None:
        return FullSyncSummary(run=None)
    statuses = list(run.lines.values_list("name", "status"))
    return FullSyncSummary(
        run=run,
        lines=len(statuses),
        finished=sum(1 for _n, s in statuses if s == FullSyncLine.Status.FINISHED),
        failed=tuple(n for n, s in statuses if s == FullSyncLine.Status.ERROR),
    )


# --- building the lines ---------------------------------------------------------------------


def _team_ownership() -> bool:
    connection = crm_connection_get()
    return connection is not None and connection.owner_mode != OwnerMode.SALESPERSON


def mappings_in_scope(*, only: Sequence[str] | None = None) -> list[IntegrationTableMapping]:
    """The mappings a full synchronization covers (§4.2): the enabled mappings with a
    scheduled job, option mappings included, sales orders only when bidirectional, and
    SALESPEOPLE not when CRM records are owned by a team (a default owner). Child mappings
    (POSTEDSALESLINE-INV) have no recurring job and run with their header. A mapping whose ERP
    table this ERP does not have has nothing to synchronize and would only fail the run."""
    mappings = IntegrationTableMapping.objects.filter(enabled=True, has_scheduled_job=True)
    result = []
    team = _team_ownership()
    for mapping in mappings.order_by("priority", "name"):
        if mapping.name == SALESPEOPLE and team:
            continue
        if mapping.crm_entity == "salesorder" and mapping.direction != Direction.BIDIRECTIONAL:
            continue
        if erp_model(mapping.erp_table) is None:
            continue
        result.append(mapping)
    if only:
        wanted = {name.upper() for name in only}
        unknown = wanted - {m.name.upper() for m in result}
        if unknown:
            raise FullSyncError(
                _("Not a mapping a full synchronization covers: %(names)s.")
                % {"names": ", ".join(sorted(unknown))}
            )
        result = [m for m in result if m.name.upper() in wanted]
    return result


@dataclass(frozen=True)
class Counts:
    erp: int | None
    crm: int | None
    crm_capped: bool = False
    error: str = ""
    # The CRM's currencies: exactly one with exchange rate 1.0 (§4.5's CURRENCY rule).
    crm_single_base_currency: bool = False


def erp_count(*, mapping: IntegrationTableMapping) -> int:
    """ERP records in the mapping's scope (its ERP table filter)."""
    return ErpTable(mapping.erp_table, mapping.table_filter).scope().count()


def _crm_client() -> Any:
    connection = crm_connection_settings()
    if connection is None:
        raise NoConnection(_("No CRM connection is set up."))
    return client_get(settings=connection)


def crm_count(*, mapping: IntegrationTableMapping, client: Any) -> tuple[int, bool, bool]:
    """CRM rows in the mapping's scope (its CRM table filter): (count, capped, one base
    currency). Option mappings count the options of their option set column."""
    if mapping.crm_uid_type == UidType.OPTION:
        return len(client.option_set(mapping.crm_entity, mapping.crm_uid_field)), False, False
    select = ["exchangerate"] if mapping.crm_entity == "transactioncurrency" else None
    page = client.get_page(
        mapping.crm_entity_set,
        select=select or [mapping.crm_uid_field],
        filter=mapping.integration_table_filter or None,
        count=True,
        top=2,
    )
    count = page.count if page.count is not None else len(page.rows)
    single = (
        select is not None and count == 1 and float(page.rows[0].get("exchangerate") or 0) == 1.0
    )
    return count, count >= COUNT_LIMIT, single


def counts_of(*, mapping: IntegrationTableMapping, client: Any) -> Counts:
    errors = []
    erp: int | None = None
    crm: int | None = None
    capped = single = False
    try:
        erp = erp_count(mapping=mapping)
    except (MappingBroken, FieldError, ValueError, TypeError) as exc:
        errors.append(_("The ERP records could not be counted: %(error)s") % {"error": exc})
    if client is None:
        errors.append(_("The CRM was not counted: no CRM connection is set up."))
    else:
        try:
            crm, capped, single = crm_count(mapping=mapping, client=client)
        except dv.DataverseError as exc:
            errors.append(_("The CRM could not be counted: %(error)s") % {"error": exc})
    return Counts(
        erp=erp, crm=crm, crm_capped=capped, error=" ".join(errors),
        crm_single_base_currency=single,
    )  # fmt: skip


def recommendation_of(*, mapping: IntegrationTableMapping, counts: Counts) -> str:
    """The initial synchronization recommendation (docs/reference/business-central.md §4.5)."""
    erp, crm = counts.erp, counts.crm
    if mapping.crm_entity == "systemuser":
        return Recommendation.FULL_SYNC
    if mapping.crm_uid_type == UidType.OPTION:
        if erp is None:
            return Recommendation.UNKNOWN
        return Recommendation.NO_RECORDS if erp == 0 else Recommendation.COUPLE
    if erp is None or crm is None:
        return Recommendation.UNKNOWN
    if mapping.crm_entity == "transactioncurrency":
        if counts.crm_single_base_currency:
            return Recommendation.FULL_SYNC
        return Recommendation.COUPLE
    if mapping.crm_entity == "uomschedule":
        if erp == 0 and crm <= 1:
            return Recommendation.NO_RECORDS
        if erp > 0 and crm > 1:
            return Recommendation.COUPLE
        return Recommendation.FULL_SYNC
    if erp == 0 and crm == 0:
        return Recommendation.NO_RECORDS
    if erp > 0 and crm > 0:
        return Recommendation.COUPLE
    return Recommendation.FULL_SYNC


@transaction.atomic
def fullsync_prepare(*, only: Sequence[str] | None = None) -> FullSyncRun:
    """Build a new run ("Generate" / "Reset", §4.2, §4.6): one line per mapping in scope with
    both sides' counts and its recommendation. A run that was prepared and not started is
    replaced; a running one refuses (FullSyncBusy)."""
    running = fullsync_running()
    if running is not None:
        raise FullSyncBusy(busy_message(running))
    mappings = mappings_in_scope(only=only)
    if not mappings:
        raise FullSyncError(
            _("No mapping to synchronize: enable a mapping with a scheduled job first.")
        )
    FullSyncRun.objects.filter(status=FullSyncRun.Status.READY).delete()
    run = FullSyncRun.objects.create(status=FullSyncRun.Status.READY)
    names = {m.name for m in mappings}
    try:
        client = _crm_client()
    except NoConnection:
        client = None
    lines = []
    for position, mapping in enumerate(mappings):
        counts = counts_of(mapping=mapping, client=client)
        lines.append(
            FullSyncLine(
                run=run,
                mapping=mapping,
                name=mapping.name,
                position=position,
                dependency_filter="|".join(d for d in mapping.dependencies if d in names),
                direction=mapping.direction,
                erp_count=counts.erp,
                crm_count=counts.crm,
                crm_count_capped=counts.crm_capped,
                count_error=counts.error,
                recommendation=recommendation_of(mapping=mapping, counts=counts),
            )
        )
    FullSyncLine.objects.bulk_create(lines)
    return run


# --- running --------------------------------------------------------------------------------


def busy_message(running: FullSyncRun) -> str:
    when = timezone.localtime(running.started_at or running.created_at)
    who = running.started_by.get_username() if running.started_by else _("a command")
    return _(
        "A full synchronization is running already (started %(when)s by %(who)s). "
        "Only one runs at a time: wait for it to finish."
    ) % {"when": when.strftime("%Y-%m-%d %H:%M"), "who": who}


def _set_running(run: FullSyncRun, *, from_statuses: Iterable[str], **values: Any) -> bool:
    """Make the run the running one, refused by the database when another is running."""
    try:
        with transaction.atomic():
            changed = FullSyncRun.objects.filter(pk=run.pk, status__in=list(from_statuses)).update(
                status=FullSyncRun.Status.RUNNING, finished_at=None, **values
            )
    except IntegrityError as exc:
        running = fullsync_running()
        raise FullSyncBusy(
            busy_message(running)
            if running
            else _("A full synchronization is running already. Only one runs at a time.")
        ) from exc
    return changed == 1


def _user_or_none(user: AbstractBaseUser | AnonymousUser | None) -> Any:
    return user if user is not None and user.is_authenticated else None


@transaction.atomic
def fullsync_start(
    *, run: FullSyncRun | None = None, user: AbstractBaseUser | AnonymousUser | None = None
) -> FullSyncRun:
    """Start the prepared run (or `run`): queue the lines that can start, hold the others.

    Raises FullSyncBusy when a full synchronization is running, FullSyncError when there is no
    prepared run."""
    run = run or FullSyncRun.objects.filter(status=FullSyncRun.Status.READY).first()
    if run is None or run.status != FullSyncRun.Status.READY:
        running = fullsync_running()
        if running is not None:
            raise FullSyncBusy(busy_message(running))
        raise FullSyncError(_("Prepare the full synchronization first (Reset)."))
    if not _set_running(
        run,
        from_statuses=[FullSyncRun.Status.READY],
        started_at=timezone.now(),
        started_by=_user_or_none(user),
    ):
        running = fullsync_running()
        raise FullSyncBusy(
            busy_message(running) if running else _("This full synchronization has started.")
        )
    run.refresh_from_db()
    run_advance(run_id=run.pk)
    return run


def _line_send(line_id: int) -> None:
    # By name: tasks imports this module.
    current_app.send_task(LINE_TASK, args=[line_id])


def _queue(line: FullSyncLine) -> bool:
    """Mark the line ready and send its task once the transaction commits (only the caller
    that changed it sends, so two finishing dependencies never queue a line twice)."""
    changed = (
        FullSyncLine.objects.filter(pk=line.pk)
        .exclude(status__in=[*ACTIVE_LINE, FullSyncLine.Status.FINISHED])
        .update(status=FullSyncLine.Status.READY, message="", queued_at=timezone.now())
    )
    if changed:
        transaction.on_commit(partial(_line_send, line.pk))
    return bool(changed)


@transaction.atomic
def run_advance(*, run_id: int) -> FullSyncRun:
    """Queue every line of a running run whose dependencies have all finished; put the others
    on hold saying for which line they wait (or which failed); then close the run when nothing
    more can happen: finished when every line finished, error otherwise."""
    run = FullSyncRun.objects.select_for_update().get(pk=run_id)
    if run.status != FullSyncRun.Status.RUNNING:
        return run
    lines = list(run.lines.order_by("position", "name"))
    by_name = {line.name: line for line in lines}
    for line in lines:
        if line.status in (*ACTIVE_LINE, FullSyncLine.Status.FINISHED, FullSyncLine.Status.ERROR):
            continue
        deps = [by_name[d] for d in line.dependencies if d in by_name]
        failed = [d.name for d in deps if d.status == FullSyncLine.Status.ERROR]
        waiting = [d.name for d in deps if d.status != FullSyncLine.Status.FINISHED]
        if not waiting:
            _queue(line)
            continue
        if failed:
            message = _("Blocked: %(names)s failed; restart it.") % {"names": ", ".join(failed)}
        else:
            message = _("Waiting for %(names)s.") % {"names": ", ".join(waiting)}
        if line.status != FullSyncLine.Status.ON_HOLD or line.message != message:
            FullSyncLine.objects.filter(pk=line.pk).update(
                status=FullSyncLine.Status.ON_HOLD, message=message
            )
    statuses = list(run.lines.values_list("status", flat=True))
    if all(s == FullSyncLine.Status.FINISHED for s in statuses):
        final = FullSyncRun.Status.FINISHED
    elif any(s in ACTIVE_LINE for s in statuses):
        return run
    else:
        # Nothing running and nothing can start: a failed line blocks the rest.
        final = FullSyncRun.Status.ERROR
    FullSyncRun.objects.filter(pk=run.pk, status=FullSyncRun.Status.RUNNING).update(
        status=final, finished_at=timezone.now()
    )
    run.refresh_from_db()
    logger.info("Full synchronization %s: %s", run.pk, final)
    return run


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_gone(holder: str) -> bool:
    """Is `holder` ("host:pid") a process of this host that no longer exists?"""
    return holder_is_dead(holder)


def _claim(line_id: int) -> FullSyncLine | None:
    """Take the line for this process: a ready line, one whose chunks have all ended, or one
    whose worker died (a task delivered again after a crash: acks_late). None when it is done,
    running elsewhere (its chunks included) or gone."""
    line = FullSyncLine.objects.filter(pk=line_id).select_related("run").first()
    if line is None or line.run.status != FullSyncRun.Status.RUNNING:
        return None
    if line.status == FullSyncLine.Status.IN_PROCESS and line.running_by == (
        fullsync_chunks.CHUNKS_DONE
    ):
        # The line's pass went on in its chunks since it started: its start stays.
        taken = FullSyncLine.objects.filter(
            pk=line_id,
            status=FullSyncLine.Status.IN_PROCESS,
            running_by=fullsync_chunks.CHUNKS_DONE,
        ).update(running_by=_owner())
        if not taken:
            return None
        line.refresh_from_db()
        return line
    claimable = Q(status=FullSyncLine.Status.READY)
    if line.status == FullSyncLine.Status.IN_PROCESS and line.running_by:
        stale = timezone.now() - timedelta(seconds=lease_seconds())
        mapping_free = (
            line.mapping_id is not None
            and not IntegrationTableMapping.objects.filter(
                pk=line.mapping_id, running_until__gt=timezone.now()
            ).exists()
        )
        if _process_gone(line.running_by) or (
            mapping_free and line.started_at is not None and line.started_at < stale
        ):
            claimable |= Q(status=FullSyncLine.Status.IN_PROCESS, running_by=line.running_by)
    taken = FullSyncLine.objects.filter(claimable, pk=line_id).update(
        status=FullSyncLine.Status.IN_PROCESS,
        running_by=_owner(),
        started_at=timezone.now(),
        finished_at=None,
        message="",
    )
    if not taken:
        return None
    line.refresh_from_db()
    return line


@dataclass(frozen=True)
class LineOutcome:
    status: str  # the line's status afterwards ("" when the task had nothing to do)
    retry_in: int | None = None  # seconds: the task sends itself again


def _retry_delay(attempt: int) -> int:
    base = max(1, int(settings.FULLSYNC_RETRY_BACKOFF_SECONDS))
    return min(base * (2 ** max(0, attempt - 1)), 3600)


def _line_end(line: FullSyncLine, status: str, message: str) -> None:
    FullSyncLine.objects.filter(pk=line.pk, running_by=_owner()).update(
        status=status, message=message, finished_at=timezone.now(), running_by=""
    )


def _line_retry(line: FullSyncLine, message: str, delay: int) -> LineOutcome:
    FullSyncLine.objects.filter(pk=line.pk, running_by=_owner()).update(
        status=FullSyncLine.Status.READY, message=message, running_by="", queued_at=timezone.now()
    )
    return LineOutcome(status=FullSyncLine.Status.READY, retry_in=delay)


def engine_synchronize(mapping: IntegrationTableMapping) -> engine.EngineResult:
    """The engine's full run of one mapping, both directions the mapping has (a seam for
    tests), then its child mappings (an invoice's lines), which have no line of their own."""
    result = engine.synchronize(mapping, full=True)
    children_synchronize(mapping=mapping, full=True)
    return result


def _line_pass(line: FullSyncLine, mapping: IntegrationTableMapping) -> list[JobRun] | None:
    """The line's full pass: the engine's run of the mapping, or for a large table its chunks
    (None while they run) and then the from-CRM pass."""
    if not fullsync_chunks.line_chunked(line=line):
        ranges = fullsync_chunks.chunks_plan(mapping=mapping)
        if not ranges:
            return engine_synchronize(mapping).jobs
        fullsync_chunks.chunks_start(line=line, mapping=mapping, ranges=ranges)
        return None
    previous = line.to_crm_job
    if not fullsync_chunks.chunks_ended(line=line) or (previous is not None and _stopped(previous)):
        # Chunks left (a line task delivered again), or the line is tried again after its
        # chunks stopped (the CRM did not answer): those chunks run (again).
        fullsync_chunks.chunks_resume(line=line, mapping=mapping)
        return None
    to_crm = fullsync_chunks.chunks_finish(line=line, mapping=mapping)
    jobs = [to_crm] if to_crm is not None else []
    if to_crm is not None and _stopped(to_crm):
        return jobs
    if mapping.direction == Direction.BIDIRECTIONAL:
        jobs += engine.synchronize(mapping, direction=Direction.FROM_CRM, full=True).jobs
    return jobs


def _stopped(job: JobRun) -> bool:
    return job.status == JobRun.Status.FAILED and job.message.startswith("stopped")


def _record_jobs(line: FullSyncLine, jobs: Sequence[JobRun]) -> None:
    values: dict[str, Any] = {}
    for job in jobs:
        if job.direction == Direction.TO_CRM:
            values["to_crm_job"] = job
        elif job.direction == Direction.FROM_CRM:
            values["from_crm_job"] = job
    if values:
        FullSyncLine.objects.filter(pk=line.pk).update(**values)


def line_run(*, line_id: int) -> LineOutcome:
    """Run one line: the full synchronization of its mapping. Idempotent: a line that is
    finished, running in a live process, or whose run is not running is left alone."""
    line = _claim(line_id)
    if line is None:
        return LineOutcome(status="")
    mapping = line.mapping
    attempt = line.attempts + 1
    FullSyncLine.objects.filter(pk=line.pk).update(attempts=attempt)
    max_attempts = max(1, int(settings.FULLSYNC_MAX_ATTEMPTS))
    try:
        if mapping is None:
            raise MappingBroken(_("The mapping was deleted."))
        if not mapping.enabled:
            raise MappingBroken(_("The mapping %(name)s is disabled.") % {"name": mapping.name})
        jobs = _line_pass(line, mapping)
        if jobs is None:
            # Split into chunks, or chunks sent again: the chunk tasks do the work, and the
            # line's task comes back when they have all ended (not an attempt of its own).
            FullSyncLine.objects.filter(pk=line.pk).update(attempts=attempt - 1)
            return LineOutcome(status=FullSyncLine.Status.IN_PROCESS)
    except MappingBusy as exc:
        # Its scheduled job (or someone's "synchronize now") holds the mapping: try again
        # when that run has ended; not counted as an attempt.
        FullSyncLine.objects.filter(pk=line.pk).update(attempts=attempt - 1)
        busy = int(settings.FULLSYNC_BUSY_RETRY_SECONDS)
        return _line_retry(line, _("Waiting: %(error)s") % {"error": exc}, busy)
    except (MappingBroken, NoConnection) as exc:
        _line_end(line, FullSyncLine.Status.ERROR, str(exc))
        run_advance(run_id=line.run_id)
        return LineOutcome(status=FullSyncLine.Status.ERROR)
    except Exception as exc:
        # A time limit (SoftTimeLimitExceeded) or a bug: the line must not stay "in process"
        # forever. A process going down (SystemExit, a hard kill) leaves it in process: the
        # task delivered again after that takes it over (_claim).
        logger.exception("Full synchronization line %s (%s) failed", line.pk, line.name)
        _line_end(line, FullSyncLine.Status.ERROR, f"interrupted: {exc!r}")
        run_advance(run_id=line.run_id)
        return LineOutcome(status=FullSyncLine.Status.ERROR)
    _record_jobs(line, jobs)
    stopped = [j for j in jobs if _stopped(j)]
    transient = [j for j in stopped if j.message.startswith(TRANSIENT_PREFIX)]
    if transient and len(transient) == len(stopped) and attempt < max_attempts:
        delay = _retry_delay(attempt)
        return _line_retry(
            line,
            _("Attempt %(attempt)s of %(max)s failed, retrying in %(delay)s s: %(error)s")
            % {
                "attempt": attempt,
                "max": max_attempts,
                "delay": delay,
                "error": transient[0].message,
            },
            delay,
        )
    if stopped:
        _line_end(line, FullSyncLine.Status.ERROR, stopped[0].message)
    else:
        # Records that failed are on the job runs (their status says so); the line has done
        # its work and its dependants may start, as in the reference (§4.1: the job queue
        # entry finishes, the job's status shows the errors).
        _line_end(line, FullSyncLine.Status.FINISHED, "")
        if any(j.inserted or j.coupled or j.modified for j in jobs):
            dependants_wake(mapping=mapping)
    run_advance(run_id=line.run_id)
    line.refresh_from_db()
    return LineOutcome(status=line.status)


@transaction.atomic
def line_restart(*, line: FullSyncLine) -> FullSyncLine:
    """Run a failed (or finished) line again, and with it the lines it blocked (§4.6
    "Restart"). The run becomes the running one again (FullSyncBusy if another runs)."""
    line.refresh_from_db()
    if line.status not in (FullSyncLine.Status.ERROR, FullSyncLine.Status.FINISHED):
        raise FullSyncError(
            _("Only a line that failed or finished can be restarted; %(name)s is %(status)s.")
            % {"name": line.name, "status": FullSyncLine.Status(line.status).label}
        )
    run = line.run
    if run.status == FullSyncRun.Status.READY:
        raise FullSyncError(_("This full synchronization has not started."))
    if run.status != FullSyncRun.Status.RUNNING:
        _set_running(run, from_statuses=[FullSyncRun.Status.FINISHED, FullSyncRun.Status.ERROR])
    fullsync_chunks.chunks_delete(line=line)
    FullSyncLine.objects.filter(pk=line.pk).update(
        status=FullSyncLine.Status.NOT_STARTED,
        message="",
        attempts=0,
        to_crm_job=None,
        from_crm_job=None,
        started_at=None,
        finished_at=None,
        running_by="",
    )
    run_advance(run_id=run.pk)
    line.refresh_from_db()
    return line


def fullsync_reset(*, only: Sequence[str] | None = None) -> FullSyncRun:
    """Remove the lines and build them again with fresh counts (§4.6 "Reset")."""
    return fullsync_prepare(only=only)
