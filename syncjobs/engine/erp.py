"""The ERP side of a mapping: which records are in scope and changed, their values in
canonical form, and writing values back (with lookups through couplings).

ERP fields are Django field names of the mapping's model, or a path ("item__no",
"company__customer"): a path is read with the ORM's joins; it is written back only when it is a
foreign key, or a foreign key followed by the reverse side of a one-to-one (the person's
company contact -> that company's customer).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, FieldError, ValidationError
from django.db import models

from syncjobs.models import CrmCoupling, CrmOptionCoupling

from .fields import Rule, canonical


class MappingBroken(Exception):
    """The mapping names an ERP table or field that does not exist."""


@dataclass(frozen=True)
class Path:
    """How a field mapping's ERP field reaches its value."""

    hops: tuple[str, ...]
    target: type[models.Model] | None  # the model the path ends at, for a reference
    writable: bool
    # For FK + reverse one-to-one: the FK field to set and the column of the target that
    # holds the value for it ("company", "company_contact_id").
    fk_name: str = ""
    via_column: str = ""
    # Every hop leads to at most one row: read in one query with the mapping's other such paths.
    to_one: bool = True


def model_of(label: str) -> type[models.Model]:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError) as exc:
        raise MappingBroken(f"The ERP table {label} does not exist.") from exc


def resolve_path(model: type[models.Model], erp_field: str) -> Path:
    hops = tuple(erp_field.split("__"))
    current: type[models.Model] = model
    kinds: list[str] = []
    for hop in hops:
        try:
            f = current._meta.get_field(hop)
        except FieldDoesNotExist as exc:
            raise MappingBroken(
                f"The ERP table {model._meta.label} has no field {erp_field}."
            ) from exc
        if f.is_relation and f.related_model is not None:
            kinds.append("fk" if f.concrete else "reverse_o2o" if f.one_to_one else "many")
            current = f.related_model
        else:
            kinds.append("value")
            break
    to_one = "many" not in kinds
    if kinds[-1] == "value":
        return Path(hops, None, writable=len(hops) == 1, to_one=to_one)
    if kinds == ["fk"]:
        return Path(hops, current, writable=True, fk_name=hops[0])
    if kinds == ["fk", "reverse_o2o"]:
        first = model._meta.get_field(hops[0])
        reverse = first.related_model._meta.get_field(hops[1])  # type: ignore[union-attr]
        return Path(
            hops,
            current,
            writable=True,
            fk_name=hops[0],
            via_column=reverse.field.attname,  # type: ignore[union-attr]
        )
    return Path(hops, current, writable=False, to_one=to_one)


@dataclass(frozen=True)
class PkRange:
    """A slice of an ERP table by primary key: `after` < pk <= `upto` (None: unbounded). A full
    synchronization splits a large table into such slices (chunks) that workers share."""

    after: int | None = None
    upto: int | None = None


