"""Coupling actions on many records at once, in the background (docs/reference/
business-central.md §3.2 "Create in Dataverse" for the selected records, §3.6, §5.6 "Retry
All", §5.9 "Multiple records"): a BulkAction row holds the records and the progress; the task
`coupling.bulk_action` works through them in steps with the services of `services.py`.

Idempotent: the row counts what is done, so a redelivered message goes on from there.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import partial

from celery import current_app
from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from syncjobs.engine.crm import CrmUnavailable
from syncjobs.engine.run import NoConnection
from syncjobs.models import CrmCoupling, Direction, IntegrationTableMapping

from . import services
from .models import BulkAction, CouplingRun

BULK_TASK = "coupling.bulk_action"
# Records per step: one engine run per step for creates (the engine batches its CRM calls).
BULK_STEP = 50


def bulk_start(
    *,
    kind: str,
    mapping: IntegrationTableMapping | None,
    items: Sequence[uuid.UUID | int | str] = (),
    direction: str = "",
    state: str = "",
    requested_by: str = "",
) -> BulkAction:
    """Record the action and queue it for the worker once the transaction commits."""
    if kind not in BulkAction.Kind.values:
        raise services.CouplingError(_("Unknown action %(kind)r.") % {"kind": kind})
    if kind == BulkAction.Kind.CREATE_IN_CRM and mapping is not None:
        services._require_direction(mapping, Direction.TO_CRM)
    if kind == BulkAction.Kind.CREATE_IN_ERP and mapping is not None:
        services._require_direction(mapping, Direction.FROM_CRM)
    if kind != BulkAction.Kind.RETRY_ALL and not items:
        raise services.CouplingError(_("Select at least one record."))
    chosen = [str(i) for i in dict.fromkeys(items)]
    action = BulkAction.objects.create(
        kind=kind,
        mapping=mapping,
        items=chosen,
        direction=direction,
        state=state,
        total=len(chosen),
        requested_by=requested_by[:150],
    )
    transaction.on_commit(partial(_send, action.pk))
    return action


def _send(action_id: int) -> None:
    current_app.send_task(BULK_TASK, args=[action_id])


def _claim(action_id: int) -> BulkAction | None:
    taken = BulkAction.objects.filter(
        pk=action_id, status__in=[CouplingRun.Status.QUEUED, CouplingRun.Status.RUNNING]
    ).update(status=CouplingRun.Status.RUNNING, started_at=Coalesce("started_at", timezone.now()))
    if not taken:
        return None
    return BulkAction.objects.select_related("mapping").get(pk=action_id)


def _note(action: BulkAction, text: str) -> None:
    if text and text not in action.message:
        action.message = (action.message + "; " if action.message else "") + text[:500]


def _step(action: BulkAction, part: list[str]) -> None:
    mapping = action.mapping
    kind = action.kind
    if kind in (BulkAction.Kind.CREATE_IN_CRM, BulkAction.Kind.CREATE_IN_ERP):
        assert mapping is not None
        ids = [uuid.UUID(i) for i in part]
        try:
            if kind == BulkAction.Kind.CREATE_IN_CRM:
                result = services.create_in_crm(mapping=mapping, erp_uuids=ids)
            else:
                result = services.create_in_erp(mapping=mapping, crm_ids=ids)
        except services.CouplingError as exc:
            action.failed += len(part)
            _note(action, exc.message)
            return
        action.skipped += len(result.already_coupled)
        if result.sync is not None:
            failed = min(result.sync.failed, len(part) - len(result.already_coupled))
            action.failed += failed
            action.succeeded += len(part) - len(result.already_coupled) - failed
            for job in result.sync.jobs:
                if job.status != "succeeded":
                    _note(action, job.message)
        return
    for item in part:
        coupling = CrmCoupling.objects.filter(pk=int(item)).first()
        if coupling is None:
            action.skipped += 1
            continue
        try:
            if kind == BulkAction.Kind.UNCOUPLE:
                services.uncouple(coupling=coupling)
                action.succeeded += 1
                continue
            target = services._mapping_of(coupling)
            synced = services.synchronize_now(
                mapping=target, erp_uuid=coupling.erp_uuid, direction=action.direction or None
            )
        except services.DirectionRequired:
            # §5.9 "Multiple records": a record changed on both sides is left for a person.
            action.skipped += 1
            _note(action, "records changed on both sides were skipped: choose a direction")
        except services.CouplingError as exc:
            action.failed += 1
            _note(action, exc.message)
        else:
            if synced.failed:
                action.failed += 1
            else:
                action.succeeded += 1


def bulk_run(*, action_id: int) -> BulkAction | None:
    """Carry out a queued bulk action (the task's body)."""
    action = _claim(action_id)
    if action is None:
        return None
    try:
        if action.kind == BulkAction.Kind.RETRY_ALL:
            result = services.retry_all(mapping=action.mapping, state=action.state or None)
            action.total = action.done = result.retried
            action.failed = result.failed
            action.succeeded = result.retried - min(result.failed, result.retried)
        else:
            items = list(action.items)
            while action.done < len(items):
                part = items[action.done : action.done + BULK_STEP]
                _step(action, part)
                action.done += len(part)
                action.save(update_fields=["done", "succeeded", "failed", "skipped", "message"])
    except (CrmUnavailable, NoConnection) as exc:
        return _finish(action, CouplingRun.Status.FAILED, _("stopped: %(error)s") % {"error": exc})
    except BaseException as exc:
        _finish(action, CouplingRun.Status.FAILED, _("interrupted: %(error)r") % {"error": exc})
        raise
    return _finish(action, CouplingRun.Status.SUCCEEDED, action.message)


def _finish(action: BulkAction, status: str, message: str) -> BulkAction:
    action.status = status
    action.message = message
    action.finished_at = timezone.now()
    action.save()
    return action
