"""Many rows of one of our own tables written with one parameterized statement and
executemany: the engine's bookkeeping (couplings, the change log) at the pace of the CRM.

Why not the ORM's `bulk_create()` / `bulk_update()`: they compile a statement per batch and
prepare every value of every row through the compiler (pre_save, get_db_prep_save, placeholder
expressions); on a 100,000-record full run that was most of the engine's own time, ahead of
the CRM calls it overlaps with. Here each column's conversion is chosen once per statement
and the rows are plain dicts: no model instance is built either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

BATCH = 500

Convert = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _converter(f: models.Field[Any, Any], connection: BaseDatabaseWrapper) -> Convert:
    """The database value of a Python value of this column, as the field would prepare it,
    for the few column types our tables use; anything else takes the field's own path."""
    if isinstance(f, models.UUIDField):
        if connection.features.has_native_uuid_field:
            return _identity
        return lambda v: None if v is None else v.hex
    if isinstance(f, models.JSONField):
        ops, encoder = connection.ops, f.encoder
        return lambda v: None if v is None else ops.adapt_json_value(v, encoder)
    if isinstance(f, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(f, models.ForeignKey):
        return _identity
    if isinstance(
        f, models.CharField | models.TextField | models.BooleanField | models.IntegerField
    ):
        return _identity
    return lambda v: f.get_db_prep_save(v, connection)


def _columns(
    model: type[models.Model], names: Iterable[str], connection: BaseDatabaseWrapper
) -> list[tuple[models.Field[Any, Any], Convert]]:
    by_name = {f.name: f for f in model._meta.concrete_fields}
    by_name.update({f.attname: f for f in model._meta.concrete_fields})
    try:
        return [(by_name[n], _converter(by_name[n], connection)) for n in names]
    except KeyError as exc:
        raise ValueError(f"{model._meta.label} has no column {exc}.") from exc


def rows_insert(model: type[models.Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT these rows (field name or attname -> value); a column a row leaves out gets the
    field's default (auto_now / auto_now_add: now). Primary keys are the database's."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = _columns(model, [f.name for f in fields], connection)
    now = timezone.now()
    defaults: dict[str, Any] = {}
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.name] = now
        elif f.has_default() or f.null:
            defaults[f.name] = f.get_default()
    names = ", ".join(quote(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    # Table and column names come from the model; every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608

    def value(row: Mapping[str, Any], f: models.Field[Any, Any]) -> Any:
        if f.name in row:
            return row[f.name]
        if f.attname in row:
            return row[f.attname]
        if f.name in defaults:
            return defaults[f.name]
        raise ValueError(f"{meta.label}: no value for {f.name}.")

    params = [[convert(value(row, f)) for f, convert in columns] for row in rows]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for start in range(0, len(params), BATCH):
            cursor.executemany(sql, params[start : start + BATCH])


def rows_update(
    model: type[models.Model], fields: Sequence[str], objs: Sequence[models.Model]
) -> None:
    """UPDATE these fields of these saved instances: one statement per row, executemany."""
    if not objs:
        return
    if any(o.pk is None for o in objs):
        raise ValueError("Only saved rows can be updated.")
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    meta = model._meta
    assert meta.pk is not None
    columns = _columns(model, fields, connection)
    assignments = ", ".join(f"{quote(str(f.column))} = %s" for f, _ in columns)
    where = f"{quote(str(meta.pk.column))} = %s"
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {where}"  # noqa: S608
    params = [[convert(getattr(o, f.attname)) for f, convert in columns] + [o.pk] for o in objs]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for start in range(0, len(params), BATCH):
            cursor.executemany(sql, params[start : start + BATCH])
