"""ERP -> CRM pass of one mapping.

Changed ERP records are read a chunk at a time in (modified_at, pk) order from the watermark
(minus an overlap), plus the records whose last attempt failed or whose CRM row is still being
created. New CRM rows get their id here and a PENDING coupling is committed *before* the CRM
is called: a crash, a timeout or an answer lost after the CRM committed is redone on the next
run as an upsert of that same id, never as a second row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from syncjobs.models import (
    CrmCoupling,
    DeletionConflictResolution,
    Direction,
    RecordChange,
    SyncResult,
    UpdateConflictResolution,
)

from .context import MISSING, Context, LookupFailure, couplings_insert, couplings_save
from .crm import CrmRow, CrmWrite, CrmWriteOutcome
from .deleted_rows import coupling_remove, crm_rows_restore
from .fields import Rule, canonical, conflict_entry, field_entry, rule_of
from .values import erp_in_crm_space

# Records the outcomes of CRM writes sent earlier (see `_insert`).
Finish = Callable[[], None]


def _candidates(ctx: Context) -> Iterator[list[Any]]:
    """Records to look at: retries first, then everything changed since the watermark."""
    if ctx.options.erp_uuids is not None:
        found = ctx.erp.by_uuids(ctx.options.erp_uuids, in_scope=True)
        records = list(found.values())
        for start in range(0, len(records), ctx.chunk_size):
            yield records[start : start + ctx.chunk_size]
        return
    retry = list(
        CrmCoupling.objects.filter(erp_table=ctx.erp.label, crm_entity=ctx.table.entity)
        .filter(skipped=False)
        .exclude(state=CrmCoupling.State.PENDING_ERP)
        .filter(Q(last_result_to_crm=SyncResult.FAILURE) | Q(state=CrmCoupling.State.PENDING))
        .values_list("erp_uuid", flat=True)
    )
    retried: set[uuid.UUID] = set()
    for start in range(0, len(retry), ctx.chunk_size):
        found = ctx.erp.by_uuids(retry[start : start + ctx.chunk_size], in_scope=True)
        retried.update(found)
        if found:
            yield list(found.values())
    since = None
    if not ctx.options.full and ctx.mapping.erp_watermark_at is not None:
        since = ctx.mapping.erp_watermark_at - timedelta(
            seconds=settings.SYNC_WATERMARK_OVERLAP_SECONDS
        )
    for chunk in ctx.erp.iter_changed(since, ctx.chunk_size):
        rest = [r for r in chunk if r.uuid not in retried] if retried else chunk
        if rest:
            yield rest


def _label(ctx: Context, record: Any) -> str:
    return ctx.erp.label_of(record)


def run(ctx: Context) -> None:
    rules = ctx.rules.to_crm
    if not rules:
        return
    # The CRM creates of one chunk travel while the next chunk is read and prepared (one
    # chunk in flight): the ERP side and the CRM work at the same time instead of in turns.
    # The pending couplings of a chunk are committed before its creates are sent, as always.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-crm") as pool:
        in_flight: Finish | None = None
        for chunk in _candidates(ctx):
            finish = _chunk(ctx, chunk, rules, pool)
            if in_flight is not None:
                in_flight()
            ctx.log.flush()
            in_flight = finish
        if in_flight is not None:
            in_flight()
    _erp_deletions(ctx)
    ctx.log.flush()


def _triage(
    ctx: Context, records: Sequence[Any], couplings: dict[uuid.UUID, CrmCoupling], force: bool
) -> list[Any]:
    """The records that need work; the others are counted (unchanged, skipped, conflict)."""
    work: list[Any] = []
    for record in records:
        coupling = couplings.get(record.uuid)
        if coupling is None:
            if ctx.mapping.sync_only_coupled and not ctx.options.full and not ctx.options.erp_uuids:
                continue
            work.append(record)
            continue
        if (
            coupling.crm_entity != ctx.table.entity
            or coupling.state == CrmCoupling.State.PENDING_ERP
        ):
            continue
        changed_since_attempt = coupling.erp_attempted_at is None or (
            record.modified_at > coupling.erp_attempted_at
        )
        if coupling.skipped and not (changed_since_attempt or ctx.options.erp_uuids):
            ctx.job.skipped += 1
            continue
        if coupling.conflict and not ctx.options.erp_uuids:
            ctx.job.conflicts += 1
            continue
        unchanged = (
            coupling.state == CrmCoupling.State.COUPLED
            and coupling.last_result_to_crm != SyncResult.FAILURE
            and coupling.erp_modified_at is not None
            and record.modified_at <= coupling.erp_modified_at
        )
        if unchanged and not force:
            ctx.job.unchanged += 1
            continue
        work.append(record)
    return work


def _chunk(
    ctx: Context, records: Sequence[Any], rules: list[Rule], pool: Executor
) -> Finish | None:
    """Work on one chunk; the creates are sent on `pool`, and what is returned records their
    outcomes once called (None: nothing in flight)."""
    couplings = {
        c.erp_uuid: c
        for c in CrmCoupling.objects.filter(
            erp_table=ctx.erp.label, erp_uuid__in=[r.uuid for r in records]
        )
    }
    force = ctx.options.force or ctx.options.full
    work = _triage(ctx, records, couplings, force)
    if not work:
        return None
    values = erp_in_crm_space(ctx, work, rules)
    bidirectional = ctx.mapping.direction == Direction.BIDIRECTIONAL
    coupled = [
        couplings[r.uuid]
        for r in work
        if r.uuid in couplings and couplings[r.uuid].state == CrmCoupling.State.COUPLED
    ]
    crm_rows: dict[uuid.UUID, CrmRow] = {}
    if coupled and (bidirectional or force):
        crm_rows = ctx.crm.read(ctx.table, [c.crm_id for c in coupled])

    inserts: list[tuple[Any, CrmCoupling | None, dict[str, Any]]] = []
    updates: list[tuple[Any, CrmCoupling, dict[str, Any], dict[str, Any], CrmRow | None]] = []
    touched: list[CrmCoupling] = []
    for record in work:
        coupling = couplings.get(record.uuid)
        record_values = values[record.uuid]
        failure = next((v for v in record_values.values() if isinstance(v, LookupFailure)), None)
        if failure is not None:
            coupling = coupling or _pending(ctx, record)
            ctx.fail(
                coupling,
                direction=Direction.TO_CRM,
                message=failure.message,
                waiting_for=failure.waiting_for,
                source=_label(ctx, record),
                erp_attempted_at=record.modified_at,
            )
            touched.append(coupling)
            continue
        if coupling is None or coupling.state == CrmCoupling.State.PENDING:
            inserts.append((record, coupling, record_values))
            continue
        crm_row = crm_rows.get(coupling.crm_id)
        if (bidirectional or force) and crm_row is None:
            _crm_deleted(ctx, record, coupling, record_values, touched)
            continue
        decided = _decide(ctx, rules, record, coupling, record_values, crm_row, force)
        if decided is None:
            touched.append(coupling)
            continue
        if not decided:
            ctx.job.unchanged += 1
            if not ctx.dry_run:
                snapshot = {**coupling.snapshot, **_agreed(rules, record_values, crm_row)}
                ctx.succeed(
                    coupling,
                    direction=Direction.TO_CRM,
                    snapshot=snapshot,
                    erp_modified_at=record.modified_at,
                )
                touched.append(coupling)
            continue
        updates.append((record, coupling, record_values, decided, crm_row))
    finish = _insert(ctx, rules, inserts, pool)
    _update(ctx, rules, updates, touched)
    if not ctx.dry_run:
        couplings_save([c for c in touched if c.pk])
    return finish


def _agreed(
    rules: list[Rule], record_values: dict[str, Any], crm_row: CrmRow | None
) -> dict[str, Any]:
    """Fields both sides hold the same value in: the new common ancestor."""
    if crm_row is None:
        return {}
    agreed = {}
    for rule in rules:
        crm_value = _crm_canonical(crm_row, rule)
        if crm_value == record_values.get(rule.key):
            agreed[rule.key] = crm_value
    return agreed


def _crm_canonical(row: CrmRow, rule: Rule) -> Any:
    return canonical(row.values.get(rule.crm_field))


def _decide(
    ctx: Context,
    rules: list[Rule],
    record: Any,
    coupling: CrmCoupling,
    record_values: dict[str, Any],
    crm_row: CrmRow | None,
    force: bool,
) -> dict[str, Any] | None:
    """The CRM columns to write ({key: new value}), {} when nothing changes, None on a
    conflict kept for a person."""
    base = coupling.snapshot
    send: dict[str, Any] = {}
    conflicts: list[dict[str, Any]] = []
    for rule in rules:
        erp_value = record_values.get(rule.key)
        if erp_value is None and rule.not_null:
            continue
        old = base.get(rule.key, MISSING)
        erp_changed = old is MISSING or erp_value != old
        if not erp_changed and not force:
            continue
        if crm_row is not None:
            crm_value = _crm_canonical(crm_row, rule)
            if crm_value == erp_value:
                continue
            crm_changed = rule.bidirectional and old is not MISSING and crm_value != old
            if crm_changed and erp_changed:
                conflicts.append(
                    conflict_entry(
                        rule, base=None if old is MISSING else old, erp=erp_value, crm=crm_value
                    )
                )
                continue
        send[rule.key] = erp_value
    settled = ctx.settle(
        coupling,
        conflicts,
        wins=UpdateConflictResolution.SEND_TO_CRM,
        side="erp",
        write=send,
        source=_label(ctx, record),
    )
    return send if settled else None


def _pending(ctx: Context, record: Any) -> CrmCoupling:
    """A coupling for a record whose CRM row does not exist yet, with its id chosen now."""
    coupling = CrmCoupling(
        erp_table=ctx.erp.label,
        erp_uuid=record.uuid,
        crm_entity=ctx.table.entity,
        crm_id=uuid.uuid4(),
        state=CrmCoupling.State.PENDING,
    )
    if ctx.dry_run:
        return coupling
    try:
        with transaction.atomic():
            coupling.save()
    except IntegrityError:
        # Another run coupled it meanwhile: use that coupling.
        coupling = CrmCoupling.objects.get(erp_table=ctx.erp.label, erp_uuid=record.uuid)
    return coupling


def _crm_body(
    rules: list[Rule], keys: dict[str, Any], by_key: dict[str, Rule] | None = None
) -> dict[str, Any]:
    by_key = by_key or {r.key: r for r in rules}
    return {by_key[k].crm_field: by_key[k].crm_value(v) for k, v in keys.items()}


def _insert(
    ctx: Context,
    rules: list[Rule],
    inserts: list[tuple[Any, CrmCoupling | None, dict[str, Any]]],
    pool: Executor,
) -> Finish | None:
    """Create the CRM rows of these records: their pending couplings are committed here, the
    creates sent on `pool`; the returned callable waits for them and records the outcomes."""
    if not inserts:
        return None
    by_key = {r.key: r for r in rules}
    fresh: list[CrmCoupling] = []
    plan: list[tuple[Any, CrmCoupling, dict[str, Any], bool]] = []
    for record, coupling, record_values in inserts:
        is_retry = coupling is not None
        # A new row gets the values that are set; empty columns are the CRM's defaults.
        send = {k: v for k, v in record_values.items() if v is not None}
        if coupling is None:
            # Stored with what a success will make true (the values sent, the ERP stamp): a
            # success then only flips the state, one UPDATE for the whole chunk. While PENDING
            # the snapshot is not read: a retry sends every value again.
            coupling = CrmCoupling(
                erp_table=ctx.erp.label,
                erp_uuid=record.uuid,
                crm_entity=ctx.table.entity,
                crm_id=uuid.uuid4(),
                state=CrmCoupling.State.PENDING,
                snapshot=send,
                erp_modified_at=record.modified_at,
            )
            fresh.append(coupling)
        plan.append((record, coupling, send, is_retry))
    matched = _match_existing(ctx, rules, plan)
    if matched:
        plan = [p for p in plan if p[0].uuid not in matched]
        fresh = [c for c in fresh if c.erp_uuid not in matched]
        touched: list[CrmCoupling] = []
        _update(ctx, rules, list(matched.values()), touched)
        if not ctx.dry_run:
            couplings_save([c for c in touched if c.pk])
        if not plan:
            return None
    if ctx.dry_run:
        for record, _coupling, send, _ in plan:
            ctx.job.inserted += 1
            ctx.change(
                RecordChange.Action.INSERT,
                erp_uuid=record.uuid,
                crm_id=None,
                record=_label(ctx, record),
                fields=[field_entry(by_key[k], None, v) for k, v in send.items()],
            )
        return None
    if fresh:
        # Committed before the CRM is called: the id is known whatever happens next.
        couplings_insert(fresh)
    by_id = {c.crm_id: (record, c, send, retry) for record, c, send, retry in plan}
    creates = [
        CrmWrite(c.crm_id, _crm_body(rules, send, by_key))
        for _, c, send, retry in plan
        if not retry
    ]
    upserts = [
        CrmWrite(c.crm_id, _crm_body(rules, send, by_key)) for _, c, send, retry in plan if retry
    ]
    table, crm = ctx.table, ctx.crm
    # Only the CRM calls run on the pool; the database is written here, in this thread.
    sent = pool.submit(lambda: crm.create(table, creates) + crm.upsert(table, upserts))
    return partial(_inserted, ctx, by_key, by_id, sent)


def _inserted(
    ctx: Context,
    by_key: dict[str, Rule],
    by_id: dict[uuid.UUID, tuple[Any, CrmCoupling, dict[str, Any], bool]],
    sent: Future[list[CrmWriteOutcome]],
) -> None:
    """Record the outcomes of a chunk's creates (raises what the CRM calls raised)."""
    touched: list[CrmCoupling] = []
    created: list[uuid.UUID] = []
    for outcome in sent.result():
        record, coupling, send, retry = by_id[outcome.id]
        if outcome.error:
            ctx.fail(
                coupling,
                direction=Direction.TO_CRM,
                message=f"Creating the CRM {ctx.table.entity} failed: {outcome.error}",
                source=_label(ctx, record),
                detail=outcome.detail,
                erp_attempted_at=record.modified_at,
            )
            touched.append(coupling)
            continue
        ctx.job.inserted += 1
        ctx.change(
            RecordChange.Action.INSERT,
            erp_uuid=record.uuid,
            crm_id=coupling.crm_id,
            record=_label(ctx, record),
            fields=[field_entry(by_key[k], None, v) for k, v in send.items()],
        )
        if retry:
            ctx.succeed(
                coupling,
                direction=Direction.TO_CRM,
                snapshot=dict(send),
                erp_modified_at=record.modified_at,
            )
            touched.append(coupling)
        else:
            created.append(coupling.crm_id)
    couplings_save(touched)
    if created:
        CrmCoupling.objects.filter(crm_entity=ctx.table.entity, crm_id__in=created).update(
            state=CrmCoupling.State.COUPLED,
            last_synced_at=timezone.now(),
            last_result_to_crm=SyncResult.SUCCESS,
            last_job_to_crm=ctx.job.pk,
        )


