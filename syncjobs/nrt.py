"""Near-real-time synchronization and the change lag.

ERP → CRM: a change to a coupled ERP record (`save()`: Django's post_save; the bulk paths of
`erp.models.SyncedQuerySet`: `erp.models.records_changed`) is noted, after its transaction
commits, as a `PendingChange` of every enabled to-CRM mapping of its table, and one task per
mapping (`syncjobs.near_real_time`) is queued NEAR_REAL_TIME_DELAY_SECONDS later: the changes of
that window, and a record changing again, join the task already queued (`NearRealTimeSlot`,
claimed with a conditional UPDATE). The task synchronizes just those records with force=False,
so the engine's own fast path drops a record the CRM already has.

CRM → ERP: beat sends `syncjobs.crm_pull` every CRM_PULL_INTERVAL_SECONDS; it queues the
from-CRM pass of every enabled mapping that reads the CRM (delta links make a pass that finds
nothing one request).

The ERP stays unaware of all this: it sends signals, the receivers connect here
(`SyncjobsConfig.ready`), docs/architecture.md.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.signals import post_save
from django.utils import timezone

from connection.selectors import crm_connection_get
from erp.models import SyncedModel, records_changed

from . import engine, jobqueue
from .engine.run import MappingBusy, NoConnection
from .models import (
    ChangeLag,
    CrmCoupling,
    Direction,
    IntegrationTableMapping,
    JobQueueEntry,
    JobRun,
    NearRealTimeSlot,
    PendingChange,
    RecordChange,
)

logger = logging.getLogger("syncjobs.nrt")

TO_CRM_DIRECTIONS = (Direction.TO_CRM, Direction.BIDIRECTIONAL)
FROM_CRM_DIRECTIONS = (Direction.FROM_CRM, Direction.BIDIRECTIONAL)
# Records per near-real-time pass; more pending go in the next task.
BATCH = 1000


def enabled() -> bool:
    return bool(settings.NEAR_REAL_TIME_SYNC)


def integration_enabled() -> bool:
    connection = crm_connection_get()
    return bool(connection and connection.is_enabled)


# --- receivers ------------------------------------------------------------------------------


def on_record_saved(sender: type[SyncedModel], instance: SyncedModel, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return  # fixtures load raw
    # A new record is coupled to nothing yet: it only wakes its mappings' idle jobs, which
    # couple or create it.
    note = enabled() and not kwargs.get("created")
    _after_commit(sender, [instance.uuid], instance.modified_at, note=note)


def on_records_changed(
    sender: type[SyncedModel],
    modified_at: datetime,
    uuids: list[uuid.UUID] | None = None,
    **kwargs: Any,
) -> None:
    # An update() given an expression for modified_at (Now()): the instant is unknown here,
    # the scheduled job carries those rows.
    note = enabled() and isinstance(modified_at, datetime)
    _after_commit(sender, uuids, modified_at, note=note)


def _after_commit(
    model: type[SyncedModel], uuids: list[uuid.UUID] | None, modified_at: datetime, *, note: bool
) -> None:
    transaction.on_commit(
        partial(
            _note_safely, erp_table=model._meta.label_lower, uuids=uuids, at=modified_at, note=note
        )
    )


def _note_safely(
    *, erp_table: str, uuids: list[uuid.UUID] | None, at: datetime, note: bool = True
) -> None:
    # The ERP write has committed: a failure here must not fail it (the scheduled job still
    # carries the change).
    try:
        # Event-driven rescheduling (docs/reference/business-central.md §5.8): the mappings'
        # jobs that backed off while idle run again soon.
        jobqueue.entries_wake_for_table(erp_table=erp_table)
        if note:
            changes_note(erp_table=erp_table, uuids=uuids, at=at)
    except Exception:
        logger.exception("near-real-time: could not note changes of %s", erp_table)


def connect() -> None:
    """Listen to every synced ERP table (called once from SyncjobsConfig.ready)."""
    for model in _synced_models():
        post_save.connect(on_record_saved, sender=model, dispatch_uid=f"nrt-{model._meta.label}")
        records_changed.connect(
            on_records_changed, sender=model, dispatch_uid=f"nrt-bulk-{model._meta.label}"
        )


def _synced_models() -> list[type[SyncedModel]]:
    return [
        m
        for m in apps.get_app_config("erp").get_models()
        if issubclass(m, SyncedModel) and not m._meta.abstract
    ]


# --- noting changes -------------------------------------------------------------------------


def changes_note(*, erp_table: str, uuids: list[uuid.UUID] | None, at: datetime) -> int:
    """After commit: note the coupled records among the changed ones for each enabled to-CRM
    mapping of their table and queue its task. `uuids` None: the rows modified at `at` (a bulk
    update). Returns how many (mapping, record) pairs were noted."""
    mappings = [
        m
        for m in IntegrationTableMapping.objects.filter(
            enabled=True, direction__in=TO_CRM_DIRECTIONS
        )
        if m.erp_table.lower() == erp_table
    ]
    if not mappings or not integration_enabled():
        return 0
    couplings = CrmCoupling.objects.filter(
        erp_table=erp_table, state=CrmCoupling.State.COUPLED
    ).filter(
        # The engine's own write (a record it updated from the CRM) carries the same instant
        # as the coupling: nothing to send back.
        Q(erp_modified_at__isnull=True) | Q(erp_modified_at__lt=at)
    )
    if uuids is None:
        model = apps.get_model(erp_table)
        couplings = couplings.filter(
            erp_uuid__in=model._default_manager.filter(modified_at=at).values("uuid")
        )
    else:
        couplings = couplings.filter(erp_uuid__in=uuids)
    coupled = list(couplings.values_list("erp_uuid", flat=True))
    if not coupled:
        return 0
    noted = 0
    for mapping in mappings:
        PendingChange.objects.bulk_create(
            [PendingChange(mapping=mapping, erp_uuid=u, changed_at=at) for u in coupled],
            ignore_conflicts=True,
            batch_size=500,
        )
        noted += len(coupled)
        task_queue(mapping_id=mapping.pk)
    return noted


def task_queue(*, mapping_id: int, delay: float | None = None) -> bool:
    """Queue the mapping's near-real-time task unless one is queued already. True if sent."""
    delay = settings.NEAR_REAL_TIME_DELAY_SECONDS if delay is None else delay
    now = timezone.now()
    NearRealTimeSlot.objects.get_or_create(mapping_id=mapping_id)
    claimed = NearRealTimeSlot.objects.filter(
        Q(due_at__isnull=True) | Q(due_at__lt=now - timedelta(seconds=60)),
        mapping_id=mapping_id,
    ).update(due_at=now + timedelta(seconds=delay))
    # A slot due more than a minute ago belongs to a task that was lost (a broker wiped):
    # queue another rather than leave the changes to the scheduled job.
    if claimed != 1:
        return False
    # By name: tasks imports this module.
    current_app.send_task(
        "syncjobs.near_real_time", args=[mapping_id], countdown=max(0.0, float(delay))
    )
    return True


