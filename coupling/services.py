"""Writes of the coupling pages: couple and uncouple a pair, create a record on the other side,
synchronize chosen records now, match-based coupling in the background, and the repair of
couplings in trouble (retry, restore the deleted side, delete the coupling).

Everything that moves data goes through the synchronization engine (syncjobs/engine/,
docs/engine.md); these services decide what to ask of it and record the coupling work itself
(JobRun of kind COUPLING / UNCOUPLING with a RecordChange per pair), as the reference logs its
coupling and uncoupling jobs (docs/reference/business-central.md §3, §5.6, §5.9).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from celery import current_app
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from syncjobs import fullsync_advice
from syncjobs import services as sync_services
from syncjobs.engine import EngineResult
from syncjobs.engine import synchronize as engine_synchronize
from syncjobs.engine.crm import CrmAdapter, CrmRow, CrmTable, CrmUnavailable
from syncjobs.engine.erp import ErpTable, MappingBroken
from syncjobs.engine.fields import Rule, canonical, rules_of
from syncjobs.engine.preview import Comparison, FieldComparison, compare
from syncjobs.engine.run import MappingBusy, NoConnection, crm_adapter, directions_of
from syncjobs.models import (
    CrmCoupling,
    CrmOptionCoupling,
    Direction,
    FullSyncLine,
    IntegrationFieldMapping,
    IntegrationTableMapping,
    JobRun,
    RecordChange,
    UidType,
)

from . import selectors
from .models import CouplingCandidate, CouplingRun

logger = logging.getLogger(__name__)

After = Literal["erp", "crm", "none"]
MATCH_TASK = "coupling.match_couple"
# ERP records per step of a match-based coupling run (CRM reads are batched per step).
MATCH_CHUNK = 200
# How long a background run waits for a mapping another run holds before giving up a step.
BUSY_WAIT_SECONDS = 120.0


# -- errors ----------------------------------------------------------------------------------


class CouplingError(Exception):
    """A coupling action a person asked for cannot be done; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AlreadyCoupled(CouplingError):
    """One side of the pair is coupled to another record that still exists."""

    def __init__(self, message: str, *, side: str, coupling: CrmCoupling, other: str) -> None:
        super().__init__(message)
        self.side = side  # "erp" or "crm": the side that is coupled already
        self.coupling = coupling
        self.other = other  # a label of the record it is coupled to


class RecordMissing(CouplingError):
    def __init__(self, message: str, *, side: str) -> None:
        super().__init__(message)
        self.side = side


class OutOfScope(CouplingError):
    """The mapping's filters keep the record out (§3.3)."""


class DirectionNotAllowed(CouplingError):
    """The mapping does not synchronize that way, or is not a row mapping."""


class NotCoupled(CouplingError):
    """Synchronize now asked for a record that has no coupling: offer to couple it."""


class DirectionRequired(CouplingError):
    """Both sides changed since the last synchronization: a person chooses the direction
    (§5.9); `message` is the warning to show."""

    def __init__(self, message: str, *, coupling: CrmCoupling) -> None:
        super().__init__(message)
        self.coupling = coupling


class NothingToRestore(CouplingError):
    pass


class MatchFieldInvalid(CouplingError):
    pass


# -- running the engine ------------------------------------------------------------------


def _synchronize(
    mapping: IntegrationTableMapping,
    *,
    direction: str | None = None,
    erp_uuids: Iterable[uuid.UUID] | None = None,
    crm_ids: Iterable[uuid.UUID] | None = None,
    force: bool = True,
    wait: float = 0.0,
) -> EngineResult:
    """Run the engine on chosen records (`force`: write every mapped field that differs, the
    manual "synchronize now"; else the engine's usual decisions, for a retry).

    A disabled mapping, no connection or a mapping busy for longer than `wait` seconds gives
    a skipped job with the reason, as `syncjobs.services.mapping_synchronize` does.
    """
    erp = list(erp_uuids) if erp_uuids is not None else None
    crm = list(crm_ids) if crm_ids is not None else None
    reason = ""
    if not mapping.enabled:
        reason = "the mapping is disabled"
    else:
        deadline = time.monotonic() + wait
        while True:
            try:
                result = engine_synchronize(
                    mapping, direction=direction, erp_uuids=erp, crm_ids=crm, force=force
                )
            except MappingBusy as exc:
                if time.monotonic() < deadline:
                    time.sleep(1.0)
                    continue
                reason = str(exc)
            except NoConnection as exc:
                reason = str(exc)
            else:
                if any(j.inserted or j.coupled or j.modified for j in result.jobs):
                    sync_services.dependants_wake(mapping=mapping)
                return result
            break
    run = sync_services.job_run_start(job_name=mapping.name, mapping=mapping)
    sync_services.job_run_finish(run=run, status=JobRun.Status.SKIPPED, message=reason)
    return EngineResult(jobs=[run])


def _allows(mapping: IntegrationTableMapping, direction: str) -> bool:
    return direction in directions_of(mapping, None)


def _require_rows(mapping: IntegrationTableMapping) -> None:
    if mapping.crm_uid_type != UidType.GUID:
        raise DirectionNotAllowed(
            _(
                "The mapping %(mapping)s couples option values, not records; its couplings "
                "are made by its own synchronization."
            )
            % {"mapping": mapping.name}
        )


def _require_direction(mapping: IntegrationTableMapping, direction: str) -> None:
    if not _allows(mapping, direction):
        raise DirectionNotAllowed(
            _("The mapping %(mapping)s does not synchronize %(direction)s.")
            % {"mapping": mapping.name, "direction": Direction(direction).label}
        )


def _mapping_of(coupling: CrmCoupling) -> IntegrationTableMapping:
    mapping = selectors.mapping_of_coupling(coupling)
    if mapping is None:
        raise CouplingError(
            _("No integration table mapping couples %(erp)s with the CRM %(crm)s any more.")
            % {"erp": coupling.erp_table, "crm": coupling.crm_entity}
        )
    return mapping


def _crm_table(mapping: IntegrationTableMapping) -> CrmTable:
    rules = rules_of(mapping)
    return CrmTable(
        entity=mapping.crm_entity,
        key=mapping.crm_uid_field,
        columns=tuple(rules.crm_columns()),
        lookups=rules.crm_lookups(),
        filter=mapping.integration_table_filter,
    )


def _job(mapping: IntegrationTableMapping | None, kind: str, name: str = "") -> JobRun:
    return JobRun.objects.create(
        job_name=name or (mapping.name if mapping is not None else kind),
        mapping=mapping,
        kind=kind,
        status=JobRun.Status.RUNNING,
    )


