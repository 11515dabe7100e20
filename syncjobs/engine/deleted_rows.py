"""CRM rows deleted while coupled, by the deletion-conflict rules "remove the coupling" and
"restore": both passes find such rows (to the CRM: a coupled row that is gone; from the CRM: a
deletion in the change feed) and both settle them here, the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from syncjobs.models import CrmCoupling, Direction, RecordChange

from .context import Context, LookupFailure
from .crm import CrmWrite
from .fields import field_entry, rule_of


def coupling_remove(ctx: Context, coupling: CrmCoupling, label: str) -> None:
    """The CRM row is gone and the rule says to forget the pair (nothing is deleted in the ERP)."""
    ctx.job.uncoupled += 1
    ctx.change(
        RecordChange.Action.UNCOUPLE,
        erp_uuid=coupling.erp_uuid,
        crm_id=coupling.crm_id,
        record=label,
        fields=[{"message": "the coupled CRM row was deleted"}],
    )
    if not ctx.dry_run:
        coupling.delete()


def crm_rows_restore(
    ctx: Context,
    items: Sequence[tuple[CrmCoupling, Any, dict[str, Any]]],
    touched: list[CrmCoupling],
) -> None:
    """Create the deleted CRM rows again, with their old ids, from their ERP records.

    `items`: (coupling, ERP record, the record's values in CRM space). A value that cannot be
    translated is left out (the CRM's default), an empty value of a not-null field too.
    """
    rules = ctx.rules.to_crm
    writes: list[tuple[CrmCoupling, Any, dict[str, Any]]] = []
    for coupling, record, record_values in items:
        send = {
            k: v
            for k, v in record_values.items()
            if not isinstance(v, LookupFailure) and not (v is None and rule_of(rules, k).not_null)
        }
        writes.append((coupling, record, send))
    if ctx.dry_run:
        ctx.job.inserted += len(writes)
        return
    bodies = [
        CrmWrite(
            coupling.crm_id,
            {rule_of(rules, k).crm_field: rule_of(rules, k).crm_value(v) for k, v in send.items()},
        )
        for coupling, _record, send in writes
    ]
    outcomes = ctx.crm.upsert(ctx.table, bodies)
    for (coupling, record, send), outcome in zip(writes, outcomes, strict=True):
        label = ctx.erp.label_of(record)
        if outcome.error:
            ctx.fail(
                coupling,
                direction=Direction.TO_CRM,
                message=f"Restoring the deleted CRM {ctx.table.entity} failed: {outcome.error}",
                source=label,
                erp_attempted_at=record.modified_at,
            )
        else:
            ctx.job.inserted += 1
            ctx.succeed(
                coupling,
                direction=Direction.TO_CRM,
                snapshot=send,
                erp_modified_at=record.modified_at,
            )
            ctx.change(
                RecordChange.Action.INSERT,
                erp_uuid=record.uuid,
                crm_id=coupling.crm_id,
                record=label,
                fields=[field_entry(rule_of(rules, k), None, v) for k, v in send.items()],
            )
        touched.append(coupling)
