"""Large tables in a full synchronization: a line's to-CRM pass split into chunks that several
workers share (issue #11).

- A line whose mapping sends ERP records to the CRM and whose table holds more than
  FULLSYNC_CHUNK_ROWS records is cut into primary-key slices (`ErpTable.pk_ranges`), one
  `FullSyncChunk` row each, and one Celery task per chunk (`syncjobs.fullsync_chunk`). The line
  holds its mapping under a lease its chunks share (`lease_take(shared=...)`): they run at the
  same time, a scheduled run of the mapping waits.
- A chunk task claims its chunk (`claimed_by`, `claimed_until`), runs the engine's full to-CRM
  pass on that slice only, adds the pass's counters, errors and changes to the line's to-CRM
  job run, and marks the chunk done, all in one transaction. Then it takes any other chunk of the
  line nobody runs (not started yet, or whose worker died), so a worker that is free never waits
  for a message.
- A worker killed at any moment (kill -9) loses its current chunk only: the chunk is claimed
  again once its process is gone (same host: at once) or its claim expired (another host,
  SYNC_LEASE_SECONDS; the engine renews it after every chunk of records it writes), and redone
  from its start. The engine's pending couplings (the CRM id is chosen and committed before the
  CRM is called) make the redo write the same rows again, never a second one.
- When every chunk has ended, the line's task runs again (`fullsync.line_run`): it closes the
  to-CRM job run, moves the mapping's watermark, frees the mapping and runs the from-CRM pass
  (one task: Dataverse's change tracking reads one delta link per table, which cannot be split).
- `chunks_sweep()` (every minute through beat, and when a worker starts) sends the task of a
  chunk whose worker died while no other task of its line was left to take it over.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .engine import synchronize
from .engine.erp import ErpTable, MappingBroken, PkRange
from .engine.run import (
    MappingBusy,
    NoConnection,
    holder_is_dead,
    job_complete,
    lease_release,
    lease_seconds,
    lease_take,
)
from .models import (
    JOB_COUNTERS,
    CrmCoupling,
    Direction,
    FullSyncChunk,
    FullSyncLine,
    FullSyncRun,
    IntegrationTableMapping,
    JobRun,
    RecordChange,
    SyncError,
    UidType,
)

logger = logging.getLogger(__name__)

LINE_TASK = "syncjobs.fullsync_line"
CHUNK_TASK = "syncjobs.fullsync_chunk"
# FullSyncLine.running_by while its to-CRM pass runs in its chunks, and once they all ended
# (the line's task then finishes the line).
CHUNKED = "chunks"
CHUNKS_DONE = "chunks-done"
COUNTERS = JOB_COUNTERS
ENDED = (FullSyncChunk.Status.DONE, FullSyncChunk.Status.FAILED)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def line_holder(line_id: int) -> str:
    """The mapping's lease holder shared by the chunks of one line."""
    return f"fullsync-line:{line_id}"


def _send(task: str, ids: Iterable[int]) -> None:
    # By name: tasks imports this module.
    for pk in ids:
        current_app.send_task(task, args=[pk])


# --- splitting a line -------------------------------------------------------------------------


def chunks_plan(*, mapping: IntegrationTableMapping) -> list[PkRange]:
    """The slices of the mapping's to-CRM pass, or [] when it runs as one task (a table of at
    most FULLSYNC_CHUNK_ROWS records, option mappings, CRM -> ERP only, chunking off)."""
    size = int(settings.FULLSYNC_CHUNK_ROWS)
    if size <= 0 or mapping.crm_uid_type == UidType.OPTION:
        return []
    if mapping.direction not in (Direction.TO_CRM, Direction.BIDIRECTIONAL):
        return []
    try:
        ranges = ErpTable(mapping.erp_table, mapping.table_filter).pk_ranges(size)
    except MappingBroken:
        # The engine's pass reports it, as for any table.
        return []
    return ranges if len(ranges) > 1 else []


def line_chunked(*, line: FullSyncLine) -> bool:
    return FullSyncChunk.objects.filter(line=line).exists()