def _finish(job: JobRun, message: str, status: str = JobRun.Status.SUCCEEDED) -> JobRun:
    job.status = status
    job.message = message
    job.finished_at = timezone.now()
    job.save()
    return job


def _change(
    job: JobRun, action: str, coupling: CrmCoupling, record: str, **extra: Any
) -> RecordChange:
    return RecordChange(
        job=job,
        action=action,
        erp_table=coupling.erp_table,
        erp_uuid=coupling.erp_uuid,
        crm_entity=coupling.crm_entity,
        crm_id=coupling.crm_id,
        record=record[:250],
        fields=[extra] if extra else [],
    )


def _erp_label(erp_table: str, record: Any | None, erp_uuid: uuid.UUID) -> str:
    if record is None:
        return f"{erp_table} {erp_uuid}"
    return f"{record._meta.verbose_name} {record}"[:250]


# -- preview ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewField:
    key: str
    erp_field: str
    crm_field: str
    direction: str  # the field mapping's
    erp_value: Any  # canonical, in the CRM's terms
    crm_value: Any
    erp_display: str
    crm_display: str
    erp_problem: str
    differs: bool

    @property
    def overwritten_if_erp(self) -> bool:
        """Keeping the ERP's data replaces the CRM's value of this field."""
        return self.differs and self.direction in (Direction.TO_CRM, Direction.BIDIRECTIONAL)

    @property
    def overwritten_if_crm(self) -> bool:
        """Keeping the CRM's data replaces the ERP's value of this field."""
        return self.differs and self.direction in (Direction.FROM_CRM, Direction.BIDIRECTIONAL)


@dataclass(frozen=True)
class CouplingPreview:
    mapping: IntegrationTableMapping
    erp_uuid: uuid.UUID
    crm_id: uuid.UUID
    erp_record: str
    erp_found: bool
    crm_found: bool
    crm_in_scope: bool
    fields: list[PreviewField]
    erp_coupled: CrmCoupling | None  # the ERP record's current coupling, if any
    crm_coupled: CrmCoupling | None  # the CRM row's current coupling, if any

    def overwritten(self, after: After) -> list[PreviewField]:
        """The fields the choice would change on the other side ("none": nothing now)."""
        if after == "erp":
            return [f for f in self.fields if f.overwritten_if_erp]
        if after == "crm":
            return [f for f in self.fields if f.overwritten_if_crm]
        return []


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    return str(value)


def _lookup_names(
    rules: dict[str, Rule], comparisons: Sequence[FieldComparison]
) -> dict[tuple[str, str], str]:
    """CRM ids of lookup values -> the name of the ERP record coupled to them (its str())."""
    wanted: dict[str, set[uuid.UUID]] = {}
    for f in comparisons:
        rule = rules.get(f.key)
        if rule is None or not rule.lookup:
            continue
        for value in (f.erp, f.crm):
            if value is not None:
                try:
                    wanted.setdefault(rule.lookup, set()).add(uuid.UUID(str(value)))
                except ValueError:
                    continue
    names: dict[tuple[str, str], str] = {}
    for entity, ids in wanted.items():
        couplings = list(
            CrmCoupling.objects.filter(crm_entity=entity, crm_id__in=ids).only(
                "erp_table", "erp_uuid", "crm_id"
            )
        )
        by_table: dict[str, list[CrmCoupling]] = {}
        for c in couplings:
            by_table.setdefault(c.erp_table, []).append(c)
        for table, group in by_table.items():
            records = selectors.erp_records(table, [c.erp_uuid for c in group])
            for c in group:
                record = records.get(c.erp_uuid)
                if record is not None:
                    names[(entity, str(c.crm_id))] = str(record)
    return names


def _option_labels(
    mapping: IntegrationTableMapping, rules: dict[str, Rule], comparisons: Sequence[FieldComparison]
) -> dict[tuple[str, int], str]:
    attributes = {
        rules[f.key].crm_field for f in comparisons if f.key in rules and rules[f.key].option
    }
    if not attributes:
        return {}
    return {
        (attribute, value): label
        for attribute, value, label in CrmOptionCoupling.objects.filter(
            crm_entity=mapping.crm_entity, crm_attribute__in=attributes
        ).values_list("crm_attribute", "option_value", "label")
    }


def coupling_preview(
    *,
    mapping: IntegrationTableMapping,
    erp_uuid: uuid.UUID,
    crm_id: uuid.UUID,
    crm: CrmAdapter | None = None,
) -> CouplingPreview:
    """Both sides of a would-be pair field by field, with what each choice of "synchronize
    after coupling" would overwrite (the reference's "CRM Coupling Fields", §3.3). Lookup
    values are shown as the name of the coupled ERP record, option values by their label."""
    _require_rows(mapping)
    comparison: Comparison = compare(mapping, erp_uuid=erp_uuid, crm_id=crm_id, crm=crm)
    rules = {r.key: r for r in rules_of(mapping).rules}
    names = _lookup_names(rules, comparison.fields)
    labels = _option_labels(mapping, rules, comparison.fields)

    def show(f: FieldComparison, value: Any) -> str:
        rule = rules.get(f.key)
        if value is None or rule is None:
            return _display(value)
        if rule.lookup:
            return names.get((rule.lookup, str(value)), _display(value))
        if rule.option:
            try:
                return labels.get((rule.crm_field, int(value)), _display(value))
            except (TypeError, ValueError):
                return _display(value)
        return _display(value)

    fields = [
        PreviewField(
            key=f.key,
            erp_field=f.erp_field,
            crm_field=f.crm_field,
            direction=f.direction,
            erp_value=f.erp,
            crm_value=f.crm,
            erp_display=f.erp_problem or show(f, f.erp),
            crm_display=show(f, f.crm),
            erp_problem=f.erp_problem,
            differs=f.differs,
        )
        for f in comparison.fields
    ]
    erp_table = ErpTable(mapping.erp_table)
    record = erp_table.by_uuids([erp_uuid]).get(erp_uuid)
    return CouplingPreview(
        mapping=mapping,
        erp_uuid=erp_uuid,
        crm_id=crm_id,
        erp_record=_erp_label(erp_table.label, record, erp_uuid),
        erp_found=comparison.erp_found,
        crm_found=comparison.crm_row is not None,
        crm_in_scope=comparison.crm_row is not None and comparison.crm_row.in_scope,
        fields=fields,
        erp_coupled=CrmCoupling.objects.filter(
            erp_table=erp_table.label, erp_uuid=erp_uuid
        ).first(),
        crm_coupled=CrmCoupling.objects.filter(
            crm_entity=mapping.crm_entity, crm_id=crm_id
        ).first(),
    )