# --- the task's work ------------------------------------------------------------------------


def pending_synchronize(*, mapping_id: int) -> list[JobRun]:
    """Synchronize the pending changes of one mapping to the CRM (the task's body; it wakes
    the dependants when records went)."""
    # Free the slot first: a change from now on queues a new task (and joins this pass when it
    # is noted before the read below; the next task then finds nothing).
    NearRealTimeSlot.objects.filter(mapping_id=mapping_id).update(due_at=None)
    mapping = IntegrationTableMapping.objects.filter(pk=mapping_id).first()
    if mapping is None:
        return []
    rows = list(
        PendingChange.objects.filter(mapping=mapping)
        .order_by("changed_at", "pk")
        .values_list("pk", "erp_uuid", "changed_at")[:BATCH]
    )
    if not rows:
        return []
    PendingChange.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    if PendingChange.objects.filter(mapping=mapping).exists():
        task_queue(mapping_id=mapping.pk, delay=0)
    if not (
        enabled()
        and mapping.enabled
        and mapping.direction in TO_CRM_DIRECTIONS
        and integration_enabled()
        and not jobqueue.mapping_held(mapping.pk)
    ):
        return []  # the scheduled job carries them when it is back on
    uuids = [u for _, u, _ in rows]
    try:
        result = engine.synchronize(
            mapping, direction=Direction.TO_CRM, erp_uuids=uuids, force=False
        )
    except MappingBusy:
        # Another run holds the mapping: try again after it, with these changes.
        PendingChange.objects.bulk_create(
            [PendingChange(mapping=mapping, erp_uuid=u, changed_at=at) for _, u, at in rows],
            ignore_conflicts=True,
        )
        task_queue(mapping_id=mapping.pk, delay=max(5.0, settings.NEAR_REAL_TIME_DELAY_SECONDS))
        return []
    except NoConnection:
        return []
    jobs = quiet_runs_drop(result.jobs)
    lags_record(jobs=jobs)
    return jobs


