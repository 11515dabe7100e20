"""Whether an integration table mapping and its field mappings make sense together
(docs/reference/business-central.md §5.1, §5.2, §5.5).

One function decides, for every way of changing a mapping: the synchronization page, the REST API
and the Django admin hand it the mapping and the field mappings it would have after the change
(unsaved model instances), and show the problems their own way. It reads the ERP models to check
field names and never writes.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, FieldError, ValidationError
from django.db import models
from django.utils.translation import gettext as _

from .engine import crm_filter
from .models import (
    DeletionConflictResolution,
    Direction,
    IntegrationFieldMapping,
    IntegrationTableMapping,
    UidType,
    UpdateConflictResolution,
)

NUL = "\x00"

# The field-mapping directions each mapping direction can use.
COMPATIBLE: dict[str, set[str]] = {
    Direction.TO_CRM: {Direction.TO_CRM, Direction.BIDIRECTIONAL},
    Direction.FROM_CRM: {Direction.FROM_CRM, Direction.BIDIRECTIONAL},
    Direction.BIDIRECTIONAL: {Direction.TO_CRM, Direction.FROM_CRM, Direction.BIDIRECTIONAL},
}


@dataclass
class MappingProblems:
    """What is wrong with a mapping: errors refuse the change, warnings only inform.

    `errors` are keyed by the mapping's field name ("" for the mapping as a whole);
    `field_errors[i]` are the problems of the i-th field mapping given, keyed by its field name.
    """

    errors: dict[str, list[str]] = field(default_factory=dict)
    field_errors: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def add_field(self, index: int, name: str, message: str) -> None:
        self.field_errors.setdefault(index, {}).setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors or self.field_errors)

    def messages(self, labels: Sequence[str] = ()) -> list[str]:
        """Every error as one sentence (a field mapping's prefixed by its label or number)."""
        out = [m for msgs in self.errors.values() for m in msgs]
        for index in sorted(self.field_errors):
            label = labels[index] if index < len(labels) else str(index + 1)
            for msgs in self.field_errors[index].values():
                out += [
                    _("Field mapping %(label)s: %(message)s") % {"label": label, "message": m}
                    for m in msgs
                ]
        return out


class MappingInvalid(Exception):
    def __init__(self, problems: MappingProblems) -> None:
        super().__init__("; ".join(problems.messages()))
        self.problems = problems


def _label(direction: str) -> str:
    try:
        return str(Direction(direction).label)
    except ValueError:
        return direction


def erp_model(label: str) -> type[models.Model] | None:
    """The ERP model a mapping's `erp_table` names ("erp.Customer"), or None."""
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def erp_field_problem(*, model: type[models.Model], path: str) -> str | None:
    """Why `path` ("name", "company__customer", "item__no") is no field of `model`, or None."""
    current: type[models.Model] | None = model
    parts = path.split("__")
    for position, part in enumerate(parts):
        assert current is not None
        try:
            fld = current._meta.get_field(part)
        except FieldDoesNotExist:
            return _("The ERP table %(table)s has no field “%(field)s”.") % {
                "table": current._meta.label,
                "field": part,
            }
        if fld.one_to_many or fld.many_to_many:
            return _("“%(field)s” holds several records; map a single value.") % {"field": part}
        if position < len(parts) - 1:
            if not fld.is_relation or fld.related_model is None:
                return _("“%(field)s” is not a reference, so nothing follows it.") % {"field": part}
            related = fld.related_model
            current = related if isinstance(related, type) else None
    return None


def value_map_problem(value: Any) -> str | None:
    """A value map is a flat JSON object: text keys, scalar values (no list, no object)."""
    if not isinstance(value, dict):
        return _('The value map must be a JSON object such as {"ERP value": "CRM value"}.')
    for key, item in value.items():
        if isinstance(item, dict | list):
            return _("The value of “%(key)s” must be a single value, not a list or an object.") % {
                "key": key
            }
        if NUL in key or (isinstance(item, str) and NUL in item):
            return _("A NUL character (\\0) is not allowed in the value map.")
    return None


def _mapping_checks(mapping: IntegrationTableMapping, problems: MappingProblems) -> None:
    bidirectional = mapping.direction == Direction.BIDIRECTIONAL
    if mapping.crm_uid_type == UidType.OPTION and bidirectional:
        problems.add(
            "direction",
            _(
                "An option mapping copies option values one way only: choose To CRM or From CRM, "
                "not Bidirectional."
            ),
        )
    if mapping.update_conflict_resolution != UpdateConflictResolution.NONE and not bidirectional:
        problems.add(
            "update_conflict_resolution",
            _(
                "Only a bidirectional mapping can meet a record changed on both sides, so only "
                "a bidirectional mapping can resolve update conflicts: set it to None or make "
                "the mapping bidirectional."
            ),
        )
    if (
        mapping.deletion_conflict_resolution == DeletionConflictResolution.REMOVE_COUPLING
        and not mapping.sync_only_coupled
    ):
        problems.warnings.append(
            _(
                "%(name)s removes the coupling of a record deleted on one side, but it also "
                "synchronizes records that are not coupled: a later scheduled job may create "
                "the record again and couple it."
            )
            % {"name": mapping.name}
        )
    if not isinstance(mapping.table_filter, dict):
        problems.add("table_filter", _("The ERP table filter must be a JSON object."))
    else:
        model = erp_model(mapping.erp_table)
        if model is not None and mapping.table_filter:
            try:
                str(model._default_manager.filter(**mapping.table_filter).query)
            except (FieldError, ValueError, TypeError, ValidationError) as exc:
                problems.add(
                    "table_filter",
                    _("The ERP table filter cannot be applied to %(table)s: %(error)s")
                    % {"table": mapping.erp_table, "error": exc},
                )
    try:
        crm_filter.check(mapping.integration_table_filter or "")
    except crm_filter.FilterUnsupported as exc:
        problems.add(
            "integration_table_filter",
            _(
                "The synchronization evaluates this filter on changed rows itself and cannot "
                "read it: %(error)s. Use comparisons (eq, ne, gt, ge, lt, le) joined by and, or, "
                "not."
            )
            % {"error": exc},
        )
    if mapping.interval_minutes is not None and mapping.interval_minutes < 1:
        problems.add("interval_minutes", _("The interval must be at least 1 minute."))
    names = mapping.dependencies
    if mapping.name and mapping.name in names:
        problems.add("dependency_filter", _("A mapping cannot depend on itself."))


def _field_checks(
    index: int,
    fm: IntegrationFieldMapping,
    mapping: IntegrationTableMapping,
    model: type[models.Model] | None,
    problems: MappingProblems,
) -> None:
    if mapping.crm_uid_type == UidType.OPTION and fm.direction == Direction.BIDIRECTIONAL:
        problems.add_field(
            index,
            "direction",
            _("A field mapping of an option mapping cannot be bidirectional."),
        )
    if fm.direction not in COMPATIBLE.get(mapping.direction, set()):
        problems.add_field(
            index,
            "direction",
            _("This field goes %(field)s, but the mapping only synchronizes %(mapping)s.")
            % {
                "field": _label(fm.direction),
                "mapping": _label(mapping.direction),
            },
        )
    if fm.clear_value_on_failed_sync and fm.not_null:
        problems.add_field(
            index,
            "not_null",
            _(
                "Clear value on failed sync and Not null exclude each other: the first empties "
                "the destination, the second forbids an empty value."
            ),
        )
    if fm.constant_value:
        if fm.direction == Direction.BIDIRECTIONAL:
            problems.add_field(
                index,
                "constant_value",
                _("A constant value goes one way: choose To CRM or From CRM."),
            )
        elif fm.direction == Direction.TO_CRM and fm.erp_field:
            problems.add_field(
                index,
                "erp_field",
                _("A constant replaces the ERP field: leave the ERP field empty."),
            )
        elif fm.direction == Direction.FROM_CRM and fm.crm_field:
            problems.add_field(
                index,
                "crm_field",
                _("A constant replaces the CRM column: leave the CRM column empty."),
            )
    else:
        if fm.direction in (Direction.TO_CRM, Direction.BIDIRECTIONAL) and not fm.erp_field:
            problems.add_field(
                index, "erp_field", _("Enter the ERP field, or a constant value instead.")
            )
        if fm.direction in (Direction.FROM_CRM, Direction.BIDIRECTIONAL) and not fm.crm_field:
            problems.add_field(
                index, "crm_field", _("Enter the CRM column, or a constant value instead.")
            )
    if fm.direction in (Direction.TO_CRM, Direction.BIDIRECTIONAL) and not fm.crm_field:
        problems.add_field(index, "crm_field", _("Enter the CRM column this field writes to."))
    if fm.direction in (Direction.FROM_CRM, Direction.BIDIRECTIONAL) and not fm.erp_field:
        problems.add_field(index, "erp_field", _("Enter the ERP field this column writes to."))
    if fm.erp_field and fm.validate_field and model is not None:
        problem = erp_field_problem(model=model, path=fm.erp_field)
        if problem:
            problems.add_field(index, "erp_field", problem)
    problem = value_map_problem(fm.value_map)
    if problem:
        problems.add_field(index, "value_map", problem)


def mapping_validate(
    *, mapping: IntegrationTableMapping, field_mappings: Sequence[IntegrationFieldMapping]
) -> MappingProblems:
    """Every problem of `mapping` with exactly these field mappings (deleted ones left out)."""
    problems = MappingProblems()
    _mapping_checks(mapping, problems)
    model = erp_model(mapping.erp_table)
    if model is None and any(fm.erp_field and fm.validate_field for fm in field_mappings):
        problems.warnings.append(
            _(
                "%(table)s is not a table of this ERP yet, so the ERP field names of %(name)s "
                "were not checked."
            )
            % {"table": mapping.erp_table, "name": mapping.name}
        )
    for index, fm in enumerate(field_mappings):
        _field_checks(index, fm, mapping, model, problems)
    enabled = [
        fm.direction for fm in field_mappings if fm.status == IntegrationFieldMapping.Status.ENABLED
    ]
    if not any(d in COMPATIBLE.get(mapping.direction, set()) for d in enabled):
        if mapping.direction == Direction.BIDIRECTIONAL:
            message = _("At least one field mapping must be enabled for the mapping to work.")
        else:
            message = _(
                "Set at least one enabled field mapping to %(direction)s or Bidirectional, or "
                "choose another direction for the mapping."
            ) % {"direction": _label(mapping.direction)}
        problems.add("direction", message)
    return problems