# -- couple and uncouple ---------------------------------------------------------------------


@dataclass(frozen=True)
class CoupleResult:
    coupling: CrmCoupling
    job: JobRun  # the coupling job (kind COUPLING)
    sync: EngineResult | None  # the synchronization after coupling, if one was asked for
    replaced: list[CrmCoupling] = field(default_factory=list)  # stale couplings removed


def _stale_or_refuse(
    *,
    mapping: IntegrationTableMapping,
    adapter: CrmAdapter,
    erp_label: str,
    erp_uuid: uuid.UUID,
    crm_id: uuid.UUID,
    record_label: str,
) -> list[CrmCoupling]:
    """Couplings in the way of the new pair whose other record no longer exists (removed by
    the caller), or AlreadyCoupled when the other record is still there (§3.1)."""
    stale: list[CrmCoupling] = []
    by_erp = CrmCoupling.objects.filter(erp_table=erp_label, erp_uuid=erp_uuid).first()
    if by_erp is not None:
        if by_erp.crm_entity == mapping.crm_entity and by_erp.crm_id == crm_id:
            raise AlreadyCoupled(
                _("%(record)s is already coupled to this CRM %(crm)s.")
                % {"record": record_label, "crm": mapping.crm_entity},
                side="erp",
                coupling=by_erp,
                other=f"CRM {by_erp.crm_entity} {by_erp.crm_id}",
            )
        if selectors.crm_rows_exist(by_erp.crm_entity, [by_erp.crm_id], crm=adapter):
            raise AlreadyCoupled(
                _("Cannot couple %(record)s: it is already coupled to the CRM %(crm)s %(id)s.")
                % {"record": record_label, "crm": by_erp.crm_entity, "id": by_erp.crm_id},
                side="erp",
                coupling=by_erp,
                other=f"CRM {by_erp.crm_entity} {by_erp.crm_id}",
            )
        stale.append(by_erp)
    by_crm = CrmCoupling.objects.filter(crm_entity=mapping.crm_entity, crm_id=crm_id).first()
    if by_crm is not None:
        other = selectors.erp_records(by_crm.erp_table, [by_crm.erp_uuid]).get(by_crm.erp_uuid)
        if other is not None:
            label = _erp_label(by_crm.erp_table, other, by_crm.erp_uuid)
            raise AlreadyCoupled(
                _("Cannot couple the CRM %(crm)s %(id)s: it is already coupled to %(record)s.")
                % {"crm": mapping.crm_entity, "id": crm_id, "record": label},
                side="crm",
                coupling=by_crm,
                other=label,
            )
        stale.append(by_crm)
    return stale


def couple(
    *,
    mapping: IntegrationTableMapping,
    erp_uuid: uuid.UUID,
    crm_id: uuid.UUID,
    after: After = "none",
    crm: CrmAdapter | None = None,
) -> CoupleResult:
    """Couple an ERP record to a CRM row (the reference's "Set Up Coupling", §3.3).

    Refused (AlreadyCoupled, saying to whom) when either is coupled to another record that
    still exists; a coupling whose other record is gone is replaced. Then `after`:
    "erp" sends the ERP record's data to the CRM row, "crm" takes the CRM row's data into the
    ERP record (both: every mapped field that differs), "none" writes nothing and records both
    sides' current stamps, so the pair is synchronized once one side changes (fields that
    differ now then follow the side that changed first).
    """
    _require_rows(mapping)
    if after not in ("erp", "crm", "none"):
        raise CouplingError(_("Choose erp, crm or none, not %(after)r.") % {"after": after})
    if after == "erp":
        _require_direction(mapping, Direction.TO_CRM)
    elif after == "crm":
        _require_direction(mapping, Direction.FROM_CRM)
    adapter = crm or crm_adapter(mapping)
    erp_table = ErpTable(mapping.erp_table)
    record = erp_table.by_uuids([erp_uuid]).get(erp_uuid)
    if record is None:
        raise RecordMissing(
            _("The ERP record %(uuid)s does not exist.") % {"uuid": erp_uuid}, side="erp"
        )
    label = erp_table.label_of(record)
    if not erp_table.scope().filter(pk=record.pk).exists():
        raise OutOfScope(
            _("The ERP table filter of %(mapping)s leaves out %(record)s.")
            % {"mapping": mapping.name, "record": label}
        )
    comparison = compare(mapping, erp_uuid=erp_uuid, crm_id=crm_id, crm=adapter)
    row = comparison.crm_row
    if row is None:
        raise RecordMissing(
            _("The CRM %(crm)s %(id)s does not exist.") % {"crm": mapping.crm_entity, "id": crm_id},
            side="crm",
        )
    if not row.in_scope:
        raise OutOfScope(
            _("The filters applied to the mapping %(mapping)s leave out the CRM %(crm)s %(id)s.")
            % {"mapping": mapping.name, "crm": mapping.crm_entity, "id": crm_id}
        )
    stale = _stale_or_refuse(
        mapping=mapping,
        adapter=adapter,
        erp_label=erp_table.label,
        erp_uuid=erp_uuid,
        crm_id=crm_id,
        record_label=label,
    )
    coupling = CrmCoupling(
        erp_table=erp_table.label,
        erp_uuid=erp_uuid,
        crm_entity=mapping.crm_entity,
        crm_id=crm_id,
        state=CrmCoupling.State.COUPLED,
    )
    if after == "none":
        coupling.snapshot = {
            f.key: f.crm for f in comparison.fields if not f.erp_problem and f.erp == f.crm
        }
        coupling.erp_modified_at = record.modified_at
        coupling.crm_modified_on = row.modified_on
        coupling.crm_version = row.version
    try:
        with transaction.atomic():
            job = _job(mapping, JobRun.Kind.COUPLING)
            changes = []
            for old in stale:
                changes.append(
                    _change(
                        job,
                        RecordChange.Action.UNCOUPLE,
                        old,
                        label,
                        message=_("the other record of this coupling no longer exists"),
                    )
                )
                old.delete()
            coupling.save()
            changes.append(_change(job, RecordChange.Action.COUPLE, coupling, label, after=after))
            RecordChange.objects.bulk_create(changes)
            job.coupled = 1
            job.uncoupled = len(stale)
            _finish(job, f"{label} coupled to the CRM {mapping.crm_entity} {crm_id}")
    except IntegrityError as exc:
        # Coupled by someone else between the check and the write.
        raise CouplingError(
            _("%(record)s or the CRM %(crm)s %(id)s was coupled meanwhile.")
            % {"record": label, "crm": mapping.crm_entity, "id": crm_id}
        ) from exc
    sync = None
    if after == "erp":
        sync = _synchronize(mapping, direction=Direction.TO_CRM, erp_uuids=[erp_uuid])
    elif after == "crm":
        sync = _synchronize(mapping, direction=Direction.FROM_CRM, crm_ids=[crm_id])
    coupling.refresh_from_db()
    return CoupleResult(coupling=coupling, job=job, sync=sync, replaced=stale)