class ErpTable:
    def __init__(
        self,
        label: str,
        table_filter: dict[str, Any] | None = None,
        *,
        pk_range: PkRange | None = None,
    ) -> None:
        self.model = model_of(label)
        self.label = self.model._meta.label_lower
        self.table_filter = dict(table_filter or {})
        self.pk_range = pk_range
        self._paths: dict[str, Path] = {}

    def path(self, erp_field: str) -> Path:
        if erp_field not in self._paths:
            self._paths[erp_field] = resolve_path(self.model, erp_field)
        return self._paths[erp_field]

    def scope(self) -> models.QuerySet[Any]:
        try:
            qs = self.model._default_manager.filter(**self.table_filter)
        except (FieldDoesNotExist, FieldError, ValueError, TypeError) as exc:
            raise MappingBroken(f"The ERP table filter cannot be applied: {exc}") from exc
        if self.pk_range is not None:
            if self.pk_range.after is not None:
                qs = qs.filter(pk__gt=self.pk_range.after)
            if self.pk_range.upto is not None:
                qs = qs.filter(pk__lte=self.pk_range.upto)
        return qs

    def pk_ranges(self, size: int) -> list[PkRange]:
        """The scope cut into slices of about `size` records by primary key (a keyset: each
        boundary is found from the previous one on the pk index). The last slice is open-ended,
        so records created meanwhile belong to one. One slice when the table's key is not an
        integer."""
        if not isinstance(self.model._meta.pk, models.IntegerField) or size < 1:
            return [PkRange()]
        qs = self.scope().order_by("pk").values_list("pk", flat=True)
        ranges: list[PkRange] = []
        after: int | None = None
        while True:
            rest = qs if after is None else qs.filter(pk__gt=after)
            # The first pk of the next slice: is there anything after this one's last?
            bounds = list(rest[size - 1 : size + 1])
            if len(bounds) < 2:
                ranges.append(PkRange(after=after))
                return ranges
            ranges.append(PkRange(after=after, upto=int(bounds[0])))
            after = int(bounds[0])

    def iter_changed(self, since: datetime | None, size: int) -> Iterator[list[Any]]:
        """Records in scope modified at or after `since` (all when None), in (modified_at, pk)
        order, a chunk at a time: a keyset that never skips nor repeats a row.

        Two index range reads per chunk instead of one OR: the rest of the current instant
        by pk, then the instants after it. An OR of both cannot be read from the
        (modified_at, id) index in order, and a bulk update gives thousands of rows one
        modified_at: every chunk would rescan them.
        """
        qs = self.scope()
        if since is not None:
            qs = qs.filter(modified_at__gte=since)
        rows = list(qs.order_by("modified_at", "pk")[:size])
        while rows:
            yield rows
            at, pk = rows[-1].modified_at, rows[-1].pk
            rows = list(qs.filter(modified_at=at, pk__gt=pk).order_by("pk")[:size])
            if len(rows) < size:
                rows += list(
                    qs.filter(modified_at__gt=at).order_by("modified_at", "pk")[: size - len(rows)]
                )

    def by_uuids(
        self, uuids: Iterable[uuid.UUID], *, in_scope: bool = False
    ) -> dict[uuid.UUID, Any]:
        wanted = list(uuids)
        qs: models.QuerySet[Any] = self.scope() if in_scope else self.model._default_manager.all()
        found: dict[uuid.UUID, Any] = {}
        for start in range(0, len(wanted), 1000):
            for obj in qs.filter(uuid__in=wanted[start : start + 1000]):
                found[obj.uuid] = obj
        return found

    # -- reading values ------------------------------------------------------------------

    def read(
        self, records: Sequence[Any], rules: Sequence[Rule]
    ) -> dict[uuid.UUID, dict[str, Any]]:
        """ERP canonical values of each record for these rules (a reference: the referenced
        record's uuid, a `uuid.UUID`)."""
        values: dict[uuid.UUID, dict[str, Any]] = {r.uuid: {} for r in records}
        pks = [r.pk for r in records]
        by_pk = {r.pk: r.uuid for r in records}
        joined: dict[str, tuple[str, bool]] = {}  # rule key -> (ORM column, is a reference)
        for rule in rules:
            if not rule.erp_field:
                continue
            path = self.path(rule.erp_field)
            if path.target is None and len(path.hops) == 1:
                for record in records:
                    values[record.uuid][rule.key] = canonical(getattr(record, rule.erp_field))
                continue
            column = rule.erp_field + ("__uuid" if path.target is not None else "")
            if path.to_one:
                joined[rule.key] = (column, path.target is not None)
                continue
            # A path through a to-many relation: its own query, one value per record.
            found = dict(self.model._default_manager.filter(pk__in=pks).values_list("pk", column))
            for pk, record_uuid in by_pk.items():
                values[record_uuid][rule.key] = self._read_value(
                    found.get(pk), path.target is not None
                )
        if joined:
            # The to-one paths of all rules in one query: its joins, not one query per rule.
            names = sorted({column for column, _ in joined.values()})
            where = {name: i for i, name in enumerate(names, start=1)}
            qs = self.model._default_manager.filter(pk__in=pks).values_list("pk", *names)
            for row in qs:
                record_values = values[by_pk[row[0]]]
                for key, (column, reference) in joined.items():
                    record_values[key] = self._read_value(row[where[column]], reference)
            for record_values in values.values():
                for key, (_column, _reference) in joined.items():
                    record_values.setdefault(key, None)
        return values

    @staticmethod
    def _read_value(value: Any, reference: bool) -> Any:
        # References stay uuid objects: they are translated through couplings next.
        return value if reference else canonical(value)

    # -- writing values ------------------------------------------------------------------

    def new(self) -> Any:
        return self.model()

    def set_value(self, obj: Any, rule: Rule, value: Any) -> str:
        """Set a plain field from an ERP canonical value; returns the attribute written."""
        f = cast("models.Field[Any, Any]", self.model._meta.get_field(rule.erp_field))
        if value is None:
            if isinstance(f, models.CharField | models.TextField):
                value = ""
            elif isinstance(f, models.DecimalField) and not f.null:
                value = Decimal("0")
            elif isinstance(f, models.BooleanField):
                value = False
        elif isinstance(f, models.DecimalField):
            try:
                value = Decimal(str(value))
            except InvalidOperation as exc:
                raise ValidationError({rule.erp_field: f"not a number: {value!r}"}) from exc
        elif isinstance(f, models.BooleanField):
            value = value in (True, "true", "True", 1, "1")
        elif isinstance(f, models.IntegerField):
            value = int(value)
        elif isinstance(f, models.CharField | models.TextField):
            value = str(value)
        setattr(obj, f.attname, value)
        return f.name

    def reference_pks(self, rule: Rule, target_uuids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """Target uuid -> the value to store in the mapping's FK column."""
        path = self.path(rule.erp_field)
        assert path.target is not None
        column = path.via_column or "pk"
        wanted = list(set(target_uuids))
        return dict(
            path.target._default_manager.filter(uuid__in=wanted).values_list("uuid", column)
        )

    def set_reference(self, obj: Any, rule: Rule, fk_value: Any) -> str:
        path = self.path(rule.erp_field)
        f = cast("models.Field[Any, Any]", self.model._meta.get_field(path.fk_name))
        setattr(obj, f.attname, fk_value)
        return f.name

    def label_of(self, obj: Any) -> str:
        if not hasattr(self, "_verbose_name"):
            # Translated once per run, not per record.
            self._verbose_name = str(self.model._meta.verbose_name)
        return f"{self._verbose_name} {obj}"[:250]


# -- couplings used as lookups ------------------------------------------------------------


def crm_ids_of(erp_table: str, erp_uuids: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    wanted = list(set(erp_uuids))
    return dict(
        CrmCoupling.objects.filter(
            erp_table=erp_table, erp_uuid__in=wanted, state=CrmCoupling.State.COUPLED
        ).values_list("erp_uuid", "crm_id")
    )


def erp_uuids_of(
    erp_table: str, crm_entity: str, crm_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    wanted = list(set(crm_ids))
    return dict(
        CrmCoupling.objects.filter(
            erp_table=erp_table,
            crm_entity=crm_entity,
            crm_id__in=wanted,
            state=CrmCoupling.State.COUPLED,
        ).values_list("crm_id", "erp_uuid")
    )


def options_of(
    erp_table: str, attribute: str, erp_uuids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    return dict(
        CrmOptionCoupling.objects.filter(
            erp_table=erp_table, crm_attribute=attribute, erp_uuid__in=list(set(erp_uuids))
        ).values_list("erp_uuid", "option_value")
    )


def option_owners(erp_table: str, attribute: str, values: Iterable[int]) -> dict[int, uuid.UUID]:
    return dict(
        CrmOptionCoupling.objects.filter(
            erp_table=erp_table, crm_attribute=attribute, option_value__in=list(set(values))
        ).values_list("option_value", "erp_uuid")
    )