def _match_existing(
    ctx: Context,
    rules: list[Rule],
    plan: list[tuple[Any, CrmCoupling, dict[str, Any], bool]],
) -> dict[uuid.UUID, tuple[Any, CrmCoupling, dict[str, Any], dict[str, Any], CrmRow | None]]:
    """Couple new records to the CRM rows that already hold them (same match-field values,
    §3.5) instead of creating a duplicate; they are then updated like any coupled pair."""
    match_rules = sorted(
        (r for r in rules if r.match and r.erp_field), key=lambda r: r.match_priority
    )
    candidates = [(record, send) for record, _c, send, retry in plan if not retry]
    if not match_rules or not candidates:
        return {}
    taken = set(
        CrmCoupling.objects.filter(crm_entity=ctx.table.entity).values_list("crm_id", flat=True)
    )
    out: dict[
        uuid.UUID, tuple[Any, CrmCoupling, dict[str, Any], dict[str, Any], CrmRow | None]
    ] = {}
    for rule in match_rules:
        wanted = [
            (r, s) for r, s in candidates if r.uuid not in out and s.get(rule.key) is not None
        ]
        if not wanted:
            continue
        rows = ctx.crm.find(ctx.table, rule.crm_field, [s[rule.key] for _, s in wanted])

        def norm(value: Any, rule: Rule = rule) -> Any:
            text = canonical(value)
            return text if rule.case_sensitive or not isinstance(text, str) else text.casefold()

        by_value: dict[Any, list[CrmRow]] = {}
        for row in rows:
            if row.id not in taken:
                by_value.setdefault(norm(row.values.get(rule.crm_field)), []).append(row)
        for record, send in wanted:
            found = by_value.get(norm(send[rule.key]), [])
            if len(found) != 1:
                continue  # none (create it) or several (a person chooses, see coupling pages)
            row = found[0]
            taken.add(row.id)
            coupling = CrmCoupling(
                erp_table=ctx.erp.label,
                erp_uuid=record.uuid,
                crm_entity=ctx.table.entity,
                crm_id=row.id,
                state=CrmCoupling.State.COUPLED,
            )
            ctx.job.coupled += 1
            ctx.change(
                RecordChange.Action.COUPLE,
                erp_uuid=record.uuid,
                crm_id=row.id,
                record=_label(ctx, record),
                fields=[field_entry(rule, None, send[rule.key])],
            )
            if not ctx.dry_run:
                coupling.save()
            change = {
                k: v
                for k, v in send.items()
                if canonical(row.values.get(rule_of(rules, k).crm_field)) != v
            }
            out[record.uuid] = (record, coupling, send, change, row)
    return out