def chunks_start(
    *, line: FullSyncLine, mapping: IntegrationTableMapping, ranges: Sequence[PkRange]
) -> None:
    """Record the line's chunks and its to-CRM job run and queue one task per chunk. Raises
    MappingBusy when another run holds the mapping."""
    if not lease_take(mapping, shared=line_holder(line.pk)):
        raise MappingBusy(f"The mapping {mapping.name} is being synchronized already.")
    with transaction.atomic():
        job = JobRun.objects.create(
            job_name=mapping.name,
            mapping=mapping,
            kind=JobRun.Kind.SYNCHRONIZATION,
            direction=Direction.TO_CRM,
            full=True,
            status=JobRun.Status.RUNNING,
        )
        FullSyncChunk.objects.bulk_create(
            FullSyncChunk(line=line, position=n, after_pk=r.after, upto_pk=r.upto)
            for n, r in enumerate(ranges)
        )
        FullSyncLine.objects.filter(pk=line.pk).update(to_crm_job=job, running_by=CHUNKED)
        ids = list(FullSyncChunk.objects.filter(line=line).values_list("pk", flat=True))
        transaction.on_commit(partial(_send, CHUNK_TASK, ids))
    logger.info("Full synchronization line %s (%s): %s chunks", line.pk, line.name, len(ids))


def chunks_ended(*, line: FullSyncLine) -> bool:
    return not FullSyncChunk.objects.filter(line=line).exclude(status__in=ENDED).exists()


def chunks_resume(*, line: FullSyncLine, mapping: IntegrationTableMapping) -> None:
    """Run what is left of a line's chunks: the failed ones again (the line is retried after
    the CRM did not answer), and those not done (a line task delivered again). Raises
    MappingBusy when another run holds the mapping meanwhile."""
    if not lease_take(mapping, shared=line_holder(line.pk)):
        raise MappingBusy(f"The mapping {mapping.name} is being synchronized already.")
    with transaction.atomic():
        FullSyncChunk.objects.filter(line=line, status=FullSyncChunk.Status.FAILED).update(
            status=FullSyncChunk.Status.PENDING, message="", claimed_by="", claimed_until=None
        )
        if line.to_crm_job_id is not None:
            JobRun.objects.filter(pk=line.to_crm_job_id).update(
                status=JobRun.Status.RUNNING, message="", finished_at=None
            )
        FullSyncLine.objects.filter(pk=line.pk).update(running_by=CHUNKED)
        ids = list(
            FullSyncChunk.objects.filter(line=line)
            .exclude(status=FullSyncChunk.Status.DONE)
            .values_list("pk", flat=True)
        )
        if ids:
            transaction.on_commit(partial(_send, CHUNK_TASK, ids))
        else:
            _ended(line.pk)


def chunks_finish(*, line: FullSyncLine, mapping: IntegrationTableMapping) -> JobRun | None:
    """Every chunk of the line has ended: close its to-CRM job run (failed, with the first
    failed chunk's reason, when one failed), move the mapping's watermark to the pass's start
    and free the mapping."""
    failed = (
        FullSyncChunk.objects.filter(line=line, status=FullSyncChunk.Status.FAILED)
        .order_by("position")
        .first()
    )
    job = line.to_crm_job
    if job is not None and job.status == JobRun.Status.RUNNING:
        message = ""
        if failed is not None:
            # "stopped: ..." is what the line reads a stopped pass by (fullsync.line_run).
            message = failed.message
            if not message.startswith("stopped"):
                message = f"stopped: chunk {failed.position + 1}: {message}"
        job_complete(job, message)
        if failed is None:
            IntegrationTableMapping.objects.filter(pk=mapping.pk).update(
                erp_watermark_at=job.started_at
            )
    lease_release(mapping.pk, shared=line_holder(line.pk))
    return job


def chunks_delete(*, line: FullSyncLine) -> None:
    """A restarted line splits its table again."""
    FullSyncChunk.objects.filter(line=line).delete()


# --- running a chunk --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkOutcome:
    ran: int  # chunks this task ran
    retry_in: int | None = None  # seconds: the task sends itself again (the mapping is busy)


def _stale(chunk: FullSyncChunk, now: datetime) -> bool:
    """Is the running chunk's worker gone (its process on this host, or its claim expired)?"""
    if chunk.claimed_by and holder_is_dead(chunk.claimed_by):
        return True
    return chunk.claimed_until is None or chunk.claimed_until < now


