"""What coupling a record to a CRM row would change: both sides' values of every mapped field,
compared in the CRM's canonical form, for a person to choose which side to keep."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from syncjobs.models import Direction, IntegrationTableMapping, JobRun

from .context import Context, LookupFailure, Options
from .crm import CrmAdapter, CrmRow
from .fields import canonical
from .run import crm_adapter
from .values import erp_in_crm_space


@dataclass(frozen=True)
class FieldComparison:
    key: str
    erp_field: str
    crm_field: str
    direction: str  # the field mapping's
    erp: Any  # canonical, in the CRM's terms (a lookup's CRM id); None when empty
    crm: Any
    erp_problem: str = ""  # a reference that cannot be translated yet

    @property
    def differs(self) -> bool:
        return self.erp_problem != "" or self.erp != self.crm

    @property
    def to_crm(self) -> bool:
        return self.direction in (Direction.TO_CRM, Direction.BIDIRECTIONAL)

    @property
    def from_crm(self) -> bool:
        return self.direction in (Direction.FROM_CRM, Direction.BIDIRECTIONAL)


@dataclass(frozen=True)
class Comparison:
    fields: list[FieldComparison]
    crm_row: CrmRow | None
    erp_found: bool

    @property
    def differences(self) -> list[FieldComparison]:
        return [f for f in self.fields if f.differs]


def compare(
    mapping: IntegrationTableMapping,
    *,
    erp_uuid: uuid.UUID,
    crm_id: uuid.UUID,
    crm: CrmAdapter | None = None,
) -> Comparison:
    """Both sides of a (would-be) pair, field by field; reads, writes nothing."""
    adapter = crm or crm_adapter(mapping)
    ctx = Context(
        mapping=mapping,
        crm=adapter,
        job=JobRun(job_name=mapping.name, mapping=mapping, kind=JobRun.Kind.DRY_RUN),
        options=Options(dry_run=True),
    )
    rules = [r for r in ctx.rules.rules if r.crm_field and r.erp_field]
    records = ctx.erp.by_uuids([erp_uuid])
    record = records.get(erp_uuid)
    rows = adapter.read(ctx.table, [crm_id])
    row = rows.get(crm_id)
    erp_values = erp_in_crm_space(ctx, [record], rules)[erp_uuid] if record is not None else {}
    out = []
    for rule in rules:
        value = erp_values.get(rule.key)
        problem = value.message if isinstance(value, LookupFailure) else ""
        out.append(
            FieldComparison(
                key=rule.key,
                erp_field=rule.erp_field,
                crm_field=rule.crm_field,
                direction=rule.direction,
                erp=None if problem else value,
                crm=canonical(row.values.get(rule.crm_field)) if row is not None else None,
                erp_problem=problem,
            )
        )
    return Comparison(fields=out, crm_row=row, erp_found=record is not None)