def uncouple(*, coupling: CrmCoupling, reason: str = "") -> JobRun:
    """Delete a coupling (§3.6): neither record changes; recorded as an uncoupling job."""
    mapping = selectors.mapping_of_coupling(coupling)
    record = selectors.erp_records(coupling.erp_table, [coupling.erp_uuid]).get(coupling.erp_uuid)
    label = _erp_label(coupling.erp_table, record, coupling.erp_uuid)
    with transaction.atomic():
        job = _job(mapping, JobRun.Kind.UNCOUPLING, name=mapping.name if mapping else "UNCOUPLING")
        extra = {"message": reason} if reason else {}
        _change(job, RecordChange.Action.UNCOUPLE, coupling, label, **extra).save()
        CrmCoupling.objects.filter(pk=coupling.pk).delete()
        job.uncoupled = 1
        return _finish(
            job, f"{label} uncoupled from the CRM {coupling.crm_entity} {coupling.crm_id}"
        )


def delete_coupling(*, coupling: CrmCoupling) -> JobRun:
    """ "Delete Coupling" on the errors page: the same as uncoupling."""
    return uncouple(coupling=coupling, reason=_("coupling deleted from the synchronization errors"))


# -- create on the other side, synchronize now -----------------------------------------------


@dataclass(frozen=True)
class CreateResult:
    sync: EngineResult | None
    already_coupled: list[uuid.UUID]  # left alone: coupled to a record that exists
    replaced: list[CrmCoupling]  # couplings whose other record was gone, removed first


def create_in_crm(
    *,
    mapping: IntegrationTableMapping,
    erp_uuids: Sequence[uuid.UUID],
    crm: CrmAdapter | None = None,
) -> CreateResult:
    """Create the CRM rows of uncoupled ERP records now, coupled to them (§3.2 "Create in
    Dataverse"); a record already coupled is left alone, a coupling whose CRM row vanished is
    removed first. An existing CRM row holding the record's match fields is coupled instead of
    duplicated (the engine's rule)."""
    _require_rows(mapping)
    _require_direction(mapping, Direction.TO_CRM)
    adapter = crm or crm_adapter(mapping)
    label = ErpTable(mapping.erp_table).label
    couplings = list(CrmCoupling.objects.filter(erp_table=label, erp_uuid__in=list(erp_uuids)))
    # A pending coupling is a create already under way: the engine finishes it.
    settled = [c for c in couplings if c.state != CrmCoupling.State.PENDING]
    alive: set[uuid.UUID] = set()
    by_entity: dict[str, list[CrmCoupling]] = {}
    for c in settled:
        by_entity.setdefault(c.crm_entity, []).append(c)
    for entity, group in by_entity.items():
        for row_id in selectors.crm_rows_exist(entity, [c.crm_id for c in group], crm=adapter):
            alive.add(row_id)
    already = [c.erp_uuid for c in settled if c.crm_id in alive]
    stale = [c for c in settled if c.crm_id not in alive]
    for c in stale:
        uncouple(coupling=c, reason=_("the coupled CRM row no longer exists"))
    todo = [u for u in erp_uuids if u not in set(already)]
    sync = _synchronize(mapping, direction=Direction.TO_CRM, erp_uuids=todo) if todo else None
    return CreateResult(sync=sync, already_coupled=already, replaced=stale)


def create_in_erp(
    *,
    mapping: IntegrationTableMapping,
    crm_ids: Sequence[uuid.UUID],
) -> CreateResult:
    """Create the ERP records of uncoupled CRM rows now, coupled to them (§3.2 "Create in
    Business Central"); a row already coupled is left alone, a coupling whose ERP record was
    deleted is removed first."""
    _require_rows(mapping)
    _require_direction(mapping, Direction.FROM_CRM)
    couplings = list(
        CrmCoupling.objects.filter(crm_entity=mapping.crm_entity, crm_id__in=list(crm_ids))
    )
    settled = [c for c in couplings if c.state != CrmCoupling.State.PENDING_ERP]
    existing: set[tuple[str, uuid.UUID]] = set()
    for table in {c.erp_table for c in settled}:
        uuids = [c.erp_uuid for c in settled if c.erp_table == table]
        existing.update((table, u) for u in selectors.erp_records(table, uuids))
    already = [c.crm_id for c in settled if (c.erp_table, c.erp_uuid) in existing]
    stale = [c for c in settled if (c.erp_table, c.erp_uuid) not in existing]
    for c in stale:
        uncouple(coupling=c, reason=_("the coupled ERP record no longer exists"))
    todo = [i for i in crm_ids if i not in set(already)]
    sync = _synchronize(mapping, direction=Direction.FROM_CRM, crm_ids=todo) if todo else None
    return CreateResult(sync=sync, already_coupled=already, replaced=stale)


def both_changed_warning(*, record_label: str, crm_entity: str) -> str:
    return _(
        "Both the %(record)s record and the CRM %(crm)s record have been changed "
        "since the last synchronization, or synchronization has never been performed. If you "
        "continue with the synchronization, data on one of the records will be lost and "
        "replaced with data from the other record. Choose which side to keep."
    ) % {"record": record_label, "crm": crm_entity}


@dataclass(frozen=True)
class SideChanges:
    erp_changed: bool
    crm_changed: bool


