"""What one pass of one mapping carries around: the two sides, the rules, the job and its log,
and the bookkeeping of couplings (success, failure, skip, wait, conflict)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from syncjobs.models import (
    JOB_COUNTERS,
    CrmCoupling,
    Direction,
    IntegrationTableMapping,
    JobRun,
    RecordChange,
    SyncError,
    SyncResult,
    UpdateConflictResolution,
)

from .crm import CrmAdapter, CrmTable
from .erp import ErpTable, PkRange
from .fields import Rules, rules_of
from .rows import rows_insert, rows_update

MISSING = object()


@dataclass(frozen=True)
class Options:
    full: bool = False
    dry_run: bool = False
    # Only these records ("synchronize now"); None: every changed record.
    erp_uuids: frozenset[uuid.UUID] | None = None
    crm_ids: frozenset[uuid.UUID] | None = None
    # Write mapped fields even when they look unchanged (manual synchronization).
    force: bool = False
    # Only the ERP records of this primary-key slice (a full synchronization's chunk): the
    # pass sets no watermark and leaves deleted ERP records to the whole-table runs.
    erp_range: PkRange | None = None
    # Called with the job run when the pass starts and after every chunk it wrote (a caller's
    # own lease or progress; a full synchronization's chunk renews its claim with it).
    on_progress: Callable[[JobRun], None] | None = None


@dataclass
class LookupFailure:
    message: str
    waiting_for: str = ""


@dataclass
class Log:
    """Counters on the job row, error and change rows written a chunk at a time."""

    job: JobRun
    # Rows as dicts (rows.rows_insert), not model instances: one per record of a full run.
    errors: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    on_flush: Callable[[JobRun], None] | None = None

    def error(
        self,
        *,
        message: str,
        erp_table: str,
        crm_entity: str,
        erp_uuid: uuid.UUID | None = None,
        crm_id: uuid.UUID | None = None,
        source: str = "",
        destination: str = "",
        detail: str = "",
    ) -> None:
        self.errors.append(
            {
                "job_id": self.job.pk,
                "erp_table": erp_table,
                "erp_uuid": erp_uuid,
                "crm_entity": crm_entity,
                "crm_id": crm_id,
                "source": source[:250],
                "destination": destination[:250],
                "message": message,
                "detail": detail,
            }
        )

    def change(
        self,
        action: str,
        *,
        erp_table: str,
        crm_entity: str,
        erp_uuid: uuid.UUID | None,
        crm_id: uuid.UUID | None,
        record: str,
        fields: list[dict[str, Any]] | None = None,
    ) -> None:
        self.changes.append(
            {
                "job_id": self.job.pk,
                "action": action,
                "erp_table": erp_table,
                "erp_uuid": erp_uuid,
                "crm_entity": crm_entity,
                "crm_id": crm_id,
                "record": record[:250],
                "fields": fields or [],
            }
        )

    def flush(self) -> None:
        if self.job.mapping_id is not None:
            # Progress made: the run keeps its lease on the mapping.
            IntegrationTableMapping.objects.filter(pk=self.job.mapping_id).update(
                running_until=timezone.now()
                + timedelta(seconds=max(60, settings.SYNC_LEASE_SECONDS))
            )
        if self.errors:
            rows_insert(SyncError, self.errors)
            self.errors = []
        if self.changes:
            rows_insert(RecordChange, self.changes)
            self.changes = []
        self.job.save(update_fields=list(JOB_COUNTERS))
        if self.on_flush is not None:
            self.on_flush(self.job)


class Context:
    def __init__(
        self,
        *,
        mapping: IntegrationTableMapping,
        crm: CrmAdapter,
        job: JobRun,
        options: Options,
    ) -> None:
        self.mapping = mapping
        self.crm = crm
        self.job = job
        self.options = options
        self.log = Log(job, on_flush=options.on_progress)
        self.rules: Rules = rules_of(mapping)
        self.erp = ErpTable(mapping.erp_table, mapping.table_filter, pk_range=options.erp_range)
        self.table = CrmTable(
            entity=mapping.crm_entity,
            key=mapping.crm_uid_field,
            columns=tuple(self.rules.crm_columns()),
            lookups=self.rules.crm_lookups(),
            filter=mapping.integration_table_filter,
        )
        self.chunk_size = max(1, int(settings.SYNC_CHUNK_SIZE))
        self.skip_after = max(1, int(settings.SYNC_SKIP_AFTER_FAILURES))
        self.dependencies = {
            (m.erp_table.lower(), m.crm_entity): m.name
            for m in IntegrationTableMapping.objects.only("name", "erp_table", "crm_entity")
            if m.crm_uid_type == "guid"
        }
        self.started = timezone.now()

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    def dependency_of(self, target_label: str, crm_entity: str) -> str:
        return self.dependencies.get((target_label, crm_entity), "")

    def change(
        self,
        action: str,
        *,
        erp_uuid: uuid.UUID | None,
        crm_id: uuid.UUID | None,
        record: str,
        fields: list[dict[str, Any]] | None = None,
    ) -> None:
        """A RecordChange of this pass's tables."""
        self.log.change(
            action,
            erp_table=self.erp.label,
            crm_entity=self.table.entity,
            erp_uuid=erp_uuid,
            crm_id=crm_id,
            record=record,
            fields=fields,
        )

    def settle(
        self,
        coupling: CrmCoupling,
        conflicts: list[dict[str, Any]],
        *,
        wins: str,
        side: str,
        write: dict[str, Any],
        source: str,
    ) -> bool:
        """Apply the mapping's update-conflict rule to fields changed on both sides.

        `wins` is the rule under which this pass's source wins (its value, `side` of each
        entry, goes into `write`); under the other side's rule the other pass writes it.
        False: no rule, the conflict is kept for a person and nothing of the record is written.
        """
        if not conflicts:
            return True
        rule = self.mapping.update_conflict_resolution
        if rule == wins:
            for entry in conflicts:
                write[entry["key"]] = entry[side]
            return True
        if rule != UpdateConflictResolution.NONE:
            return True
        self.conflict(coupling, fields=conflicts, source=source)
        return False

    # -- coupling bookkeeping --------------------------------------------------------------

    def succeed(
        self,
        coupling: CrmCoupling,
        *,
        direction: str,
        snapshot: dict[str, Any],
        erp_modified_at: datetime | None = None,
        crm_modified_on: datetime | None = None,
        crm_version: int | None = None,
    ) -> None:
        now = timezone.now()
        coupling.state = CrmCoupling.State.COUPLED
        coupling.snapshot = snapshot
        coupling.last_synced_at = now
        if erp_modified_at is not None:
            coupling.erp_modified_at = max(
                erp_modified_at, coupling.erp_modified_at or erp_modified_at
            )
        if crm_modified_on is not None:
            coupling.crm_modified_on = max(
                crm_modified_on, coupling.crm_modified_on or crm_modified_on
            )
        if crm_version is not None:
            coupling.crm_version = crm_version
        if direction == Direction.TO_CRM:
            coupling.last_result_to_crm = SyncResult.SUCCESS
            coupling.last_job_to_crm = self.job.pk
        else:
            coupling.last_result_from_crm = SyncResult.SUCCESS
            coupling.last_job_from_crm = self.job.pk
        coupling.failure_count = 0
        coupling.skipped = False
        coupling.waiting_for = ""
        coupling.last_error = ""
        coupling.conflict = False
        coupling.conflict_fields = []

    def fail(
        self,
        coupling: CrmCoupling,
        *,
        direction: str,
        message: str,
        waiting_for: str = "",
        source: str = "",
        destination: str = "",
        detail: str = "",
        erp_attempted_at: datetime | None = None,
        crm_attempted_on: datetime | None = None,
    ) -> None:
        """Record a failed record; a repeated identical failure skips it (never a wait)."""
        self.job.failed += 1
        self.log.error(
            message=message,
            erp_table=coupling.erp_table,
            crm_entity=coupling.crm_entity,
            erp_uuid=coupling.erp_uuid,
            crm_id=coupling.crm_id,
            source=source,
            destination=destination,
            detail=detail,
        )
        self.log.change(
            RecordChange.Action.FAIL,
            erp_table=coupling.erp_table,
            crm_entity=coupling.crm_entity,
            erp_uuid=coupling.erp_uuid,
            crm_id=coupling.crm_id,
            record=source,
            fields=[{"message": message}],
        )
        if self.dry_run:
            return
        coupling.failure_count = coupling.failure_count + 1 if coupling.last_error == message else 1
        coupling.last_error = message
        coupling.last_error_at = timezone.now()
        coupling.waiting_for = waiting_for
        if erp_attempted_at is not None:
            coupling.erp_attempted_at = erp_attempted_at
        if crm_attempted_on is not None:
            coupling.crm_attempted_on = crm_attempted_on
        if not waiting_for and coupling.failure_count >= self.skip_after:
            coupling.skipped = True
        if direction == Direction.TO_CRM:
            coupling.last_result_to_crm = SyncResult.FAILURE
            coupling.last_job_to_crm = self.job.pk
        else:
            coupling.last_result_from_crm = SyncResult.FAILURE
            coupling.last_job_from_crm = self.job.pk

    def conflict(
        self,
        coupling: CrmCoupling,
        *,
        fields: list[dict[str, Any]],
        source: str,
    ) -> None:
        self.job.conflicts += 1
        names = ", ".join(f"{f['erp_field']} / {f['crm_field']}" for f in fields)
        message = (
            f"Changed on both sides since the last synchronization ({names}); nothing was "
            "overwritten. Choose which side to keep."
        )
        self.log.error(
            message=message,
            erp_table=coupling.erp_table,
            crm_entity=coupling.crm_entity,
            erp_uuid=coupling.erp_uuid,
            crm_id=coupling.crm_id,
            source=source,
        )
        self.log.change(
            RecordChange.Action.CONFLICT,
            erp_table=coupling.erp_table,
            crm_entity=coupling.crm_entity,
            erp_uuid=coupling.erp_uuid,
            crm_id=coupling.crm_id,
            record=source,
            fields=fields,
        )
        if self.dry_run:
            return
        coupling.conflict = True
        coupling.conflict_fields = fields
        coupling.last_error = message
        coupling.last_error_at = timezone.now()


