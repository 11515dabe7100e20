"""Both sides' values of a chunk in one space, the CRM's canonical form (see fields.py):
references are translated through couplings, a reference that cannot be translated is a
`LookupFailure` (or empty, where the field mapping says to clear it)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from .context import Context, LookupFailure
from .crm import CrmRow
from .erp import crm_ids_of, erp_uuids_of, option_owners, options_of
from .fields import Rule, canonical


def _target_label(ctx: Context, rule: Rule) -> str:
    target = ctx.erp.path(rule.erp_field).target
    assert target is not None
    return target._meta.label_lower


def erp_in_crm_space(
    ctx: Context, records: Sequence[Any], rules: Sequence[Rule]
) -> dict[uuid.UUID, dict[str, Any]]:
    """ERP values as the CRM would hold them; a LookupFailure where a reference is not
    coupled (or None when the field mapping clears on a failed lookup)."""
    raw = ctx.erp.read(records, [r for r in rules if r.erp_field])
    for rule in rules:
        if not rule.erp_field:
            constant = rule.constant_for_crm()
            for values in raw.values():
                values[rule.key] = constant
            continue
        if not rule.is_reference:
            for values in raw.values():
                values[rule.key] = rule.to_crm_value(values[rule.key])
            continue
        label = _target_label(ctx, rule)
        wanted = {v[rule.key] for v in raw.values() if v.get(rule.key) is not None}
        translated: dict[uuid.UUID, Any]
        if rule.option:
            translated = dict(options_of(label, rule.crm_field, wanted))
            dependency = rule.option
        else:
            translated = {k: str(v) for k, v in crm_ids_of(label, wanted).items()}
            dependency = ctx.dependency_of(label, rule.lookup)
        default = ctx.crm.default_reference(rule.lookup) if rule.lookup else None
        for values in raw.values():
            source = values.get(rule.key)
            if source is None:
                # An empty ERP reference may stand for a CRM row (the local currency).
                values[rule.key] = str(default) if default is not None else None
                continue
            found = translated.get(source)
            if found is not None:
                values[rule.key] = found
            elif rule.clear_on_failed:
                values[rule.key] = None
            else:
                where = f"the {dependency} mapping" if dependency else "a coupling"
                values[rule.key] = LookupFailure(
                    f"{rule.erp_field} refers to a record that is not coupled to the CRM yet "
                    f"({label}); it is synchronized once {where} has coupled it.",
                    waiting_for=dependency,
                )
    return raw


def crm_values(rows: Sequence[CrmRow], rules: Sequence[Rule]) -> dict[uuid.UUID, dict[str, Any]]:
    out: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        values: dict[str, Any] = {}
        for rule in rules:
            if rule.crm_field:
                values[rule.key] = canonical(row.values.get(rule.crm_field))
        out[row.id] = values
    return out


def crm_to_erp_references(ctx: Context, rule: Rule, values: Sequence[Any]) -> dict[Any, Any]:
    """CRM canonical reference values -> the value for the ERP foreign key column."""
    label = _target_label(ctx, rule)
    present = [v for v in values if v is not None]
    if rule.option:
        owners = option_owners(label, rule.crm_field, [int(v) for v in present])
        by_value: dict[Any, uuid.UUID] = {v: owners[int(v)] for v in present if int(v) in owners}
    else:
        ids = {uuid.UUID(str(v)) for v in present}
        owners_ = erp_uuids_of(label, rule.lookup, ids)
        by_value = {v: owners_[uuid.UUID(str(v))] for v in present if uuid.UUID(str(v)) in owners_}
    pks = ctx.erp.reference_pks(rule, by_value.values())
    resolved: dict[Any, Any] = {v: pks[u] for v, u in by_value.items() if u in pks}
    default = ctx.crm.default_reference(rule.lookup) if rule.lookup else None
    if default is not None and str(default) not in resolved:
        # The CRM's default row that no ERP record is coupled to is the ERP's empty reference.
        resolved[str(default)] = EMPTY
    return resolved


# An ERP reference that is deliberately empty (not a failed lookup).
EMPTY = object()


def reference_failure(ctx: Context, rule: Rule, value: Any) -> LookupFailure:
    label = _target_label(ctx, rule)
    if rule.option:
        return LookupFailure(
            f"The CRM option {value} of {rule.crm_field} is not coupled to a record of {label}; "
            f"run the {rule.option} mapping or couple it.",
            waiting_for=rule.option,
        )
    dependency = ctx.dependency_of(label, rule.lookup)
    return LookupFailure(
        f"{rule.crm_field} refers to the CRM {rule.lookup} {value}, which is not coupled to a "
        f"record of {label} yet" + (f"; it is retried after {dependency}." if dependency else "."),
        waiting_for=dependency,
    )