def _claim(chunk_id: int) -> FullSyncChunk | None:
    """Take the chunk for this process: a pending one, or one whose worker died. None when it
    is done, running elsewhere, or its line is not running its chunks."""
    now = timezone.now()
    chunk = FullSyncChunk.objects.select_related("line__run").filter(pk=chunk_id).first()
    if chunk is None:
        return None
    line = chunk.line
    if (
        line.status != FullSyncLine.Status.IN_PROCESS
        or line.running_by != CHUNKED
        or line.run.status != FullSyncRun.Status.RUNNING
    ):
        return None
    claimable = Q(status=FullSyncChunk.Status.PENDING)
    taken_over = chunk.status == FullSyncChunk.Status.RUNNING and _stale(chunk, now)
    if taken_over:
        claimable |= Q(
            status=FullSyncChunk.Status.RUNNING,
            claimed_by=chunk.claimed_by,
            attempts=chunk.attempts,
        )
    taken = FullSyncChunk.objects.filter(claimable, pk=chunk.pk).update(
        status=FullSyncChunk.Status.RUNNING,
        claimed_by=_owner(),
        claimed_until=now + timedelta(seconds=lease_seconds()),
        attempts=F("attempts") + 1,
        started_at=now,
        finished_at=None,
        message="",
        job=None,
    )
    if not taken:
        return None
    if taken_over:
        logger.warning(
            "Full synchronization chunk %s of line %s: its worker %s stopped; run again",
            chunk.pk,
            line.pk,
            chunk.claimed_by,
        )
        if chunk.job_id is not None:
            # Its counters are not the line's: the chunk is redone from its start.
            JobRun.objects.filter(pk=chunk.job_id, status=JobRun.Status.RUNNING).update(
                status=JobRun.Status.FAILED,
                finished_at=now,
                message="interrupted: the worker running this chunk stopped; "
                "the chunk was run again",
            )
    chunk.refresh_from_db()
    return chunk


def _claim_next(line_id: int) -> FullSyncChunk | None:
    """Another chunk of the line nobody runs: not started yet, or its worker died."""
    now = timezone.now()
    candidates = (
        FullSyncChunk.objects.filter(line_id=line_id)
        .filter(
            Q(status=FullSyncChunk.Status.PENDING)
            | Q(status=FullSyncChunk.Status.RUNNING, claimed_until__lt=now)
            | Q(status=FullSyncChunk.Status.RUNNING, claimed_by__startswith=socket.gethostname())
        )
        .order_by("position")
        .values_list("pk", flat=True)
    )
    for pk in candidates:
        chunk = _claim(pk)
        if chunk is not None:
            return chunk
    return None


def _records(job: JobRun) -> int:
    return sum(getattr(job, c) for c in COUNTERS if c not in ("coupled", "uncoupled"))


def _merge(job: JobRun, into_id: int) -> None:
    """A chunk's job run becomes part of its line's: counters added, errors and changes moved,
    couplings pointed at it; the chunk's own row goes."""
    JobRun.objects.filter(pk=into_id).update(**{c: F(c) + getattr(job, c) for c in COUNTERS})
    SyncError.objects.filter(job=job).update(job_id=into_id)
    RecordChange.objects.filter(job=job).update(job_id=into_id)
    CrmCoupling.objects.filter(last_job_to_crm=job.pk).update(last_job_to_crm=into_id)
    job.delete()


def _ended(line_id: int) -> None:
    """Inside the transaction that ended a chunk: when it was the last, the line's task
    finishes the line (sent once: only the caller that flips the marker sends it)."""
    if FullSyncChunk.objects.filter(line_id=line_id).exclude(status__in=ENDED).exists():
        return
    flipped = FullSyncLine.objects.filter(
        pk=line_id, status=FullSyncLine.Status.IN_PROCESS, running_by=CHUNKED
    ).update(running_by=CHUNKS_DONE)
    if flipped:
        transaction.on_commit(partial(_send, LINE_TASK, [line_id]))