def _update(
    ctx: Context,
    rules: list[Rule],
    updates: list[tuple[Any, CrmCoupling, dict[str, Any], dict[str, Any], CrmRow | None]],
    touched: list[CrmCoupling],
) -> None:
    for record, coupling, record_values, send, crm_row in updates:
        if not send:  # a matched row that already holds the ERP's values
            ctx.job.unchanged += 1
            if not ctx.dry_run:
                snapshot = {**coupling.snapshot, **_agreed(rules, record_values, crm_row)}
                ctx.succeed(
                    coupling,
                    direction=Direction.TO_CRM,
                    snapshot=snapshot,
                    erp_modified_at=record.modified_at,
                )
                touched.append(coupling)
    updates = [u for u in updates if u[3]]
    if not updates:
        return
    entries = {}
    for _record, coupling, _values, send, crm_row in updates:
        entries[coupling.crm_id] = [
            field_entry(
                rule_of(rules, k),
                _crm_canonical(crm_row, rule_of(rules, k))
                if crm_row is not None
                else coupling.snapshot.get(k),
                v,
            )
            for k, v in send.items()
        ]
    if ctx.dry_run:
        for record, coupling, _values, _send, _row in updates:
            ctx.job.modified += 1
            ctx.change(
                RecordChange.Action.MODIFY,
                erp_uuid=record.uuid,
                crm_id=coupling.crm_id,
                record=_label(ctx, record),
                fields=entries[coupling.crm_id],
            )
        return
    writes = [CrmWrite(c.crm_id, _crm_body(rules, send)) for _, c, _, send, _ in updates]
    outcomes = {o.id: o for o in ctx.crm.update(ctx.table, writes)}
    for record, coupling, record_values, send, crm_row in updates:
        outcome = outcomes[coupling.crm_id]
        if outcome.missing:
            _crm_deleted(ctx, record, coupling, record_values, touched)
            continue
        if outcome.error:
            ctx.fail(
                coupling,
                direction=Direction.TO_CRM,
                message=f"Updating the CRM {ctx.table.entity} failed: {outcome.error}",
                source=_label(ctx, record),
                detail=outcome.detail,
                erp_attempted_at=record.modified_at,
            )
            touched.append(coupling)
            continue
        ctx.job.modified += 1
        snapshot = {**coupling.snapshot, **_agreed(rules, record_values, crm_row), **send}
        ctx.succeed(
            coupling,
            direction=Direction.TO_CRM,
            snapshot=snapshot,
            erp_modified_at=record.modified_at,
        )
        ctx.change(
            RecordChange.Action.MODIFY,
            erp_uuid=record.uuid,
            crm_id=coupling.crm_id,
            record=_label(ctx, record),
            fields=entries[coupling.crm_id],
        )
        touched.append(coupling)


