"""Running the passes of one mapping, with a lease so that one mapping runs once at a time."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from connection.clients import client_get
from connection.selectors import crm_connection_settings
from syncjobs.models import Direction, IntegrationTableMapping, JobRun, UidType

from . import from_crm, options, to_crm
from .context import Context, Options
from .crm import CrmAdapter, CrmUnavailable
from .dataverse_crm import DataverseCrm
from .erp import MappingBroken, PkRange


class MappingBusy(Exception):
    """Another run of the same mapping is in progress."""


class NoConnection(Exception):
    """No CRM connection is set up."""


@dataclass
class EngineResult:
    jobs: list[JobRun] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(j.failed + j.conflicts for j in self.jobs)

    @property
    def ok(self) -> bool:
        return all(j.status == JobRun.Status.SUCCEEDED for j in self.jobs)


def crm_adapter(mapping: IntegrationTableMapping) -> CrmAdapter:
    connection = crm_connection_settings()
    if connection is None:
        raise NoConnection("No CRM connection is set up.")
    return DataverseCrm(
        client_get(settings=connection),
        entity_sets={mapping.crm_entity: mapping.crm_entity_set},
    )


def directions_of(mapping: IntegrationTableMapping, wanted: str | None) -> list[str]:
    possible = {
        Direction.BIDIRECTIONAL: [Direction.TO_CRM, Direction.FROM_CRM],
        Direction.TO_CRM: [Direction.TO_CRM],
        Direction.FROM_CRM: [Direction.FROM_CRM],
    }[Direction(mapping.direction)]
    if wanted is None:
        return list(possible)
    if wanted not in possible:
        raise ValueError(
            f"The mapping {mapping.name} does not synchronize {Direction(wanted).label}."
        )
    return [wanted]


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_is_dead(holder: str) -> bool:
    """Is the lease held by a process of this host that no longer exists?"""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def lease_seconds() -> int:
    return max(60, int(settings.SYNC_LEASE_SECONDS))


def lease_take(mapping: IntegrationTableMapping, *, shared: str = "") -> bool:
    """Take the mapping for a run of this process, or, with `shared`, for every process that
    names the same holder (the chunks of one full synchronization line run at the same time;
    any other run still finds the mapping busy). A shared lease is released by its owner with
    `lease_release`, not when one of its runs ends."""
    now = timezone.now()
    until = now + timedelta(seconds=lease_seconds())
    free = Q(running_until__isnull=True) | Q(running_until__lt=now)
    if shared:
        free |= Q(running_by=shared)
    holder = (
        IntegrationTableMapping.objects.filter(pk=mapping.pk)
        .values_list("running_by", flat=True)
        .first()
    )
    if holder and holder_is_dead(holder):
        free |= Q(running_by=holder)
    taken = IntegrationTableMapping.objects.filter(free, pk=mapping.pk).update(
        running_until=until, running_by=shared or _owner()
    )
    return taken == 1


def lease_release(mapping_id: int, *, shared: str) -> None:
    """Free the mapping held under the shared holder `shared`."""
    IntegrationTableMapping.objects.filter(pk=mapping_id, running_by=shared).update(
        running_until=None, running_by=""
    )


def lease_renew(mapping_id: int) -> None:
    """Called as a run makes progress: a live run keeps its lease however long it takes."""
    IntegrationTableMapping.objects.filter(pk=mapping_id, running_by=_owner()).update(
        running_until=timezone.now() + timedelta(seconds=lease_seconds())
    )


def _release(mapping: IntegrationTableMapping) -> None:
    IntegrationTableMapping.objects.filter(pk=mapping.pk, running_by=_owner()).update(
        running_until=None, running_by=""
    )


def synchronize(
    mapping: IntegrationTableMapping,
    *,
    direction: str | None = None,
    full: bool = False,
    dry_run: bool = False,
    erp_uuids: Iterable[uuid.UUID] | None = None,
    crm_ids: Iterable[uuid.UUID] | None = None,
    force: bool | None = None,
    crm: CrmAdapter | None = None,
    erp_range: PkRange | None = None,
    shared_lease: str = "",
    on_progress: Callable[[JobRun], None] | None = None,
) -> EngineResult:
    """Synchronize one mapping now (both directions unless `direction` is given).

    `erp_range`, `shared_lease` and `on_progress` are for a full synchronization's chunk: only
    the ERP records of that primary-key slice, under the lease its line holds for all its
    chunks (`lease_take(shared=...)`), reporting progress after every chunk written."""
    directions = directions_of(mapping, direction)
    only_erp = frozenset(erp_uuids) if erp_uuids is not None else None
    only_crm = frozenset(crm_ids) if crm_ids is not None else None
    if only_erp is not None and only_crm is None:
        directions = [d for d in directions if d == Direction.TO_CRM] or directions
    opts = Options(
        full=full,
        dry_run=dry_run,
        erp_uuids=only_erp,
        crm_ids=only_crm,
        force=bool(force) if force is not None else (only_erp is not None or only_crm is not None),
        erp_range=erp_range,
        on_progress=on_progress,
    )
    if not lease_take(mapping, shared=shared_lease):
        raise MappingBusy(f"The mapping {mapping.name} is being synchronized already.")
    result = EngineResult()
    try:
        adapter = crm or crm_adapter(mapping)
        for d in directions:
            mapping.refresh_from_db()
            job = _pass(mapping, adapter, d, opts)
            result.jobs.append(job)
            if job.status == JobRun.Status.FAILED and job.message.startswith("stopped"):
                break
    finally:
        if not shared_lease:
            _release(mapping)
    return result


def _pass(
    mapping: IntegrationTableMapping, adapter: CrmAdapter, direction: str, opts: Options
) -> JobRun:
    job = JobRun.objects.create(
        job_name=mapping.name,
        mapping=mapping,
        kind=JobRun.Kind.DRY_RUN if opts.dry_run else JobRun.Kind.SYNCHRONIZATION,
        direction=direction,
        full=opts.full,
        status=JobRun.Status.RUNNING,
    )
    if opts.on_progress is not None:
        opts.on_progress(job)
    message = ""
    status = JobRun.Status.SUCCEEDED
    try:
        if opts.dry_run:
            # A dry run may need no CRM call at all (only new records): it still says when
            # the CRM cannot be reached, as the real run would.
            adapter.check()
        ctx = Context(mapping=mapping, crm=adapter, job=job, options=opts)
        if mapping.crm_uid_type == UidType.OPTION:
            options.run(ctx, direction)
        elif direction == Direction.TO_CRM:
            to_crm.run(ctx)
            whole_table = opts.erp_uuids is None and opts.crm_ids is None and opts.erp_range is None
            if not opts.dry_run and whole_table:
                # Rows modified during this pass have modified_at >= its start.
                IntegrationTableMapping.objects.filter(pk=mapping.pk).update(
                    erp_watermark_at=ctx.started
                )
        else:
            token = from_crm.run(ctx)
            if token and not opts.dry_run:
                IntegrationTableMapping.objects.filter(pk=mapping.pk).update(crm_sync_token=token)
    except CrmUnavailable as exc:
        status, message = JobRun.Status.FAILED, f"stopped: the CRM did not answer: {exc}"
    except MappingBroken as exc:
        status, message = JobRun.Status.FAILED, f"stopped: {exc}"
    except BaseException as exc:
        # A time limit or a worker shutdown: the run must not stay "running" forever.
        job.save()
        _finish(job, JobRun.Status.FAILED, f"interrupted: {exc!r}")
        raise
    if status == JobRun.Status.SUCCEEDED and (job.failed or job.conflicts):
        status = JobRun.Status.FAILED
    return _finish(job, status, message or _summary(job))


def job_complete(job: JobRun, message: str = "") -> JobRun:
    """Close a job run whose counters others have written (a full synchronization line's
    to-CRM pass, summed from its chunks): failed when records failed or `message` says why."""
    job.refresh_from_db()
    failed = bool(message) or bool(job.failed or job.conflicts)
    status = JobRun.Status.FAILED if failed else JobRun.Status.SUCCEEDED
    return _finish(job, status, message or _summary(job))


def _summary(job: JobRun) -> str:
    parts = [
        f"{n} {label}"
        for n, label in (
            (job.inserted, "inserted"),
            (job.modified, "modified"),
            (job.deleted, "deleted"),
            (job.coupled, "coupled"),
            (job.uncoupled, "uncoupled"),
            (job.unchanged, "unchanged"),
            (job.skipped, "skipped"),
            (job.conflicts, "in conflict"),
            (job.failed, "failed"),
        )
        if n
    ]
    prefix = "dry run, nothing written: " if job.kind == JobRun.Kind.DRY_RUN else ""
    return prefix + (", ".join(parts) if parts else "nothing to synchronize")


def _finish(job: JobRun, status: str, message: str) -> JobRun:
    job.status = status
    job.message = message
    job.finished_at = timezone.now()
    job.save()
    return job
