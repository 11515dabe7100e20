"""Writes: saving the connection with its change history, enabling and disabling the
integration, and re-encrypting stored secrets.

The history records every tracked setting that changed, and secrets only as "changed": the
connection page shows it to administrators, so a secret value must never reach it.
"""

import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import PeriodicTask

from dataverse import errors as dv

from . import crypto, selectors
from .errors import ConnectionProblem
from .models import SECRET_FIELDS, TRACKED_FIELDS, ConnectionChange, CrmConnection

logger = logging.getLogger(__name__)

CHANGED = "changed"

# Every scheduled integration job carries this prefix, so "x of y", pause and resume find them
# without touching other periodic tasks (such as the worker heartbeat). The jobs themselves are
# created by syncjobs; pausing them belongs here, with the switch that turns the integration off.
JOB_NAME_PREFIX = "erpcrm integration: "


# --- History ----------------------------------------------------------------------------------


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, AbstractBaseUser):
        return value.get_username()
    return str(value)


def connection_snapshot(connection: CrmConnection | None) -> dict[str, Any]:
    """The tracked settings as displayed text, plus the secrets (for comparison only)."""
    if connection is None:
        return {}
    snap = {name: _display(getattr(connection, name)) for name, _label in TRACKED_FIELDS}
    snap["client_secret"] = connection.client_secret_encrypted and connection.client_secret
    snap["availability_key"] = connection.availability_key_encrypted and connection.availability_key
    return snap


# Who did something: a signed-in user, or nobody (a command, the system, an anonymous request).
Actor = AbstractBaseUser | AnonymousUser | None


def actor_or_none(user: Actor) -> User | None:
    # The project uses Django's own user model (AUTH_USER_MODEL is not swapped).
    return user if isinstance(user, User) and user.is_authenticated else None


def connection_history_record(
    *,
    before: dict[str, Any],
    connection: CrmConnection,
    actor: Actor,
    source: str,
) -> int:
    """One history row per changed setting. Returns how many were written."""
    after = connection_snapshot(connection)
    rows = []
    for name, _label in TRACKED_FIELDS:
        if before.get(name, "") != after[name]:
            rows.append(
                ConnectionChange(
                    changed_by=actor_or_none(actor),
                    source=source,
                    field=name,
                    old_value=before.get(name, ""),
                    new_value=after[name],
                )
            )
    for name, _label in SECRET_FIELDS:
        if (before.get(name) or "") != (after[name] or ""):
            rows.append(
                ConnectionChange(
                    changed_by=actor_or_none(actor),
                    source=source,
                    field=name,
                    old_value="",
                    new_value=CHANGED,
                )
            )
    ConnectionChange.objects.bulk_create(rows)
    return len(rows)


def connection_event_record(
    *, field: str, new_value: str, actor: Actor, source: str
) -> ConnectionChange:
    """A history row for something that is not a setting (e.g. "synchronization setup")."""
    return ConnectionChange.objects.create(
        changed_by=actor_or_none(actor),
        source=source,
        field=field,
        old_value="",
        new_value=new_value,
    )


def connection_required() -> CrmConnection:
    connection = selectors.crm_connection_get()
    if connection is None:
        raise ConnectionProblem(
            _("No CRM connection is set up yet. Run the assisted setup first."),
            code="no_connection",
        )
    return connection


def connection_for_update() -> CrmConnection | None:
    """The connection row, locked until the surrounding transaction ends."""
    return CrmConnection.objects.select_for_update().filter(pk=CrmConnection.SINGLETON_ID).first()


# --- Scheduled jobs ---------------------------------------------------------------------------


def integration_jobs_set_enabled(*, enabled: bool) -> int:
    """Pause or resume every scheduled integration job. Returns how many were changed."""
    found = PeriodicTask.objects.filter(name__startswith=JOB_NAME_PREFIX).exclude(enabled=enabled)
    if enabled:
        # The job of a mapping switched off on the synchronization page stays paused. The
        # reverse name belongs to syncjobs' IntegrationTableMapping.periodic_task (a lookup by
        # name: this layer does not import syncjobs).
        found = found.exclude(integration_table_mapping__enabled=False)
        # Nor does the job of a job queue entry paused, on hold or in error (the reverse name
        # of syncjobs' JobQueueEntry.periodic_task).
        found = found.exclude(job_queue_entry__status__in=("on_hold", "error"))
    tasks = list(found)
    for task in tasks:
        # save() (not a bulk update) so django_celery_beat notices the schedule change.
        task.enabled = enabled
        task.save(update_fields=["enabled"])
    return len(tasks)