def _sides_changed(
    mapping: IntegrationTableMapping, coupling: CrmCoupling, record: Any, adapter: CrmAdapter
) -> SideChanges:
    """Which side changed since the pair's last synchronization: first by the stamps (ERP
    modified_at, CRM row version); a side whose stamp moved counts as changed only when one of
    its mapped values differs from the snapshot (the CRM row's version also moves when the
    engine writes to it, and for columns nobody maps)."""
    erp_stamp = coupling.erp_modified_at is None or record.modified_at > coupling.erp_modified_at
    rows = adapter.read(_crm_table(mapping), [coupling.crm_id])
    row: CrmRow | None = rows.get(coupling.crm_id)
    crm_stamp = row is not None and (
        coupling.crm_version is None or row.version != coupling.crm_version
    )
    if not (erp_stamp or crm_stamp) or not coupling.snapshot:
        return SideChanges(erp_stamp, crm_stamp)
    comparison = compare(mapping, erp_uuid=coupling.erp_uuid, crm_id=coupling.crm_id, crm=adapter)
    missing = object()
    snapshot = coupling.snapshot

    def moved(values: list[tuple[str, Any]]) -> bool:
        return any(snapshot.get(key, missing) != value for key, value in values)

    erp_changed = erp_stamp and moved(
        [(f.key, f.erp) for f in comparison.fields if f.to_crm and not f.erp_problem]
    )
    crm_changed = crm_stamp and moved([(f.key, f.crm) for f in comparison.fields if f.from_crm])
    return SideChanges(erp_changed, crm_changed)


def synchronize_now(
    *,
    mapping: IntegrationTableMapping,
    erp_uuid: uuid.UUID | None = None,
    crm_id: uuid.UUID | None = None,
    direction: str | None = None,
    crm: CrmAdapter | None = None,
) -> EngineResult:
    """Synchronize one coupled pair now (§5.9), every mapped field that differs.

    Without a direction: a one-way mapping goes its way; a bidirectional one sends the side
    that changed since the last synchronization (the ERP's when neither did), and when both
    changed (or the pair was never synchronized) raises DirectionRequired with the warning to
    show instead of guessing which data to lose.
    """
    _require_rows(mapping)
    if erp_uuid is None and crm_id is None:
        raise CouplingError(_("Choose the record to synchronize."))
    label = ErpTable(mapping.erp_table).label
    query = (
        Q(erp_table=label, erp_uuid=erp_uuid)
        if erp_uuid is not None
        else Q(crm_entity=mapping.crm_entity, crm_id=crm_id)
    )
    coupling = CrmCoupling.objects.filter(query).first()
    if coupling is None or coupling.crm_entity != mapping.crm_entity:
        raise NotCoupled(
            _("This record is not coupled to a CRM record. Do you want to create a coupling?")
        )
    if direction is not None:
        _require_direction(mapping, direction)
    elif mapping.direction != Direction.BIDIRECTIONAL:
        direction = directions_of(mapping, None)[0]
    else:
        adapter = crm or crm_adapter(mapping)
        record = selectors.erp_records(coupling.erp_table, [coupling.erp_uuid]).get(
            coupling.erp_uuid
        )
        if record is None:
            direction = Direction.FROM_CRM  # the engine applies the deletion rule
        else:
            sides = _sides_changed(mapping, coupling, record, adapter)
            if sides.erp_changed and sides.crm_changed:
                raise DirectionRequired(
                    both_changed_warning(
                        record_label=_erp_label(coupling.erp_table, record, coupling.erp_uuid),
                        crm_entity=mapping.crm_entity,
                    ),
                    coupling=coupling,
                )
            direction = Direction.FROM_CRM if sides.crm_changed else Direction.TO_CRM
    if mapping.direction == Direction.BIDIRECTIONAL:
        _keep_side(mapping, coupling, direction, crm or crm_adapter(mapping))
    if direction == Direction.TO_CRM:
        return _synchronize(mapping, direction=direction, erp_uuids=[coupling.erp_uuid])
    return _synchronize(mapping, direction=direction, crm_ids=[coupling.crm_id])


def _keep_side(
    mapping: IntegrationTableMapping, coupling: CrmCoupling, direction: str, adapter: CrmAdapter
) -> None:
    """The person chose which side's data to keep: record the other side's current values as
    the common ancestor, so the engine sees only the chosen side as changed and overwrites
    instead of reporting a conflict (as `syncjobs.services.conflict_resolve` does per field)."""
    comparison = compare(mapping, erp_uuid=coupling.erp_uuid, crm_id=coupling.crm_id, crm=adapter)
    if comparison.crm_row is None or not comparison.erp_found:
        return  # a deleted side: the engine applies the deletion rule
    snapshot = dict(coupling.snapshot)
    for f in comparison.fields:
        if f.erp_problem or not f.differs:
            continue
        snapshot[f.key] = f.crm if direction == Direction.TO_CRM else f.erp
    CrmCoupling.objects.filter(pk=coupling.pk).update(
        snapshot=snapshot, conflict=False, conflict_fields=[]
    )


# -- couplings in trouble (§5.6) -------------------------------------------------------------


@dataclass(frozen=True)
class RetryResult:
    retried: int
    results: list[EngineResult]

    @property
    def failed(self) -> int:
        return sum(r.failed for r in self.results)


def retry(*, couplings: Iterable[CrmCoupling], wait: float = 0.0) -> RetryResult:
    """Take failed, skipped or conflicting couplings up again and synchronize them now
    (grouped per mapping), with the engine's usual decisions: a conflict under the mapping's
    current update-conflict rule is resolved, one under "none" stays a conflict."""
    chosen = list(couplings)
    if not chosen:
        return RetryResult(retried=0, results=[])
    CrmCoupling.objects.filter(pk__in=[c.pk for c in chosen]).update(skipped=False, failure_count=0)
    groups: dict[int, tuple[IntegrationTableMapping, list[CrmCoupling]]] = {}
    for c in chosen:
        mapping = selectors.mapping_of_coupling(c)
        if mapping is None:
            continue
        groups.setdefault(mapping.pk, (mapping, []))[1].append(c)
    results = []
    for mapping, group in groups.values():
        results.append(
            _synchronize(
                mapping,
                erp_uuids=[c.erp_uuid for c in group],
                crm_ids=[c.crm_id for c in group],
                force=False,
                wait=wait,
            )
        )
    return RetryResult(retried=len(chosen), results=results)


def retry_all(
    *,
    mapping: IntegrationTableMapping | None = None,
    erp_table: str | None = None,
    state: str | None = None,
    batch: int = 500,
) -> RetryResult:
    """Retry every coupling the errors page lists with these filters ("Retry All")."""
    qs = selectors.coupling_errors(mapping=mapping, erp_table=erp_table, state=state)
    pks = list(qs.values_list("pk", flat=True))
    retried = 0
    results: list[EngineResult] = []
    for start in range(0, len(pks), batch):
        part = retry(couplings=CrmCoupling.objects.filter(pk__in=pks[start : start + batch]))
        retried += part.retried
        results.extend(part.results)
    return RetryResult(retried=retried, results=results)