def _crm_deleted(
    ctx: Context,
    record: Any,
    coupling: CrmCoupling,
    record_values: dict[str, Any],
    touched: list[CrmCoupling],
) -> None:
    """The coupled CRM row is gone: the mapping's deletion-conflict rule decides."""
    rule = ctx.mapping.deletion_conflict_resolution
    label = _label(ctx, record)
    if rule == DeletionConflictResolution.REMOVE_COUPLING:
        coupling_remove(ctx, coupling, label)
        return
    if rule == DeletionConflictResolution.RESTORE:
        crm_rows_restore(ctx, [(coupling, record, record_values)], touched)
        return
    message = (
        f"The CRM {ctx.table.entity} this record is coupled to was deleted. Restore it, "
        "remove the coupling, or set the mapping's deletion-conflict rule."
    )
    ctx.fail(
        coupling,
        direction=Direction.TO_CRM,
        message=message,
        source=label,
        erp_attempted_at=record.modified_at,
    )
    touched.append(coupling)


def _erp_deletions(ctx: Context) -> None:
    """Couplings whose ERP record was deleted: the deletion-conflict rule decides (a pass over
    some records or one slice of the table cannot tell a deleted record from another's)."""
    if ctx.options.erp_uuids is not None or ctx.options.erp_range is not None:
        return
    existing = ctx.erp.model._default_manager.values("uuid")
    orphans = list(
        CrmCoupling.objects.filter(erp_table=ctx.erp.label, crm_entity=ctx.table.entity)
        .exclude(erp_uuid__in=existing)
        .exclude(skipped=True)[: ctx.chunk_size]
    )
    if not orphans:
        return
    rule = ctx.mapping.deletion_conflict_resolution
    touched = []
    for coupling in orphans:
        if rule == DeletionConflictResolution.REMOVE_COUPLING:
            ctx.job.uncoupled += 1
            ctx.change(
                RecordChange.Action.UNCOUPLE,
                erp_uuid=coupling.erp_uuid,
                crm_id=coupling.crm_id,
                record=str(coupling.erp_uuid),
                fields=[{"message": "the coupled ERP record was deleted"}],
            )
            if not ctx.dry_run:
                coupling.delete()
            continue
        if (
            coupling.state == CrmCoupling.State.PENDING
            and rule != DeletionConflictResolution.RESTORE
        ):
            # Never created in the CRM: nothing is coupled, nothing to restore.
            if not ctx.dry_run:
                coupling.delete()
            continue
        message = (
            f"The ERP record coupled to CRM {ctx.table.entity} {coupling.crm_id} was deleted. "
            + (
                "It is restored from the CRM by the CRM -> ERP pass."
                if rule == DeletionConflictResolution.RESTORE
                else "Remove the coupling, or restore the record from the CRM."
            )
        )
        if rule == DeletionConflictResolution.RESTORE and ctx.mapping.direction != Direction.TO_CRM:
            # Mark it for the CRM -> ERP pass: an ERP record is created with the same uuid.
            if not ctx.dry_run:
                coupling.state = CrmCoupling.State.PENDING_ERP
                coupling.last_result_from_crm = SyncResult.FAILURE
                coupling.snapshot = {}
                touched.append(coupling)
            continue
        ctx.fail(
            coupling, direction=Direction.TO_CRM, message=message, source=str(coupling.erp_uuid)
        )
        touched.append(coupling)
    if not ctx.dry_run:
        couplings_save(touched)