COUPLING_FIELDS = [
    "state",
    "snapshot",
    "last_synced_at",
    "erp_modified_at",
    "crm_modified_on",
    "crm_version",
    "last_result_to_crm",
    "last_result_from_crm",
    "last_job_to_crm",
    "last_job_from_crm",
    "last_error",
    "last_error_at",
    "failure_count",
    "skipped",
    "waiting_for",
    "conflict",
    "conflict_fields",
    "erp_attempted_at",
    "crm_attempted_on",
]


def couplings_save(couplings: list[CrmCoupling]) -> None:
    """Write the bookkeeping fields of these couplings (rows.rows_update: one parameterized
    UPDATE per row, sent with executemany).

    Not `bulk_update()`: it builds a CASE WHEN per field over the whole batch, and compiling
    those expressions cost the engine about 5 ms per record (most of a full run's time).
    Couplings inserted by `couplings_insert` have no pk in memory: found by their CRM row.
    """
    missing: dict[tuple[str, uuid.UUID], CrmCoupling] = {
        (c.crm_entity, c.crm_id): c for c in couplings if c.pk is None
    }
    for entity in {e for e, _ in missing}:
        ids = [i for e, i in missing if e == entity]
        for crm_id, pk in CrmCoupling.objects.filter(crm_entity=entity, crm_id__in=ids).values_list(
            "crm_id", "pk"
        ):
            missing[(entity, crm_id)].pk = pk
    if any(c.pk is None for c in couplings):
        raise ValueError("Only saved couplings can be updated.")
    rows_update(CrmCoupling, COUPLING_FIELDS, couplings)


def couplings_insert(couplings: list[CrmCoupling]) -> None:
    """INSERT new couplings in one executemany (their pks stay unknown in memory)."""
    names = [f.attname for f in CrmCoupling._meta.concrete_fields if not f.primary_key]
    rows_insert(CrmCoupling, [{n: getattr(c, n) for n in names} for c in couplings])
