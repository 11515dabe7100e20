"""Reads for the coupling pages: couplings in trouble (failed, skipped, in conflict), records
waiting for a mapping that has not coupled their references yet, match-based coupling runs,
and which mapping a coupling belongs to.

Lists are ordered querysets, so a page can slice or paginate them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Count, Q, QuerySet

from syncjobs.engine.crm import CrmAdapter, CrmTable
from syncjobs.engine.run import crm_adapter
from syncjobs.models import CrmCoupling, IntegrationTableMapping, SyncResult, UidType

from .models import CouplingCandidate, CouplingRun


class ErrorState:
    """What a coupling in trouble is in (§5.6 "Coupled Data Synchronization Errors")."""

    FAILED = "failed"  # the last attempt failed (and will be retried at the next run)
    SKIPPED = "skipped"  # failed the same way repeatedly: left alone until a change or a retry
    CONFLICT = "conflict"  # changed on both sides: a person chooses
    WAITING = "waiting"  # a reference is not coupled yet (its mapping will wake it)
    CHOICES = (FAILED, SKIPPED, CONFLICT, WAITING)


def _failed() -> Q:
    return Q(last_result_to_crm=SyncResult.FAILURE) | Q(last_result_from_crm=SyncResult.FAILURE)


def _state_filter(state: str | None) -> Q:
    if state is None:
        return _failed() | Q(skipped=True) | Q(conflict=True)
    if state == ErrorState.FAILED:
        return _failed() & Q(skipped=False, conflict=False, waiting_for="")
    if state == ErrorState.SKIPPED:
        return Q(skipped=True)
    if state == ErrorState.CONFLICT:
        return Q(conflict=True)
    if state == ErrorState.WAITING:
        return ~Q(waiting_for="")
    raise ValueError(f"Unknown state {state!r}; one of {', '.join(ErrorState.CHOICES)}.")


def mapping_scope(mapping: IntegrationTableMapping) -> Q:
    """The couplings of one mapping (its ERP table and CRM table)."""
    return Q(erp_table=mapping.erp_table.lower(), crm_entity=mapping.crm_entity)


def coupling_errors(
    *,
    mapping: IntegrationTableMapping | None = None,
    erp_table: str | None = None,
    state: str | None = None,
) -> QuerySet[CrmCoupling]:
    """Couplings that failed, are skipped or in conflict (`state` narrows to one of
    ErrorState), across mappings or for one mapping / ERP table; latest failure first."""
    qs = CrmCoupling.objects.filter(_state_filter(state))
    if mapping is not None:
        qs = qs.filter(mapping_scope(mapping))
    if erp_table is not None:
        qs = qs.filter(erp_table=erp_table.lower())
    return qs.order_by(models.F("last_error_at").desc(nulls_last=True), "-id")


@dataclass(frozen=True)
class ErrorCounts:
    failed: int
    skipped: int
    conflict: int
    waiting: int


def coupling_error_counts(*, mapping: IntegrationTableMapping | None = None) -> ErrorCounts:
    qs = CrmCoupling.objects.all()
    if mapping is not None:
        qs = qs.filter(mapping_scope(mapping))
    counts = qs.aggregate(
        failed=Count("pk", filter=_state_filter(ErrorState.FAILED)),
        skipped=Count("pk", filter=_state_filter(ErrorState.SKIPPED)),
        conflict=Count("pk", filter=_state_filter(ErrorState.CONFLICT)),
        waiting=Count("pk", filter=_state_filter(ErrorState.WAITING)),
    )
    return ErrorCounts(**counts)


@dataclass(frozen=True)
class StateCounts:
    coupled: int
    failed: int
    skipped: int
    conflict: int
    waiting: int


def coupling_state_counts(*, mapping: IntegrationTableMapping) -> StateCounts:
    """A mapping's couplings, all of them and per state, in one query (one pass over the
    index `coupling_states`, which holds every column the states read)."""
    counts = CrmCoupling.objects.filter(mapping_scope(mapping)).aggregate(
        coupled=Count("erp_table"),
        failed=Count("erp_table", filter=_state_filter(ErrorState.FAILED)),
        skipped=Count("erp_table", filter=_state_filter(ErrorState.SKIPPED)),
        conflict=Count("erp_table", filter=_state_filter(ErrorState.CONFLICT)),
        waiting=Count("erp_table", filter=_state_filter(ErrorState.WAITING)),
    )
    return StateCounts(**counts)


def mapping_of_coupling(coupling: CrmCoupling) -> IntegrationTableMapping | None:
    """The (row id) mapping a coupling belongs to."""
    return (
        IntegrationTableMapping.objects.filter(
            erp_table__iexact=coupling.erp_table,
            crm_entity=coupling.crm_entity,
            crm_uid_type=UidType.GUID,
        )
        .order_by("priority", "pk")
        .first()
    )


def erp_model(erp_table: str) -> type[models.Model]:
    return apps.get_model(erp_table)


def erp_records(erp_table: str, uuids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The ERP records of one table with these uuids that exist."""
    model = erp_model(erp_table)
    wanted = list(set(uuids))
    found: dict[uuid.UUID, Any] = {}
    for start in range(0, len(wanted), 1000):
        for obj in model._default_manager.filter(uuid__in=wanted[start : start + 1000]):
            found[obj.uuid] = obj  # type: ignore[attr-defined]
    return found