def restore_deleted(*, coupling: CrmCoupling, crm: CrmAdapter | None = None) -> EngineResult:
    """A broken coupling (§5.6 "Restore Records"): create the deleted side again from the
    surviving one, with the same id, as the engine's "restore" deletion rule does: the
    coupling goes back to pending (the CRM row, or the ERP record, being created) and the
    engine's create-or-retry path writes it."""
    mapping = _mapping_of(coupling)
    adapter = crm or crm_adapter(mapping)
    erp_exists = bool(
        selectors.erp_records(coupling.erp_table, [coupling.erp_uuid]).get(coupling.erp_uuid)
    )
    crm_exists = bool(selectors.crm_rows_exist(coupling.crm_entity, [coupling.crm_id], crm=adapter))
    if erp_exists == crm_exists:
        raise NothingToRestore(
            _("Both records exist: retry the synchronization instead.")
            if erp_exists
            else _("Both records were deleted: there is nothing to restore from.")
        )
    if not crm_exists:
        _require_direction(mapping, Direction.TO_CRM)
        state, direction = CrmCoupling.State.PENDING, Direction.TO_CRM
    else:
        _require_direction(mapping, Direction.FROM_CRM)
        state, direction = CrmCoupling.State.PENDING_ERP, Direction.FROM_CRM
    CrmCoupling.objects.filter(pk=coupling.pk).update(
        state=state, snapshot={}, skipped=False, failure_count=0, conflict=False, conflict_fields=[]
    )
    if direction == Direction.TO_CRM:
        return _synchronize(mapping, direction=direction, erp_uuids=[coupling.erp_uuid])
    return _synchronize(mapping, direction=direction, crm_ids=[coupling.crm_id])


# -- match-based coupling (§3.4) -------------------------------------------------------------


@dataclass(frozen=True)
class MatchField:
    erp_field: str
    crm_field: str
    case_sensitive: bool = False
    priority: int = 0

    def as_list(self) -> list[Any]:
        return [self.erp_field, self.crm_field, self.case_sensitive, self.priority]


# Where a mapping marks no field for match-based coupling: the natural keys of each table.
DEFAULT_MATCH_FIELDS: dict[str, list[MatchField]] = {
    "erp.currency": [MatchField("code", "isocurrencycode")],
    "erp.unitofmeasure": [MatchField("code", "name")],
    "erp.customer": [
        MatchField("no", "accountnumber", priority=1),
        MatchField("name", "name", priority=2),
        MatchField("city", "address1_city", priority=2),
    ],
    "erp.contact": [MatchField("email", "emailaddress1")],
    "erp.item": [MatchField("no", "productnumber")],
    "erp.resource": [MatchField("no", "productnumber")],
    "erp.salesperson": [MatchField("email", "internalemailaddress")],
}


def default_match_fields(*, mapping: IntegrationTableMapping) -> list[MatchField]:
    """The mapping's match fields (field mappings used for match-based coupling), else the
    table's defaults."""
    marked = [
        MatchField(f.erp_field, f.crm_field, f.case_sensitive_match, f.match_priority)
        for f in mapping.field_mappings.filter(
            use_for_match_based_coupling=True,
            status=IntegrationFieldMapping.Status.ENABLED,
        ).order_by("match_priority", "position", "id")
        if f.erp_field and f.crm_field and not f.constant_value
    ]
    return marked or list(DEFAULT_MATCH_FIELDS.get(mapping.erp_table.lower(), []))


def _match_fields(
    mapping: IntegrationTableMapping,
    fields: Sequence[MatchField | Sequence[Any]] | None,
) -> list[MatchField]:
    if fields is None:
        chosen = default_match_fields(mapping=mapping)
    else:
        chosen = [
            f
            if isinstance(f, MatchField)
            else MatchField(str(f[0]), str(f[1]), bool(f[2]), int(f[3]))
            for f in fields
        ]
    if not chosen:
        raise MatchFieldInvalid(
            _("Choose at least one field to match the records of %(mapping)s on.")
            % {"mapping": mapping.name}
        )
    erp_table = ErpTable(mapping.erp_table)
    for f in chosen:
        try:
            path = erp_table.path(f.erp_field)
        except MappingBroken as exc:
            raise MatchFieldInvalid(str(exc)) from exc
        if path.target is not None:
            raise MatchFieldInvalid(
                _("%(field)s refers to another record; match on plain values.")
                % {"field": f.erp_field}
            )
        if not f.crm_field:
            raise MatchFieldInvalid(
                _("%(field)s needs a CRM column to match on.") % {"field": f.erp_field}
            )
    return chosen


def match_couple(
    *,
    mapping: IntegrationTableMapping,
    erp_uuids: Sequence[uuid.UUID] | None = None,
    match_fields: Sequence[MatchField | Sequence[Any]] | None = None,
    synch_after: bool | None = None,
    create_new: bool | None = None,
) -> CouplingRun:
    """Queue a match-based coupling run (§3.4) of these ERP records (None: every uncoupled
    record in the mapping's scope), matched on `match_fields` (default: the mapping's, else
    the table's natural keys). `synch_after` / `create_new` default to the mapping's flags.
    The worker starts it once the current transaction commits; see `match_couple_run`."""
    _require_rows(mapping)
    fields = _match_fields(mapping, match_fields)
    create = mapping.create_new_if_no_match if create_new is None else create_new
    if create:
        _require_direction(mapping, Direction.TO_CRM)
    run = CouplingRun.objects.create(
        mapping=mapping,
        erp_uuids=[str(u) for u in dict.fromkeys(erp_uuids)] if erp_uuids is not None else None,
        match_fields=[f.as_list() for f in fields],
        synch_after=mapping.synch_after_match_coupling if synch_after is None else synch_after,
        create_new=create,
        total=len(set(erp_uuids)) if erp_uuids is not None else 0,
    )
    transaction.on_commit(partial(_match_send, run.pk))
    return run


