"""Keyset ("seek") pagination for the ERP list pages: orderings, cursors and seek conditions.

A list is ordered by its sort keys with the pk as the last key, so every row has one place.
A page is read after (or before) the row at its boundary by comparing the sort keys with that
row's values, never by OFFSET: the database starts at the boundary in the ordering's index
and reads one page, wherever the page is. The last page is the first page of the reversed
order. NULLs sort after every value (ascending) and before every value (descending) on every
database, so a page of SQLite and of PostgreSQL looks the same.

Cursors are what the page links carry: the sort they belong to and the boundary row's key
values, as URL-safe base64 of JSON. They are opaque to readers but are not a secret: their
values only ever reach the database as query parameters. A cursor that does not decode,
belongs to another sort or holds a value its column cannot take is None (the first page).
"""

import base64
import binascii
import datetime
import decimal
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.expressions import OrderBy

# A cursor longer than this is not one of ours (the longest holds a few short keys).
MAX_CURSOR_LENGTH = 2000


@dataclass(frozen=True)
class SortKey:
    """One key of a list ordering: an ORM path (`name`, `salesperson__code`, `pk`)."""

    path: str
    descending: bool
    nullable: bool
    field: models.Field

    def order_by(self) -> OrderBy:
        expression = F(self.path)
        if self.descending:
            return expression.desc(nulls_first=True) if self.nullable else expression.desc()
        return expression.asc(nulls_last=True) if self.nullable else expression.asc()

    def reversed(self) -> "SortKey":
        return SortKey(self.path, not self.descending, self.nullable, self.field)


def sort_key(model: type[models.Model], path: str, *, descending: bool) -> SortKey:
    """The key for `path` on `model`: nullable if any relation on the way or the field is."""
    nullable = False
    fld: Any = None
    current = model
    for part in path.split("__"):
        fld = current._meta.pk if part == "pk" else current._meta.get_field(part)
        nullable = nullable or bool(getattr(fld, "null", False))
        if fld.is_relation and fld.related_model is not None:
            current = fld.related_model
    assert fld is not None
    if fld.is_relation:
        # A path that ends on a foreign key compares its id.
        fld = fld.target_field
    return SortKey(path, descending, nullable, fld)


def ordering_with_pk(model: type[models.Model], keys: Sequence[SortKey]) -> tuple[SortKey, ...]:
    """`keys` plus the pk as the last key (in the direction of the last key), unless present."""
    if any(k.path == "pk" for k in keys):
        return tuple(keys)
    descending = keys[-1].descending if keys else False
    return (*keys, sort_key(model, "pk", descending=descending))


def reverse(keys: Sequence[SortKey]) -> tuple[SortKey, ...]:
    return tuple(k.reversed() for k in keys)


def row_values(obj: models.Model, keys: Sequence[SortKey]) -> list[Any]:
    """The values of the sort keys on a loaded row (related rows come from select_related)."""
    values = []
    for key in keys:
        value: Any = obj
        for part in key.path.split("__"):
            if value is None:
                break
            value = value.pk if part == "pk" else getattr(value, part)
        if isinstance(value, models.Model):
            value = value.pk
        values.append(value)
    return values


def _after(key: SortKey, value: Any) -> Q | None:
    """Rows strictly after `value` in this key's order; None if there are none."""
    if value is None:
        # NULLs are last ascending (nothing after them) and first descending.
        return Q(**{f"{key.path}__isnull": False}) if key.descending else None
    condition = Q(**{f"{key.path}__{'lt' if key.descending else 'gt'}": value})
    if key.nullable and not key.descending:
        condition |= Q(**{f"{key.path}__isnull": True})
    return condition


def _at_or_after(key: SortKey, value: Any) -> Q | None:
    """Rows at or after `value`: a range the database can start an index scan from."""
    if value is None:
        return Q(**{f"{key.path}__isnull": True}) if not key.descending else None
    condition = Q(**{f"{key.path}__{'lte' if key.descending else 'gte'}": value})
    if key.nullable and not key.descending:
        condition |= Q(**{f"{key.path}__isnull": True})
    return condition


def _equal(key: SortKey, value: Any) -> Q:
    return Q(**{f"{key.path}__isnull": True}) if value is None else Q(**{key.path: value})


def seek_condition(keys: Sequence[SortKey], values: Sequence[Any]) -> Q:
    """Rows that come after the row whose key values are `values`, in the order of `keys`.

    (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ..., AND-ed with k1 >= v1 so that the database
    starts at the boundary in an index on (k1, ..., pk) instead of filtering from the start.
    """
    parts = []
    prefix = Q()
    for key, value in zip(keys, values, strict=True):
        after = _after(key, value)
        if after is not None:
            parts.append(prefix & after)
        prefix &= _equal(key, value)
    if not parts:
        return Q(pk__in=[])  # the boundary is the last row there can be
    condition = parts[0]
    for part in parts[1:]:
        condition |= part
    bound = _at_or_after(keys[0], values[0]) if keys else None
    if bound is None:
        # Only NULLs (ascending) or everything (descending) can follow; the OR says which.
        return condition
    return bound & condition


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (`forward`) or before the row with these key values."""

    sort: str
    values: tuple[Any, ...]
    forward: bool


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bool | int | str | float) or value is None:
        return value
    return str(value)


def cursor_encode(*, sort: str, values: Sequence[Any], forward: bool) -> str:
    payload = json.dumps(
        [sort, "n" if forward else "p", [_encode_value(v) for v in values]],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def cursor_decode(token: str, *, sort: str, keys: Sequence[SortKey]) -> Cursor | None:
    """The cursor in `token` if it is well formed and belongs to `sort` and `keys`; else None."""
    if not token or len(token) > MAX_CURSOR_LENGTH:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw.decode())
    except (binascii.Error, ValueError):
        return None
    if not (isinstance(payload, list) and len(payload) == 3):
        return None
    token_sort, direction, encoded = payload
    if token_sort != sort or direction not in ("n", "p") or not isinstance(encoded, list):
        return None
    if len(encoded) != len(keys):
        return None
    values: list[Any] = []
    for key, value in zip(keys, encoded, strict=True):
        if value is None:
            if not key.nullable:
                return None
            values.append(None)
            continue
        if not isinstance(value, str | int | float | bool) or "\x00" in str(value):
            return None
        try:
            values.append(key.field.to_python(value))
        except (ValidationError, FieldDoesNotExist, ValueError, TypeError, OverflowError):
            return None
    return Cursor(sort=sort, values=tuple(values), forward=direction == "n")
