"""Field mappings compiled for one run, and the canonical form values are compared in.

Both sides' values are turned into one canonical, JSON-friendly form before they are compared
or stored in a coupling's snapshot: None for empty, str for text, a normalized decimal string
for numbers, bool, int for option set values, the CRM row id (str) for a lookup. Two values
are "the same" when their canonical forms are equal, whatever side they came from.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from syncjobs.models import Direction, IntegrationFieldMapping, IntegrationTableMapping

from .crm import CrmLookup

_BIND = re.compile(r"^/?(?P<set>[A-Za-z_][A-Za-z0-9_]*)\((?P<id>[0-9a-fA-F-]{36})\)$")


def canonical(value: Any) -> Any:
    """The comparable, JSON-serializable form of a value from either side."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, CrmLookup):
        return str(value.id)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        number = Decimal(str(value))
        text = format(number.normalize(), "f")
        return "0" if text in ("-0", "") else text
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return text if text != "" else None


def _transform(value: Any, transformation: str) -> Any:
    if not isinstance(value, str) or not transformation:
        return value
    if transformation == "trim":
        return value.strip() or None
    if transformation == "upper":
        return value.upper()
    if transformation == "lower":
        return value.lower()
    if transformation == "title":
        return value.title()
    return value


@dataclass(frozen=True)
class Rule:
    """One enabled field mapping, ready to apply."""

    key: str
    erp_field: str  # "" for a constant written to the CRM; a path ("item__no") is allowed
    crm_field: str  # "" for a constant written to the ERP
    direction: str
    constant: str = ""
    lookup: str = ""  # CRM table of a lookup column
    option: str = ""  # option mapping name of an option set column
    transformation: str = ""
    value_map: dict[str, Any] = field(default_factory=dict)
    not_null: bool = False
    clear_on_failed: bool = False
    validate: bool = True
    match: bool = False
    case_sensitive: bool = False
    match_priority: int = 0

    @property
    def to_crm(self) -> bool:
        return bool(self.crm_field) and self.direction in (
            Direction.TO_CRM,
            Direction.BIDIRECTIONAL,
        )

    @property
    def from_crm(self) -> bool:
        return bool(self.erp_field) and self.direction in (
            Direction.FROM_CRM,
            Direction.BIDIRECTIONAL,
        )

    @property
    def bidirectional(self) -> bool:
        return self.direction == Direction.BIDIRECTIONAL and bool(self.erp_field and self.crm_field)

    @property
    def is_reference(self) -> bool:
        """Does the ERP side hold a record (translated through couplings) rather than a value?"""
        return bool(self.lookup or self.option)

    def constant_for_crm(self) -> Any:
        text = self.constant
        match = _BIND.match(text)
        if match and self.lookup:
            return str(uuid.UUID(match["id"]))
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if text in ("true", "false"):
            # A constant of a Yes/No column (ispriceoverridden).
            return text == "true"
        return canonical(text)

    def to_crm_value(self, value: Any) -> Any:
        """ERP canonical value -> CRM canonical value (transformations and value map)."""
        value = _transform(value, self.transformation)
        if self.value_map and value is not None:
            mapped = self.value_map.get(str(value), value)
            return canonical(mapped)
        return value

    def from_crm_value(self, value: Any) -> Any:
        """CRM canonical value -> ERP canonical value."""
        if self.value_map and value is not None:
            reverse = {str(v): k for k, v in self.value_map.items()}
            value = canonical(reverse.get(str(value), value))
        return _transform(value, self.transformation)

    def crm_value(self, value: Any) -> Any:
        """CRM canonical -> what the adapter writes."""
        if value is None:
            return None
        if self.lookup:
            return CrmLookup(self.lookup, uuid.UUID(str(value)))
        if isinstance(value, str) and not self.option:
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                return value
        if isinstance(value, int | bool):
            return value
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return value


def field_entry(rule: Rule, old: Any, new: Any) -> dict[str, Any]:
    """One changed field as a RecordChange stores it."""
    return {"erp_field": rule.erp_field, "crm_field": rule.crm_field, "old": old, "new": new}


def conflict_entry(rule: Rule, *, base: Any, erp: Any, crm: Any) -> dict[str, Any]:
    """One field changed on both sides, as a coupling keeps it for a person."""
    return {
        "erp_field": rule.erp_field,
        "crm_field": rule.crm_field,
        "key": rule.key,
        "base": base,
        "erp": erp,
        "crm": crm,
    }


def rule_of(rules: list[Rule], key: str) -> Rule:
    return next(r for r in rules if r.key == key)


def _rule_key(f: IntegrationFieldMapping) -> str:
    source = f.erp_field or f"={f.constant_value}"
    return f"{source}>{f.crm_field}"


@dataclass(frozen=True)
class Rules:
    mapping_name: str
    rules: tuple[Rule, ...]

    @property
    def to_crm(self) -> list[Rule]:
        return [r for r in self.rules if r.to_crm]

    @property
    def from_crm(self) -> list[Rule]:
        return [r for r in self.rules if r.from_crm]

    def crm_columns(self) -> list[str]:
        return list(dict.fromkeys(r.crm_field for r in self.rules if r.crm_field))

    def crm_lookups(self) -> dict[str, str]:
        return {r.crm_field: r.lookup for r in self.rules if r.crm_field and r.lookup}


def rules_of(mapping: IntegrationTableMapping) -> Rules:
    rules = []
    for f in mapping.field_mappings.all():
        if f.status != IntegrationFieldMapping.Status.ENABLED:
            continue
        if not (f.erp_field or f.crm_field):
            continue
        lookup = f.crm_lookup_entity
        if not lookup and f.crm_field and f.constant_value and _BIND.match(f.constant_value):
            # A fixed owner ("/systemusers(<id>)") is a lookup constant.
            lookup = "systemuser" if "systemusers" in f.constant_value else ""
        rules.append(
            Rule(
                key=_rule_key(f),
                erp_field=f.erp_field,
                crm_field=f.crm_field,
                direction=f.direction,
                constant=f.constant_value,
                lookup=lookup,
                option=f.option_mapping,
                transformation=f.transformation,
                value_map=dict(f.value_map or {}),
                not_null=f.not_null,
                clear_on_failed=f.clear_value_on_failed_sync,
                validate=f.validate_field,
                match=f.use_for_match_based_coupling,
                case_sensitive=f.case_sensitive_match,
                match_priority=f.match_priority,
            )
        )
    return Rules(mapping_name=mapping.name, rules=tuple(rules))