# --- Testing, enabling, disabling -------------------------------------------------------------


def connection_test(
    *, connection: CrmConnection
) -> tuple[selectors.ConnectionCheck, selectors.IntegrationUser]:
    """WhoAmI, the currency check and the integration user check against the saved settings."""
    settings_ = selectors.crm_connection_settings(interactive=True)
    assert settings_ is not None  # the caller holds the saved connection
    check = selectors.crm_connection_check(connection=settings_)
    user = selectors.integration_user_check(connection=settings_, user_id=check.user_id)
    return check, user


def connection_enable(*, actor: Actor, source: str) -> CrmConnection:
    """Test the connection and the integration user again, then resume every scheduled job."""
    connection = connection_required()
    check, user = connection_test(connection=connection)
    # The roles come with the integration solution: required once it is imported (or the CRM has
    # them anyway), not for an integration set up without it.
    if user.missing_roles and (
        connection.solution_imported
        or selectors.integration_roles_available(
            connection=selectors.crm_connection_settings(interactive=True)  # type: ignore[arg-type]
        )
    ):
        raise ConnectionProblem(
            _(
                "The integration user %(name)s lacks the roles %(roles)s. Redeploy the "
                "integration solution to assign them."
            )
            % {"name": user.name, "roles": ", ".join(user.missing_role_names)},
            code="roles_missing",
        )
    with transaction.atomic():
        connection = connection_for_update() or connection
        before = connection_snapshot(connection)
        connection.is_enabled = True
        connection.disable_reason = ""
        connection.disabled_at = None
        connection.integration_user_id = user.id
        connection.integration_user_name = user.name
        connection.crm_base_currency = check.base_currency
        connection.roles_assigned = True
        connection.save()
        connection_history_record(before=before, connection=connection, actor=actor, source=source)
        integration_jobs_set_enabled(enabled=True)
    return connection


def connection_disable(
    *,
    reason: str = "",
    actor: Actor = None,
    source: str = ConnectionChange.Source.SYSTEM,
) -> CrmConnection | None:
    """Disable the integration and pause every scheduled job. Fatal errors (for example the
    client's Forbidden: missing privileges) call this with a reason the connection page shows."""
    with transaction.atomic():
        connection = connection_for_update()
        if connection is None:
            return None
        before = connection_snapshot(connection)
        connection.is_enabled = False
        connection.disable_reason = reason
        connection.disabled_at = timezone.now()
        connection.save()
        connection_history_record(before=before, connection=connection, actor=actor, source=source)
        integration_jobs_set_enabled(enabled=False)
    if reason:
        logger.warning("CRM integration disabled: %s", reason)
    return connection


def connection_disable_for_error(*, error: dv.DataverseError) -> CrmConnection | None:
    """Disable automatically after a fatal CRM error, with a reason an administrator can act on."""
    if isinstance(error, dv.Forbidden):
        reason = _(
            "The integration was disabled because the integration user has insufficient "
            "privileges to run the synchronization: %(detail)s Give the user the Integration "
            "Administrator and Integration User roles (redeploy the integration solution), then "
            "enable the integration again."
        ) % {"detail": error.message}
    else:
        reason = _(
            "The integration was disabled due to the following error: %(detail)s Please contact "
            "your system administrator."
        ) % {"detail": str(error)}
    return connection_disable(reason=reason)


# --- CRM users --------------------------------------------------------------------------------


def crm_users_store(*, connection: CrmConnection, users: list[selectors.CrmUser]) -> None:
    connection.crm_users = [u.to_json() for u in users]
    connection.crm_users_read_at = timezone.now()
    connection.save(update_fields=["crm_users", "crm_users_read_at", "updated_at"])


def crm_users_refresh(*, connection: CrmConnection) -> list[selectors.CrmUser]:
    """Read the enabled CRM users again (the connection page's "Refresh" action)."""
    settings_ = selectors.crm_connection_settings(interactive=True)
    assert settings_ is not None
    users = selectors.crm_user_list(connection=settings_)
    crm_users_store(connection=connection, users=users)
    return users


# --- Secrets at rest --------------------------------------------------------------------------


def encryption_keys_rotate() -> int:
    """Re-encrypt every stored secret with the newest key. Returns how many values were rotated."""
    count = 0
    with transaction.atomic():
        for connection in CrmConnection.objects.select_for_update():
            for name in ("client_secret_encrypted", "availability_key_encrypted"):
                value = getattr(connection, name)
                if value:
                    setattr(connection, name, crypto.rotate(value))
                    count += 1
            connection.save(update_fields=["client_secret_encrypted", "availability_key_encrypted"])
    return count