def quiet_runs_drop(jobs: Iterable[JobRun]) -> list[JobRun]:
    """A near-real-time pass or a pull that did nothing leaves no job row: there would be one
    a minute per mapping saying "nothing to synchronize"."""
    kept = []
    for job in jobs:
        counters = (
            job.inserted,
            job.modified,
            job.deleted,
            job.failed,
            job.skipped,
            job.coupled,
            job.uncoupled,
            job.conflicts,
        )
        if job.status == JobRun.Status.SUCCEEDED and not any(counters) and job.pk:
            job.delete()
        else:
            kept.append(job)
    return kept


def crm_pull() -> list[int]:
    """Queue the from-CRM pass of every enabled mapping that reads the CRM, is not running and
    whose job is not on hold. Returns the mapping ids queued."""
    if not integration_enabled():
        return []
    now = timezone.now()
    held = JobQueueEntry.objects.filter(
        mapping=OuterRef("pk"),
        recurring=True,
        status__in=(JobQueueEntry.Status.ON_HOLD, JobQueueEntry.Status.ERROR),
    )
    ids = list(
        IntegrationTableMapping.objects.filter(enabled=True, direction__in=FROM_CRM_DIRECTIONS)
        .filter(Q(running_until__isnull=True) | Q(running_until__lt=now))
        .filter(~Exists(held))
        .order_by("priority", "pk")
        .values_list("pk", flat=True)
    )
    for mapping_id in ids:
        current_app.send_task(
            "syncjobs.synchronize_mapping",
            args=[mapping_id],
            kwargs={"direction": Direction.FROM_CRM, "pull": True},
        )
    return ids


# --- the change lag -------------------------------------------------------------------------

WRITES = (RecordChange.Action.INSERT, RecordChange.Action.MODIFY)


def lags_record(*, jobs: Iterable[JobRun]) -> int:
    """Record the lag of every record the (incremental, real) jobs wrote: from its modified
    time on the source side (kept on its coupling) to the time the write was recorded. Keeps
    the last CHANGE_LAG_SAMPLES per mapping and direction."""
    made = 0
    for job in jobs:
        if job.full or job.kind != JobRun.Kind.SYNCHRONIZATION or job.mapping_id is None:
            continue
        if job.direction not in (Direction.TO_CRM, Direction.FROM_CRM):
            continue
        to_crm = job.direction == Direction.TO_CRM
        changes = list(
            RecordChange.objects.filter(job=job, action__in=WRITES).values_list(
                "erp_table", "erp_uuid", "crm_id", "created_at"
            )
        )
        if not changes:
            continue
        if to_crm:
            stamps = dict(
                CrmCoupling.objects.filter(
                    erp_uuid__in=[c[1] for c in changes if c[1]]
                ).values_list("erp_uuid", "erp_modified_at")
            )
        else:
            stamps = dict(
                CrmCoupling.objects.filter(crm_id__in=[c[2] for c in changes if c[2]]).values_list(
                    "crm_id", "crm_modified_on"
                )
            )
        lags = []
        for _table, erp_uuid, crm_id, written in changes:
            key = erp_uuid if to_crm else crm_id
            source = stamps.get(key) if key is not None else None
            if source is None:
                continue
            lags.append(
                ChangeLag(
                    mapping_id=job.mapping_id,
                    direction=job.direction,
                    changed_at=source,
                    synced_at=written,
                    seconds=max(0.0, (written - source).total_seconds()),
                )
            )
        ChangeLag.objects.bulk_create(lags, batch_size=500)
        made += len(lags)
        _lags_trim(mapping_id=job.mapping_id, direction=job.direction)
    return made


def _lags_trim(*, mapping_id: int, direction: str) -> None:
    keep = max(1, settings.CHANGE_LAG_SAMPLES)
    boundary = (
        ChangeLag.objects.filter(mapping_id=mapping_id, direction=direction)
        .order_by("-id")
        .values_list("id", flat=True)[keep : keep + 1]
    )
    oldest_kept = next(iter(boundary), None)
    if oldest_kept is not None:
        ChangeLag.objects.filter(
            mapping_id=mapping_id, direction=direction, id__lte=oldest_kept
        ).delete()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    index = max(0, min(len(values) - 1, round(fraction * len(values) + 0.5) - 1))
    return values[index]


def lag_summary() -> dict[tuple[int, str], dict[str, float]]:
    """(mapping id, direction) -> {"p50", "p95", "count", "sum"} over the kept samples."""
    samples: dict[tuple[int, str], list[float]] = {}
    for mapping_id, direction, seconds in ChangeLag.objects.values_list(
        "mapping_id", "direction", "seconds"
    ):
        samples.setdefault((mapping_id, direction), []).append(seconds)
    summary = {}
    for key, values in samples.items():
        values.sort()
        summary[key] = {
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "count": float(len(values)),
            "sum": sum(values),
        }
    return summary