def crm_table_of(crm_entity: str, *, columns: tuple[str, ...] = ()) -> CrmTable:
    """A CrmTable to read rows of `crm_entity` by id (its key column from a mapping of it)."""
    mapping = (
        IntegrationTableMapping.objects.filter(crm_entity=crm_entity, crm_uid_type=UidType.GUID)
        .only("crm_uid_field")
        .first()
    )
    key = mapping.crm_uid_field if mapping is not None else f"{crm_entity}id"
    return CrmTable(entity=crm_entity, key=key, columns=columns)


def crm_rows_exist(crm_entity: str, ids: Iterable[uuid.UUID], *, crm: CrmAdapter) -> set[uuid.UUID]:
    """Which of these CRM rows exist (whatever the mapping's filter), in batched reads."""
    return set(crm.read(crm_table_of(crm_entity), list(ids)))


@dataclass(frozen=True)
class CouplingSides:
    coupling: CrmCoupling
    erp_record: Any | None  # None: the ERP record was deleted
    crm_exists: bool

    @property
    def erp_exists(self) -> bool:
        return self.erp_record is not None

    @property
    def broken(self) -> bool:
        """Exactly one side is gone: restore it or delete the coupling."""
        return self.erp_exists != self.crm_exists


def coupling_sides(
    couplings: Iterable[CrmCoupling], *, crm: CrmAdapter | None = None
) -> list[CouplingSides]:
    """For a page of couplings: does each side still exist (one ERP query per table, one
    batched CRM read per table)."""
    rows = list(couplings)
    by_table: dict[str, list[CrmCoupling]] = {}
    by_entity: dict[str, list[CrmCoupling]] = {}
    for c in rows:
        by_table.setdefault(c.erp_table, []).append(c)
        by_entity.setdefault(c.crm_entity, []).append(c)
    records: dict[tuple[str, uuid.UUID], Any] = {}
    for table, group in by_table.items():
        for key, obj in erp_records(table, [c.erp_uuid for c in group]).items():
            records[(table, key)] = obj
    existing: set[tuple[str, uuid.UUID]] = set()
    for entity, group in by_entity.items():
        mapping = mapping_of_coupling(group[0])
        adapter = crm or (crm_adapter(mapping) if mapping is not None else None)
        if adapter is None:
            continue
        for row_id in crm_rows_exist(entity, [c.crm_id for c in group], crm=adapter):
            existing.add((entity, row_id))
    return [
        CouplingSides(
            coupling=c,
            erp_record=records.get((c.erp_table, c.erp_uuid)),
            crm_exists=(c.crm_entity, c.crm_id) in existing,
        )
        for c in rows
    ]


def missing_dependencies(*, mapping: IntegrationTableMapping) -> list[tuple[str, int]]:
    """The mappings this mapping's records wait for, with how many records wait for each:
    [("SALESPEOPLE", 12)], for the page's "couple salespeople first". The mappings of the
    dependency filter come first, in its order; any other mapping waited for follows."""
    counts = dict(
        CrmCoupling.objects.filter(mapping_scope(mapping))
        .exclude(waiting_for="")
        .values_list("waiting_for")
        .annotate(n=Count("pk"))
        .values_list("waiting_for", "n")
    )
    ordered = [name for name in mapping.dependencies if counts.get(name)]
    ordered += sorted(name for name in counts if name not in ordered)
    return [(name, counts[name]) for name in ordered]


def coupling_runs(*, mapping: IntegrationTableMapping | None = None) -> QuerySet[CouplingRun]:
    qs = CouplingRun.objects.select_related("mapping")
    if mapping is not None:
        qs = qs.filter(mapping=mapping)
    return qs.order_by("-created_at", "-id")


def coupling_run_get(*, pk: int) -> CouplingRun | None:
    return CouplingRun.objects.select_related("mapping").filter(pk=pk).first()


def coupling_candidates(
    *, run: CouplingRun, outcome: str | None = None
) -> QuerySet[CouplingCandidate]:
    qs = run.candidates.all()
    if outcome is not None:
        qs = qs.filter(outcome=outcome)
    return qs.order_by("id")
