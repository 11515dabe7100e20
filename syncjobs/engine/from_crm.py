"""CRM -> ERP pass of one mapping.

Changed CRM rows come from change tracking (a delta link; deletions included) or, where a
table has none, a modifiedon watermark; "full" reads every row. A row is compared with the
coupling's snapshot: a row equal to it is the engine's own write coming back (no echo). New
ERP records and their couplings are written in one transaction per chunk, so the coupling's
uniqueness guards against a second ERP record for the same CRM row.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q

from syncjobs.models import (
    CrmCoupling,
    DeletionConflictResolution,
    Direction,
    RecordChange,
    SyncResult,
    UpdateConflictResolution,
)

from .context import MISSING, Context, LookupFailure, couplings_save
from .crm import CrmChanges, CrmRow
from .deleted_rows import coupling_remove, crm_rows_restore
from .fields import Rule, canonical, conflict_entry, field_entry, rule_of
from .values import (
    EMPTY,
    crm_to_erp_references,
    crm_values,
    erp_in_crm_space,
    reference_failure,
)

# Number series for records created from the CRM (the reference names new salespeople
# "SP NO. 1", "SP NO. 2"...).
NUMBER_PREFIX = {"erp.salesperson": "SP NO. "}
DEFAULT_PREFIX = "CRM"


def _crm_label(ctx: Context, row_id: uuid.UUID) -> str:
    return f"CRM {ctx.table.entity} {row_id}"


def run(ctx: Context) -> str | None:
    """Returns the change token to resume from next time (None: keep the old one)."""
    rules = ctx.rules.from_crm
    if not rules:
        return None
    if ctx.options.crm_ids is not None:
        chosen = ctx.crm.read(ctx.table, list(ctx.options.crm_ids))
        _rows(ctx, list(chosen.values()), rules)
        ctx.log.flush()
        return None
    retry_ids = list(
        CrmCoupling.objects.filter(erp_table=ctx.erp.label, crm_entity=ctx.table.entity)
        .filter(skipped=False)
        .filter(Q(last_result_from_crm=SyncResult.FAILURE) | Q(state=CrmCoupling.State.PENDING_ERP))
        .values_list("crm_id", flat=True)
    )
    retried: set[uuid.UUID] = set()
    for start in range(0, len(retry_ids), ctx.chunk_size):
        found = ctx.crm.read(ctx.table, retry_ids[start : start + ctx.chunk_size])
        retried.update(found)
        _rows(ctx, list(found.values()), rules)
        ctx.log.flush()
    token = None if ctx.options.full else (ctx.mapping.crm_sync_token or None)
    new_token: str | None = None
    batch: CrmChanges
    for batch in ctx.crm.changes(ctx.table, token):
        rows = [r for r in batch.rows if r.id not in retried]
        for start in range(0, len(rows), ctx.chunk_size):
            _rows(ctx, rows[start : start + ctx.chunk_size], rules)
            ctx.log.flush()
        if batch.deleted:
            _deleted(ctx, batch.deleted)
            ctx.log.flush()
        if batch.token:
            new_token = batch.token
    return new_token


def _rows(ctx: Context, rows: Sequence[CrmRow], rules: list[Rule]) -> None:
    if not rows:
        return
    couplings = {
        c.crm_id: c
        for c in CrmCoupling.objects.filter(
            crm_entity=ctx.table.entity, crm_id__in=[r.id for r in rows]
        )
    }
    force = ctx.options.force or ctx.options.full
    work: list[CrmRow] = []
    for row in rows:
        coupling = couplings.get(row.id)
        if coupling is not None and coupling.erp_table != ctx.erp.label:
            continue  # coupled through another mapping (a product that is a resource, say)
        if not row.in_scope and (coupling is None or ctx.options.crm_ids is None):
            continue
        if coupling is None:
            if (
                ctx.mapping.sync_only_coupled
                and not ctx.options.full
                and ctx.options.crm_ids is None
            ):
                continue
            work.append(row)
            continue
        if coupling.state == CrmCoupling.State.PENDING:
            continue  # its CRM row is being created by the ERP -> CRM pass
        changed_since_attempt = coupling.crm_attempted_on is None or (
            row.modified_on is not None and row.modified_on > coupling.crm_attempted_on
        )
        if coupling.skipped and not (changed_since_attempt or ctx.options.crm_ids):
            ctx.job.skipped += 1
            continue
        if coupling.conflict and not ctx.options.crm_ids:
            ctx.job.conflicts += 1
            continue
        # The row version, not modifiedon (whole seconds: two changes in one second look
        # alike), says the row is the one last synchronized.
        unchanged = (
            coupling.state == CrmCoupling.State.COUPLED
            and coupling.last_result_from_crm != SyncResult.FAILURE
            and coupling.crm_version is not None
            and row.version == coupling.crm_version
        )
        if unchanged and not force:
            ctx.job.unchanged += 1
            continue
        work.append(row)
    if work:
        _work(ctx, work, couplings, rules, force)


def _work(
    ctx: Context,
    rows: list[CrmRow],
    couplings: dict[uuid.UUID, CrmCoupling],
    rules: list[Rule],
    force: bool,
) -> None:
    crm = crm_values(rows, rules)
    coupled = {
        row.id: couplings[row.id]
        for row in rows
        if row.id in couplings and couplings[row.id].state == CrmCoupling.State.COUPLED
    }
    records = ctx.erp.by_uuids([c.erp_uuid for c in coupled.values()])
    erp = erp_in_crm_space(ctx, list(records.values()), [r for r in rules if r.crm_field])
    references = _references(ctx, rules, crm)
    touched: list[CrmCoupling] = []
    inserts: list[tuple[CrmRow, CrmCoupling | None, Any, list[dict[str, Any]], dict[str, Any]]] = []
    updates: list[
        tuple[CrmRow, CrmCoupling, Any, list[str], list[dict[str, Any]], dict[str, Any]]
    ] = []
    for row in rows:
        coupling = couplings.get(row.id)
        if coupling is not None and coupling.state == CrmCoupling.State.COUPLED:
            record = records.get(coupling.erp_uuid)
            if record is None:
                _erp_deleted(ctx, row, coupling, touched)
                continue
            decided = _decide(ctx, rules, row, coupling, crm[row.id], erp[record.uuid], force)
            if decided is None:
                touched.append(coupling)
                continue
            if not decided:
                ctx.job.unchanged += 1
                if not ctx.dry_run:
                    snapshot = {
                        **coupling.snapshot,
                        **_agreed(rules, crm[row.id], erp[record.uuid]),
                    }
                    ctx.succeed(
                        coupling,
                        direction=Direction.FROM_CRM,
                        snapshot=snapshot,
                        crm_modified_on=row.modified_on,
                        crm_version=row.version,
                    )
                    touched.append(coupling)
                continue
            applied = _apply(ctx, rules, record, decided, references, new=False)
            if isinstance(applied, LookupFailure):
                _fail(ctx, coupling, row, applied.message, applied.waiting_for, touched)
                continue
            entries = [
                field_entry(rule_of(rules, k), erp[record.uuid].get(k), v)
                for k, v in decided.items()
            ]
            updates.append((row, coupling, record, applied, entries, decided))
            continue
        # A new ERP record (or one being created since an earlier attempt).
        record = ctx.erp.new()
        if coupling is not None:
            record.uuid = coupling.erp_uuid
        send = {k: v for k, v in crm[row.id].items()}
        applied = _apply(ctx, rules, record, send, references, new=True)
        if isinstance(applied, LookupFailure):
            coupling = coupling or _pending_erp(ctx, row, record)
            _fail(ctx, coupling, row, applied.message, applied.waiting_for, touched)
            continue
        entries = [
            field_entry(rule_of(rules, k), None, v) for k, v in send.items() if v is not None
        ]
        inserts.append((row, coupling, record, entries, send))
    _insert(ctx, inserts, touched)
    _update(ctx, updates, touched)
    if not ctx.dry_run:
        couplings_save([c for c in touched if c.pk])


def _agreed(rules: list[Rule], crm: dict[str, Any], erp: dict[str, Any]) -> dict[str, Any]:
    return {r.key: crm[r.key] for r in rules if r.crm_field and crm.get(r.key) == erp.get(r.key)}


def _decide(
    ctx: Context,
    rules: list[Rule],
    row: CrmRow,
    coupling: CrmCoupling,
    crm: dict[str, Any],
    erp: dict[str, Any],
    force: bool,
) -> dict[str, Any] | None:
    base = coupling.snapshot
    take: dict[str, Any] = {}
    conflicts: list[dict[str, Any]] = []
    for rule in rules:
        if not rule.crm_field:
            continue
        crm_value = crm.get(rule.key)
        old = base.get(rule.key, MISSING)
        crm_changed = old is MISSING or crm_value != old
        if not crm_changed and not force:
            continue
        erp_value = erp.get(rule.key)
        if isinstance(erp_value, LookupFailure):
            erp_value = MISSING
        if erp_value == crm_value:
            continue
        erp_changed = (
            rule.bidirectional
            and old is not MISSING
            and erp_value is not MISSING
            and erp_value != old
        )
        if erp_changed and crm_changed:
            conflicts.append(
                conflict_entry(
                    rule, base=None if old is MISSING else old, erp=erp_value, crm=crm_value
                )
            )
            continue
        take[rule.key] = crm_value
    settled = ctx.settle(
        coupling,
        conflicts,
        wins=UpdateConflictResolution.GET_FROM_CRM,
        side="crm",
        write=take,
        source=_crm_label(ctx, row.id),
    )
    return take if settled else None


def _references(
    ctx: Context, rules: list[Rule], crm: dict[uuid.UUID, dict[str, Any]]
) -> dict[str, dict[Any, Any]]:
    """Per reference rule: CRM value -> ERP foreign key value, for every row of the chunk."""
    out: dict[str, dict[Any, Any]] = {}
    for rule in rules:
        if rule.is_reference and rule.crm_field and ctx.erp.path(rule.erp_field).writable:
            values = [v[rule.key] for v in crm.values() if v.get(rule.key) is not None]
            out[rule.key] = crm_to_erp_references(ctx, rule, values)
    return out


def _apply(
    ctx: Context,
    rules: list[Rule],
    record: Any,
    take: dict[str, Any],
    references: dict[str, dict[Any, Any]],
    *,
    new: bool,
) -> list[str] | LookupFailure:
    """Set the taken values on the ERP record; returns the fields written."""
    written: list[str] = []
    for rule in rules:
        if not rule.erp_field:
            continue
        if not rule.crm_field:
            if new:  # a constant for new ERP records ("person")
                written.append(ctx.erp.set_value(record, rule, rule.constant))
            continue
        if rule.key not in take:
            continue
        value = take[rule.key]
        path = ctx.erp.path(rule.erp_field)
        if not path.writable:
            continue
        if rule.is_reference:
            if value is None:
                if rule.not_null:
                    continue
                written.append(ctx.erp.set_reference(record, rule, None))
                continue
            fk = references.get(rule.key, {}).get(value)
            if fk is EMPTY:
                written.append(ctx.erp.set_reference(record, rule, None))
                continue
            if fk is None:
                if rule.clear_on_failed:
                    written.append(ctx.erp.set_reference(record, rule, None))
                    continue
                return reference_failure(ctx, rule, value)
            written.append(ctx.erp.set_reference(record, rule, fk))
            continue
        written.append(ctx.erp.set_value(record, rule, rule.from_crm_value(value)))
    return list(dict.fromkeys(written))


def _next_number(ctx: Context, taken: set[str]) -> str:
    prefix = NUMBER_PREFIX.get(ctx.erp.label, DEFAULT_PREFIX)
    field = "code" if _has_field(ctx, "code") else "no"
    width = 0 if prefix.endswith(" ") else 6
    existing = ctx.erp.model._default_manager.filter(
        **{f"{field}__startswith": prefix}
    ).values_list(field, flat=True)
    numbers = [
        int(m.group(1))
        for value in [*existing, *taken]
        if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", value))
    ]
    number = f"{prefix}{(max(numbers) if numbers else 0) + 1:0{width}d}"
    taken.add(number)
    return number


def _has_field(ctx: Context, name: str) -> bool:
    return any(f.name == name for f in ctx.erp.model._meta.get_fields())


def _prepare_new(ctx: Context, record: Any, taken: set[str]) -> None:
    for name in ("code", "no"):
        if _has_field(ctx, name) and not getattr(record, name):
            setattr(record, name, _next_number(ctx, taken))
    if ctx.erp.label == "erp.contact" and getattr(record, "type", "") == "person":
        parts = (record.first_name, record.middle_name, record.last_name)
        record.name = " ".join(p for p in parts if p)


def _validate(ctx: Context, record: Any, fields: list[str], *, new: bool) -> str:
    try:
        if new:
            record.full_clean(validate_unique=False, validate_constraints=False)
        else:
            exclude = [f.name for f in ctx.erp.model._meta.concrete_fields if f.name not in fields]
            record.clean_fields(exclude=exclude)
            record.clean()
    except ValidationError as exc:
        parts = []
        for name, messages in exc.message_dict.items():
            parts.append(f"{name}: {' '.join(str(m) for m in messages)}")
        return "The CRM data is not valid for the ERP: " + "; ".join(parts)
    return ""


def _fail(
    ctx: Context,
    coupling: CrmCoupling,
    row: CrmRow,
    message: str,
    waiting_for: str,
    touched: list[CrmCoupling],
) -> None:
    ctx.fail(
        coupling,
        direction=Direction.FROM_CRM,
        message=message,
        waiting_for=waiting_for,
        source=_crm_label(ctx, row.id),
        crm_attempted_on=row.modified_on,
    )
    touched.append(coupling)


def _pending_erp(ctx: Context, row: CrmRow, record: Any) -> CrmCoupling:
    coupling = CrmCoupling(
        erp_table=ctx.erp.label,
        erp_uuid=record.uuid,
        crm_entity=ctx.table.entity,
        crm_id=row.id,
        state=CrmCoupling.State.PENDING_ERP,
    )
    if ctx.dry_run:
        return coupling
    try:
        with transaction.atomic():
            coupling.save()
    except IntegrityError:
        coupling = CrmCoupling.objects.get(crm_entity=ctx.table.entity, crm_id=row.id)
    return coupling


def _insert(
    ctx: Context,
    inserts: list[tuple[CrmRow, CrmCoupling | None, Any, list[dict[str, Any]], dict[str, Any]]],
    touched: list[CrmCoupling],
) -> None:
    if not inserts:
        return
    taken: set[str] = set()
    ready = []
    for row, coupling, record, entries, send in inserts:
        _prepare_new(ctx, record, taken)
        problem = _validate(ctx, record, [], new=True)
        if problem:
            coupling = coupling or _pending_erp(ctx, row, record)
            _fail(ctx, coupling, row, problem, "", touched)
            continue
        ready.append((row, coupling, record, entries, send))
    if ctx.dry_run:
        for row, _coupling, record, entries, _send in ready:
            ctx.job.inserted += 1
            ctx.change(
                RecordChange.Action.INSERT,
                erp_uuid=None,
                crm_id=row.id,
                record=ctx.erp.label_of(record),
                fields=entries,
            )
        return
    try:
        with transaction.atomic():
            created = _insert_all(ctx, ready)
    except (IntegrityError, DatabaseError):
        # One record breaks a constraint (a duplicate number, say): find it, keep the rest.
        for item in ready:
            try:
                with transaction.atomic():
                    one = _insert_all(ctx, [item])
            except (IntegrityError, DatabaseError) as exc:
                row, coupling, record, _entries, _send = item
                coupling = coupling or _pending_erp(ctx, row, record)
                _fail(ctx, coupling, row, f"The ERP refused the new record: {exc}", "", touched)
                continue
            _inserted(ctx, item, one, touched)
        return
    for item in ready:
        _inserted(ctx, item, created, touched)


def _insert_all(
    ctx: Context,
    items: list[tuple[CrmRow, CrmCoupling | None, Any, list[dict[str, Any]], dict[str, Any]]],
) -> dict[uuid.UUID, CrmCoupling]:
    """Insert the records and couple them; the new couplings by CRM row id."""
    ctx.erp.model._default_manager.bulk_create([record for _, _, record, _, _ in items])
    fresh = []
    for row, coupling, record, _entries, _send in items:
        if coupling is None:
            fresh.append(
                CrmCoupling(
                    erp_table=ctx.erp.label,
                    erp_uuid=record.uuid,
                    crm_entity=ctx.table.entity,
                    crm_id=row.id,
                    state=CrmCoupling.State.COUPLED,
                )
            )
    return {c.crm_id: c for c in CrmCoupling.objects.bulk_create(fresh)}


def _inserted(
    ctx: Context,
    item: tuple[CrmRow, CrmCoupling | None, Any, list[dict[str, Any]], dict[str, Any]],
    created: dict[uuid.UUID, CrmCoupling],
    touched: list[CrmCoupling],
) -> None:
    row, coupling, record, entries, send = item
    coupling = coupling or created[row.id]
    ctx.job.inserted += 1
    ctx.succeed(
        coupling,
        direction=Direction.FROM_CRM,
        snapshot={k: v for k, v in send.items()},
        erp_modified_at=record.modified_at,
        crm_modified_on=row.modified_on,
        crm_version=row.version,
    )
    ctx.change(
        RecordChange.Action.INSERT,
        erp_uuid=record.uuid,
        crm_id=row.id,
        record=ctx.erp.label_of(record),
        fields=entries,
    )
    touched.append(coupling)


def _update(
    ctx: Context,
    updates: list[tuple[CrmRow, CrmCoupling, Any, list[str], list[dict[str, Any]], dict[str, Any]]],
    touched: list[CrmCoupling],
) -> None:
    ok = []
    for row, coupling, record, fields, entries, take in updates:
        problem = _validate(ctx, record, fields, new=False)
        if problem:
            _fail(ctx, coupling, row, problem, "", touched)
            continue
        ok.append((row, coupling, record, fields, entries, take))
    if ctx.dry_run:
        for row, _coupling, record, _fields, entries, _take in ok:
            ctx.job.modified += 1
            ctx.change(
                RecordChange.Action.MODIFY,
                erp_uuid=record.uuid,
                crm_id=row.id,
                record=ctx.erp.label_of(record),
                fields=entries,
            )
        return
    if not ok:
        return
    all_fields = sorted({f for _, _, _, fields, _, _ in ok for f in fields})
    try:
        with transaction.atomic():
            ctx.erp.model._default_manager.bulk_update([r for _, _, r, _, _, _ in ok], all_fields)
    except (IntegrityError, DatabaseError):
        survivors = []
        for item in ok:
            row, coupling, record, fields, _entries, _take = item
            try:
                with transaction.atomic():
                    ctx.erp.model._default_manager.bulk_update([record], fields)
            except (IntegrityError, DatabaseError) as exc:
                _fail(ctx, coupling, row, f"The ERP refused the change: {exc}", "", touched)
                continue
            survivors.append(item)
        ok = survivors
    for row, coupling, record, _fields, entries, take in ok:
        ctx.job.modified += 1
        ctx.succeed(
            coupling,
            direction=Direction.FROM_CRM,
            snapshot={**coupling.snapshot, **take},
            erp_modified_at=record.modified_at,
            crm_modified_on=row.modified_on,
            crm_version=row.version,
        )
        ctx.change(
            RecordChange.Action.MODIFY,
            erp_uuid=record.uuid,
            crm_id=row.id,
            record=ctx.erp.label_of(record),
            fields=entries,
        )
        touched.append(coupling)


def _erp_deleted(
    ctx: Context, row: CrmRow, coupling: CrmCoupling, touched: list[CrmCoupling]
) -> None:
    """The coupled ERP record is gone (seen from a CRM change)."""
    rule = ctx.mapping.deletion_conflict_resolution
    if rule == DeletionConflictResolution.REMOVE_COUPLING:
        ctx.job.uncoupled += 1
        ctx.change(
            RecordChange.Action.UNCOUPLE,
            erp_uuid=coupling.erp_uuid,
            crm_id=row.id,
            record=_crm_label(ctx, row.id),
            fields=[{"message": "the coupled ERP record was deleted"}],
        )
        if not ctx.dry_run:
            coupling.delete()
        return
    if rule == DeletionConflictResolution.RESTORE:
        if not ctx.dry_run:
            coupling.state = CrmCoupling.State.PENDING_ERP
            coupling.snapshot = {}
            coupling.save(update_fields=["state", "snapshot"])
        # Created again, with the same uuid, right away.
        _work(ctx, [row], {row.id: coupling}, ctx.rules.from_crm, True)
        return
    _fail(
        ctx,
        coupling,
        row,
        "The ERP record this CRM row is coupled to was deleted. Restore it, remove the "
        "coupling, or set the mapping's deletion-conflict rule.",
        "",
        touched,
    )


def _deleted(ctx: Context, deleted: list[uuid.UUID]) -> None:
    """CRM rows deleted since the last pass: the deletion-conflict rule decides."""
    couplings = list(
        CrmCoupling.objects.filter(
            erp_table=ctx.erp.label, crm_entity=ctx.table.entity, crm_id__in=deleted
        )
    )
    rule = ctx.mapping.deletion_conflict_resolution
    touched: list[CrmCoupling] = []
    restore: list[CrmCoupling] = []
    for coupling in couplings:
        label = f"CRM {ctx.table.entity} {coupling.crm_id}"
        if rule == DeletionConflictResolution.REMOVE_COUPLING:
            coupling_remove(ctx, coupling, label)
        elif rule == DeletionConflictResolution.RESTORE and ctx.rules.to_crm:
            restore.append(coupling)
        else:
            ctx.fail(
                coupling,
                direction=Direction.FROM_CRM,
                message=(
                    f"The CRM {ctx.table.entity} this record is coupled to was deleted. Restore "
                    "it, remove the coupling, or set the mapping's deletion-conflict rule."
                ),
                source=label,
            )
            touched.append(coupling)
    if restore:
        _restore_crm(ctx, restore, touched)
    if not ctx.dry_run:
        couplings_save(touched)


def _restore_crm(ctx: Context, couplings: list[CrmCoupling], touched: list[CrmCoupling]) -> None:
    """Create the deleted CRM rows again from their ERP records, with the same ids."""
    records = ctx.erp.by_uuids([c.erp_uuid for c in couplings])
    values = erp_in_crm_space(ctx, list(records.values()), ctx.rules.to_crm)
    items = [
        (c, records[c.erp_uuid], values[c.erp_uuid]) for c in couplings if c.erp_uuid in records
    ]
    crm_rows_restore(ctx, items, touched)


__all__ = ["canonical", "run"]
