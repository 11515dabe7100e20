"""Option mappings (PAYMENT TERMS, SHIPMENT METHOD, SHIPPING AGENT): ERP code records coupled
to the values of a CRM option set (docs/reference/business-central.md §2.3).

To the CRM: each ERP code is coupled to the option whose label matches it (case-insensitive),
or, where none does and the mapping says so, a new option is added. From the CRM: each option
is coupled to the ERP record whose code matches its label, or a new code record is created.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from syncjobs.models import CrmOptionCoupling, Direction, RecordChange

from .context import Context
from .fields import canonical


def _couplings(ctx: Context, attribute: str) -> list[CrmOptionCoupling]:
    return list(CrmOptionCoupling.objects.filter(erp_table=ctx.erp.label, crm_attribute=attribute))


def _change(ctx: Context, action: str, record: Any, value: int | None, label: str) -> None:
    ctx.change(
        action,
        erp_uuid=getattr(record, "uuid", None),
        crm_id=None,
        record=ctx.erp.label_of(record) if record is not None else label,
        fields=[{"erp_field": "code", "crm_field": ctx.table.key, "old": None, "new": value}],
    )


def run(ctx: Context, direction: str) -> None:
    attribute = ctx.table.key
    options = ctx.crm.options(ctx.table.entity, attribute)
    couplings = _couplings(ctx, attribute)
    by_erp = {c.erp_uuid: c for c in couplings}
    by_value = {c.option_value: c for c in couplings}
    rule = next((r for r in ctx.rules.rules if r.erp_field and r.crm_field), None)
    field = rule.erp_field if rule else "code"
    if direction == Direction.TO_CRM:
        _to_crm(ctx, options, by_erp, by_value, field)
    else:
        _from_crm(ctx, options, by_erp, by_value, field)
    ctx.log.flush()


def _label_of(ctx: Context, record: Any, field: str) -> str:
    value = canonical(getattr(record, field, ""))
    rule = next((r for r in ctx.rules.to_crm if r.erp_field == field), None)
    if rule is not None:
        value = rule.to_crm_value(value)
    return str(value or "")


def _couple(ctx: Context, record: Any, value: int, label: str) -> None:
    if ctx.dry_run:
        return
    try:
        with transaction.atomic():
            CrmOptionCoupling.objects.create(
                erp_table=ctx.erp.label,
                erp_uuid=record.uuid,
                crm_entity=ctx.table.entity,
                crm_attribute=ctx.table.key,
                option_value=value,
                label=label,
            )
    except IntegrityError:
        ctx.job.failed += 1
        ctx.log.error(
            message=f"The option {value} ({label}) is already coupled to another record.",
            erp_table=ctx.erp.label,
            crm_entity=ctx.table.entity,
            erp_uuid=record.uuid,
            source=ctx.erp.label_of(record),
        )


def _to_crm(
    ctx: Context,
    options: dict[int, str],
    by_erp: dict[Any, CrmOptionCoupling],
    by_value: dict[int, CrmOptionCoupling],
    field: str,
) -> None:
    free = {label.casefold(): value for value, label in options.items() if value not in by_value}
    for record in ctx.erp.scope().order_by("pk"):
        label = _label_of(ctx, record, field)
        coupling = by_erp.get(record.uuid)
        if coupling is not None and coupling.option_value in options:
            ctx.job.unchanged += 1
            continue
        if coupling is not None and not ctx.dry_run:
            coupling.delete()  # its option was removed in the CRM
        match = free.pop(label.casefold(), None)
        if match is not None:
            _couple(ctx, record, match, label)
            ctx.job.coupled += 1
            _change(ctx, RecordChange.Action.COUPLE, record, match, label)
            continue
        if not (ctx.mapping.create_new_if_no_match or ctx.options.full):
            ctx.job.skipped += 1
            continue
        if ctx.dry_run:
            ctx.job.inserted += 1
            _change(ctx, RecordChange.Action.INSERT, record, None, label)
            continue
        try:
            value = ctx.crm.add_option(ctx.table.entity, ctx.table.key, label)
        except Exception as exc:  # noqa: BLE001 - any refusal is this record's error
            ctx.job.failed += 1
            ctx.log.error(
                message=f"Adding the option {label!r} to {ctx.table.key} failed: {exc}",
                erp_table=ctx.erp.label,
                crm_entity=ctx.table.entity,
                erp_uuid=record.uuid,
                source=ctx.erp.label_of(record),
            )
            continue
        _couple(ctx, record, value, label)
        ctx.job.inserted += 1
        _change(ctx, RecordChange.Action.INSERT, record, value, label)


def _from_crm(
    ctx: Context,
    options: dict[int, str],
    by_erp: dict[Any, CrmOptionCoupling],
    by_value: dict[int, CrmOptionCoupling],
    field: str,
) -> None:
    records = {
        str(getattr(r, field)).casefold(): r for r in ctx.erp.scope() if r.uuid not in by_erp
    }
    for value, label in options.items():
        if value in by_value:
            ctx.job.unchanged += 1
            continue
        code = label.upper()[:10].strip()
        record = records.pop(code.casefold(), None)
        if record is None:
            if ctx.dry_run:
                ctx.job.inserted += 1
                _change(ctx, RecordChange.Action.INSERT, None, value, label)
                continue
            record = ctx.erp.new()
            setattr(record, field, code)
            if hasattr(record, "description"):
                record.description = label[:100]
            try:
                record.full_clean(validate_unique=False)
                record.save()
            except Exception as exc:  # noqa: BLE001 - any refusal is this option's error
                ctx.job.failed += 1
                ctx.log.error(
                    message=f"Creating an ERP record for the option {label!r} failed: {exc}",
                    erp_table=ctx.erp.label,
                    crm_entity=ctx.table.entity,
                    source=f"{ctx.table.key}={value}",
                )
                continue
            ctx.job.inserted += 1
        else:
            ctx.job.coupled += 1
        _couple(ctx, record, value, label)
        _change(ctx, RecordChange.Action.COUPLE, record, value, label)