@transaction.atomic
def fullsync_line_couple(*, line: FullSyncLine) -> CouplingRun:
    """Accept a full synchronization line's "couple records first" recommendation (§4.3):
    match-based coupling of every uncoupled record of its mapping with the mapping's default
    match settings, in the background. The line shows the run's job and, when it succeeds,
    recommends the full synchronization (syncjobs.fullsync_advice). Raises FullSyncError
    when the line cannot be coupled now, CouplingError when its mapping cannot be matched."""
    fullsync_advice.coupling_acceptable(line=line)
    mapping = line.mapping
    assert mapping is not None  # coupling_acceptable refuses a line without one
    run = match_couple(mapping=mapping)
    # The job exists from the request on, so that the line shows it while the run is queued
    # (match_couple_run keeps a run's job).
    run.job = _job(mapping, JobRun.Kind.COUPLING)
    run.save(update_fields=["job"])
    fullsync_advice.line_coupling_started(line=line, job=run.job)
    return run


def _match_send(run_id: int) -> None:
    current_app.send_task(MATCH_TASK, args=[run_id])


def _claim(run_id: int) -> CouplingRun | None:
    """Take a queued run (or one whose worker died: a redelivered message) with a conditional
    UPDATE; a finished run is not run again."""
    taken = CouplingRun.objects.filter(
        pk=run_id, status__in=[CouplingRun.Status.QUEUED, CouplingRun.Status.RUNNING]
    ).update(status=CouplingRun.Status.RUNNING, started_at=Coalesce("started_at", timezone.now()))
    if not taken:
        return None
    return CouplingRun.objects.select_related("mapping").get(pk=run_id)


def _remaining(run: CouplingRun, erp_table: ErpTable) -> list[uuid.UUID]:
    """The run's records not decided yet: not coupled, no candidate row of this run."""
    if run.erp_uuids is None:
        coupled = CrmCoupling.objects.filter(erp_table=erp_table.label).values("erp_uuid")
        uuids = list(
            erp_table.scope()
            .exclude(uuid__in=coupled)
            .order_by("pk")
            .values_list("uuid", flat=True)
        )
        run.erp_uuids = [str(u) for u in uuids]
        run.total = len(uuids)
        run.save(update_fields=["erp_uuids", "total"])
    wanted = [uuid.UUID(u) for u in run.erp_uuids]
    decided: set[uuid.UUID] = set()
    for start in range(0, len(wanted), 1000):
        part = wanted[start : start + 1000]
        decided.update(
            CrmCoupling.objects.filter(erp_table=erp_table.label, erp_uuid__in=part).values_list(
                "erp_uuid", flat=True
            )
        )
        decided.update(run.candidates.filter(erp_uuid__in=part).values_list("erp_uuid", flat=True))
    return [u for u in wanted if u not in decided]


def _norm(value: Any, case_sensitive: bool) -> Any:
    text = canonical(value)
    if isinstance(text, str):
        text = text.strip()
        return text if case_sensitive else text.casefold()
    return text


@dataclass
class _Decision:
    matched: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # erp uuid -> crm id
    ambiguous: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)
    no_match: list[uuid.UUID] = field(default_factory=list)


def _match_chunk(
    mapping: IntegrationTableMapping,
    adapter: CrmAdapter,
    erp_table: ErpTable,
    records: Sequence[Any],
    fields: list[MatchField],
) -> _Decision:
    """Match a chunk of ERP records: priority groups in ascending order (a group's fields
    ANDed); the first group that finds any candidate decides (one: matched, several:
    ambiguous); a group with an empty ERP value is passed over for that record. CRM rows are
    read with one batched OR filter per group and chunk."""
    transformations = {
        (f.erp_field, f.crm_field): f
        for f in mapping.field_mappings.filter(status=IntegrationFieldMapping.Status.ENABLED)
    }
    rules = []
    for i, f in enumerate(fields):
        fm = transformations.get((f.erp_field, f.crm_field))
        rules.append(
            Rule(
                key=str(i),
                erp_field=f.erp_field,
                crm_field=f.crm_field,
                direction=Direction.TO_CRM,
                transformation=fm.transformation if fm is not None else "",
                value_map=dict(fm.value_map or {}) if fm is not None else {},
            )
        )
    raw = erp_table.read(records, rules)
    values = {u: {r.key: r.to_crm_value(v.get(r.key)) for r in rules} for u, v in raw.items()}
    groups: dict[int, list[tuple[Rule, MatchField]]] = {}
    for rule, f in zip(rules, fields, strict=True):
        groups.setdefault(f.priority, []).append((rule, f))
    table = CrmTable(
        entity=mapping.crm_entity,
        key=mapping.crm_uid_field,
        columns=tuple(dict.fromkeys(f.crm_field for f in fields)),
        filter=mapping.integration_table_filter,
    )
    decision = _Decision()
    open_ = [r.uuid for r in records]
    claimed: dict[uuid.UUID, uuid.UUID] = {}  # crm id -> erp uuid that took it in this chunk
    for priority in sorted(groups):
        group = groups[priority]
        ready = [u for u in open_ if all(values[u].get(rule.key) is not None for rule, _ in group)]
        if not ready:
            continue
        first_rule, _first = group[0]
        rows = adapter.find(table, first_rule.crm_field, [values[u][first_rule.key] for u in ready])
        taken = set(
            CrmCoupling.objects.filter(
                crm_entity=mapping.crm_entity, crm_id__in=[row.id for row in rows]
            ).values_list("crm_id", flat=True)
        )
        index: dict[tuple[Any, ...], list[uuid.UUID]] = {}
        for row in {row.id: row for row in rows if row.id not in taken}.values():
            key = tuple(_norm(row.values.get(f.crm_field), f.case_sensitive) for _, f in group)
            index.setdefault(key, []).append(row.id)
        still_open = [u for u in open_ if u not in ready]
        for u in ready:
            key = tuple(_norm(values[u][rule.key], f.case_sensitive) for rule, f in group)
            found = index.get(key, [])
            free = [i for i in found if i not in claimed]
            if not found:
                still_open.append(u)
            elif len(found) == 1 and free:
                decision.matched[u] = free[0]
                claimed[free[0]] = u
            else:
                # Several rows, or the one row another record of this run took: a person chooses.
                decision.ambiguous[u] = found
        open_ = still_open
    decision.no_match = open_
    return decision