def _settle(chunk: FullSyncChunk, job: JobRun | None, message: str) -> None:
    """Record the chunk's end: done (its job merged into the line's) or failed (`message`)."""
    with transaction.atomic():
        # Serializes the chunks of a line as they end: one of them is the last.
        line = FullSyncLine.objects.select_for_update().get(pk=chunk.line_id)
        ok = not message
        changed = FullSyncChunk.objects.filter(
            pk=chunk.pk, claimed_by=_owner(), status=FullSyncChunk.Status.RUNNING
        ).update(
            status=FullSyncChunk.Status.DONE if ok else FullSyncChunk.Status.FAILED,
            message=message,
            records=_records(job) if ok and job is not None else 0,
            finished_at=timezone.now(),
            claimed_until=None,
        )
        if not changed:
            # Taken over meanwhile (this worker looked dead): the other run counts.
            return
        if ok and job is not None and line.to_crm_job_id is not None:
            _merge(job, line.to_crm_job_id)
        _ended(line.pk)


def _run(chunk: FullSyncChunk) -> bool:
    """Run one claimed chunk; True when the mapping was busy (the chunk is pending again)."""
    line = FullSyncLine.objects.select_related("mapping").get(pk=chunk.line_id)
    mapping = line.mapping
    owner = _owner()

    def progress(job: JobRun) -> None:
        FullSyncChunk.objects.filter(
            pk=chunk.pk, claimed_by=owner, status=FullSyncChunk.Status.RUNNING
        ).update(job=job, claimed_until=timezone.now() + timedelta(seconds=lease_seconds()))

    try:
        if mapping is None:
            raise MappingBroken("The mapping was deleted.")
        result = synchronize(
            mapping,
            direction=Direction.TO_CRM,
            full=True,
            erp_range=PkRange(after=chunk.after_pk, upto=chunk.upto_pk),
            shared_lease=line_holder(line.pk),
            on_progress=progress,
        )
    except MappingBusy:
        FullSyncChunk.objects.filter(pk=chunk.pk, claimed_by=owner).update(
            status=FullSyncChunk.Status.PENDING,
            claimed_by="",
            claimed_until=None,
            attempts=F("attempts") - 1,
        )
        return True
    except (MappingBroken, NoConnection) as exc:
        _settle(chunk, None, f"stopped: {exc}")
        return False
    except Exception as exc:
        # A time limit or a bug: the chunk must not stay running; the line says it failed.
        logger.exception("Full synchronization chunk %s of line %s failed", chunk.pk, line.pk)
        _settle(chunk, None, f"interrupted: {exc!r}")
        return False
    job = result.jobs[0]
    if job.status == JobRun.Status.FAILED and job.message.startswith("stopped"):
        _settle(chunk, None, job.message)
    else:
        _settle(chunk, job, "")
    return False


def chunk_work(*, chunk_id: int) -> ChunkOutcome:
    """Run the chunk, then any other chunk of its line nobody runs. Idempotent: a chunk that is
    done or running in a live process is left alone."""
    chunk = _claim(chunk_id)
    ran = 0
    while chunk is not None:
        if _run(chunk):
            return ChunkOutcome(ran=ran, retry_in=int(settings.FULLSYNC_BUSY_RETRY_SECONDS))
        ran += 1
        chunk = _claim_next(chunk.line_id)
    return ChunkOutcome(ran=ran)


def chunks_sweep() -> int:
    """Send again the tasks a dead worker took with it: a chunk whose worker died (and, when
    none of its line runs any more, the line's first pending chunk, which takes the others),
    and the task finishing a line whose chunks all ended. Returns how many were sent."""
    run = FullSyncRun.objects.filter(status=FullSyncRun.Status.RUNNING).first()
    if run is None:
        return 0
    now = timezone.now()
    chunk_ids: list[int] = []
    line_ids: list[int] = []
    for line in run.lines.filter(
        status=FullSyncLine.Status.IN_PROCESS, running_by__in=[CHUNKED, CHUNKS_DONE]
    ):
        if line.running_by == CHUNKS_DONE:
            line_ids.append(line.pk)
            continue
        running = list(line.chunks.filter(status=FullSyncChunk.Status.RUNNING))
        stale = [c.pk for c in running if _stale(c, now)]
        chunk_ids += stale
        if len(stale) == len(running):
            first = line.chunks.filter(status=FullSyncChunk.Status.PENDING).first()
            if first is not None:
                chunk_ids.append(first.pk)
    _send(CHUNK_TASK, chunk_ids)
    _send(LINE_TASK, line_ids)
    return len(chunk_ids) + len(line_ids)
