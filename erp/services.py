"""Write paths for ERP records: every create, update and delete outside bulk loading goes here.

All twelve tables share one shape (validate with `full_clean`, then save), so the services are
generic over the model rather than twelve copies. `modified_at` is maintained by the model
layer itself (see `erp.models.SyncedModel`).
"""

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, TypeVar

from django.db import models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from django.utils.translation import gettext_lazy as _

from erp.models import SyncedModel
from erp.tables import key_field

M = TypeVar("M", bound=SyncedModel)

# Fields the caller never sets: identity and change tracking belong to the model layer.
PROTECTED_FIELDS = frozenset({"id", "uuid", "modified_at"})
# How many referencing records an error message names before it says "and more".
MAX_NAMED_REFERENCES = 3


class ErpError(Exception):
    """Base class of the errors the ERP services raise on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RecordInUse(ErpError):
    """The record cannot be deleted because other records refer to it (PROTECT)."""

    def __init__(self, record: models.Model, used_by: dict[str, list[str]]) -> None:
        self.record = record
        # verbose name plural of the referencing table -> keys (no./code) of some of its rows
        self.used_by = used_by
        parts = []
        for table, keys in used_by.items():
            keys = sorted(keys)
            shown = ", ".join(keys[:MAX_NAMED_REFERENCES])
            if len(keys) > MAX_NAMED_REFERENCES:
                shown = _("%(keys)s and %(more)d more") % {
                    "keys": shown,
                    "more": len(keys) - MAX_NAMED_REFERENCES,
                }
            parts.append(f"{len(keys)} {table} ({shown})")
        message = _("%(model)s %(key)s cannot be deleted because it is used by %(users)s.") % {
            "model": str(record._meta.verbose_name).capitalize(),
            "key": record_key(record),
            "users": "; ".join(parts),
        }
        super().__init__(str(message))


def record_key(record: models.Model) -> str:
    """The human key of a record (no. or code), falling back to its string form."""
    field = key_field(type(record))
    value = getattr(record, field, None)
    return str(value) if value else str(record)


def _assign(instance: models.Model, data: Mapping[str, Any]) -> None:
    for name, value in data.items():
        if name in PROTECTED_FIELDS:
            continue
        field = instance._meta.get_field(name)
        if field.many_to_many:
            raise ValueError(f"{name} is a many-to-many field; ERP tables have none.")
        setattr(instance, name, value)


def _validate(instance: models.Model) -> None:
    # modified_at is set by save(); validating it on an unsaved record would complain.
    instance.full_clean(exclude=["modified_at"])


def record_create(*, model: type[M], data: Mapping[str, Any]) -> M:
    """Create a record of `model` from field values; raises django ValidationError on bad data."""
    instance = model()
    _assign(instance, data)
    _validate(instance)
    instance.save()
    return instance


def record_update(*, instance: M, data: Mapping[str, Any]) -> M:
    """Change the given fields of `instance`; raises django ValidationError on bad data."""
    _assign(instance, data)
    _validate(instance)
    instance.save()
    return instance


def record_delete(*, instance: models.Model) -> None:
    """Delete a record, or raise `RecordInUse` naming the records that still refer to it."""
    try:
        with transaction.atomic():
            instance.delete()
    except (ProtectedError, RestrictedError) as exc:
        used_by: dict[str, list[str]] = defaultdict(list)
        objs = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
        for obj in objs:
            used_by[str(obj._meta.verbose_name_plural)].append(record_key(obj))
        raise RecordInUse(instance, dict(used_by)) from exc