def match_couple_run(*, run_id: int, crm: CrmAdapter | None = None) -> CouplingRun | None:
    """Carry out a match-based coupling run (the task's body). Idempotent: a run started
    again (a redelivered message) goes on with the records it has not decided yet; a finished
    run is left alone."""
    run = _claim(run_id)
    if run is None:
        return None
    mapping = run.mapping
    try:
        adapter = crm or crm_adapter(mapping)
        erp_table = ErpTable(mapping.erp_table)
        fields = [MatchField(str(a), str(b), bool(c), int(d)) for a, b, c, d in run.match_fields]
        if run.job_id is None:
            run.job = _job(mapping, JobRun.Kind.COUPLING)
            run.save(update_fields=["job"])
        job = run.job
        assert job is not None
        remaining = _remaining(run, erp_table)
        run.done = run.total - len(remaining)
        run.save(update_fields=["done"])
        for start in range(0, len(remaining), MATCH_CHUNK):
            _match_step(
                run,
                job,
                mapping,
                adapter,
                erp_table,
                remaining[start : start + MATCH_CHUNK],
                fields,
            )
    except (CrmUnavailable, MappingBroken, NoConnection) as exc:
        return _run_finish(run, CouplingRun.Status.FAILED, _("stopped: %(error)s") % {"error": exc})
    except BaseException as exc:
        _run_finish(run, CouplingRun.Status.FAILED, _("interrupted: %(error)r") % {"error": exc})
        raise
    return _run_finish(run, CouplingRun.Status.SUCCEEDED, _run_summary(run))


def _match_step(
    run: CouplingRun,
    job: JobRun,
    mapping: IntegrationTableMapping,
    adapter: CrmAdapter,
    erp_table: ErpTable,
    uuids: list[uuid.UUID],
    fields: list[MatchField],
) -> None:
    records = list(erp_table.by_uuids(uuids).values())
    gone = len(uuids) - len(records)
    decision = _match_chunk(mapping, adapter, erp_table, records, fields)
    by_uuid = {r.uuid: r for r in records}
    create = decision.no_match if run.create_new else []
    with transaction.atomic():
        couplings = [
            CrmCoupling(
                erp_table=erp_table.label,
                erp_uuid=u,
                crm_entity=mapping.crm_entity,
                crm_id=crm_id,
                state=CrmCoupling.State.COUPLED,
            )
            for u, crm_id in decision.matched.items()
        ]
        CrmCoupling.objects.bulk_create(couplings)
        RecordChange.objects.bulk_create(
            [
                _change(job, RecordChange.Action.COUPLE, c, erp_table.label_of(by_uuid[c.erp_uuid]))
                for c in couplings
            ]
        )
        candidates = [
            CouplingCandidate(
                run=run,
                erp_table=erp_table.label,
                erp_uuid=u,
                record=erp_table.label_of(by_uuid[u]),
                outcome=CouplingCandidate.Outcome.AMBIGUOUS,
                crm_entity=mapping.crm_entity,
                crm_ids=[str(i) for i in ids],
            )
            for u, ids in decision.ambiguous.items()
        ]
        if not run.create_new:
            candidates += [
                CouplingCandidate(
                    run=run,
                    erp_table=erp_table.label,
                    erp_uuid=u,
                    record=erp_table.label_of(by_uuid[u]),
                    outcome=CouplingCandidate.Outcome.NO_MATCH,
                    crm_entity=mapping.crm_entity,
                )
                for u in decision.no_match
            ]
        CouplingCandidate.objects.bulk_create(candidates)
        job.coupled += len(couplings)
        job.save(update_fields=["coupled"])
        run.coupled += len(couplings)
        run.ambiguous += len(decision.ambiguous)
        run.no_match += 0 if run.create_new else len(decision.no_match)
        run.done += len(couplings) + len(decision.ambiguous) + len(decision.no_match) - len(create)
        run.done += gone
        run.save(update_fields=["coupled", "ambiguous", "no_match", "done"])
    # Writing to the CRM after the couplings are committed: a crash here leaves them coupled
    # (their first change is then synchronized), never a record coupled twice.
    if run.synch_after and couplings:
        if _allows(mapping, Direction.TO_CRM):
            result = _synchronize(
                mapping,
                direction=Direction.TO_CRM,
                erp_uuids=[c.erp_uuid for c in couplings],
                wait=BUSY_WAIT_SECONDS,
            )
        else:
            result = _synchronize(
                mapping,
                direction=Direction.FROM_CRM,
                crm_ids=[c.crm_id for c in couplings],
                wait=BUSY_WAIT_SECONDS,
            )
        run.failed += result.failed
        _note_skipped(run, result)
    if create:
        result = _synchronize(
            mapping, direction=Direction.TO_CRM, erp_uuids=create, wait=BUSY_WAIT_SECONDS
        )
        run.created += sum(j.inserted for j in result.jobs)
        run.coupled += sum(j.coupled for j in result.jobs)
        run.failed += result.failed
        run.done += len(create)
        _note_skipped(run, result)
    run.save(update_fields=["failed", "created", "coupled", "done", "message"])


def _note_skipped(run: CouplingRun, result: EngineResult) -> None:
    for j in result.jobs:
        if j.status == JobRun.Status.SKIPPED and j.message not in run.message:
            run.message = (run.message + "; " if run.message else "") + j.message


def _run_summary(run: CouplingRun) -> str:
    parts = [
        label % {"n": n}
        for n, label in (
            (run.coupled, _("%(n)s coupled")),
            (run.created, _("%(n)s created")),
            (run.no_match, _("%(n)s without a match")),
            (run.ambiguous, _("%(n)s with several matches")),
            (run.failed, _("%(n)s failed")),
        )
        if n
    ]
    summary = _("%(done)s of %(total)s records: %(parts)s") % {
        "done": run.done,
        "total": run.total,
        "parts": ", ".join(parts) if parts else _("nothing"),
    }
    return summary + (f" ({run.message})" if run.message else "")


def _run_finish(run: CouplingRun, status: str, message: str) -> CouplingRun:
    run.status = status
    run.message = message
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "message", "finished_at"])
    if run.job is not None:
        _finish(
            run.job,
            message,
            JobRun.Status.SUCCEEDED
            if status == CouplingRun.Status.SUCCEEDED
            else JobRun.Status.FAILED,
        )
        # A run that accepted a full synchronization line's advice updates that line.
        fullsync_advice.line_coupling_finished(job=run.job)
    return run


def candidate_couple(
    *, candidate: CouplingCandidate, crm_id: uuid.UUID, after: After = "none"
) -> CoupleResult:
    """A person's choice for an undecided record of a match-based run: couple it to one of
    the candidates (or any CRM row), then forget the candidate row."""
    result = couple(
        mapping=candidate.run.mapping, erp_uuid=candidate.erp_uuid, crm_id=crm_id, after=after
    )
    candidate.delete()
    return result
