"""Writes of the setup: applying a validated setup, saving the connection page, redeploying the
solution, enabling with the default synchronization setup.

Everything here takes input that `validation` has accepted; the wizard, the connection page and
`setup_connection` call the same functions, so they save the same way.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import services as account_services
from connection import selectors as connection_selectors
from connection import services as connection_services
from connection.errors import ConnectionProblem
from connection.models import ConnectionChange, CrmConnection, OwnerMode
from connection.services import Actor
from dataverse.client import ConnectionSettings
from syncjobs import services as sync_services

from . import deploy
from .validation import (
    AREAS,
    AVAILABILITY,
    SALES_ORDERS,
    SetupInput,
    ValidSetup,
    VerifiedConnection,
    connection_verify,
    setup_validate,
)

logger = logging.getLogger(__name__)


def sync_options(*, connection: CrmConnection) -> sync_services.DefaultSetupOptions:
    return sync_services.default_setup_options(connection=connection)


def _erp_url() -> str:
    return connection_selectors.availability_service_url().rsplit("/odata/", 1)[0] + "/"


def _crm_record_write(
    *, connection: CrmConnection, settings_: ConnectionSettings | None, required: bool
) -> bool:
    """Write the CRM's connection record; False when the CRM has no such table yet (no
    solution) and the caller can do without it (`required` False)."""
    user = connection.availability_user if connection.availability_enabled else None
    assert settings_ is not None  # the caller holds a saved or verified connection
    try:
        deploy.crm_connection_record_write(
            connection=settings_,
            service_url=connection.availability_service_url,
            username=user.get_username() if user is not None else "",
            key=connection.availability_key if user is not None else "",
            erp_url=_erp_url(),
        )
    except ConnectionProblem as problem:
        if problem.code == "solution_missing" and not required:
            return False
        raise
    return True


def _verified_apply(connection: CrmConnection, verified: VerifiedConnection) -> None:
    """The credentials the CRM accepted, and what its check established."""
    connection.environment_url = verified.environment_url
    connection.token_url = verified.token_url
    connection.client_id = verified.client_id
    connection.client_secret = verified.client_secret
    connection.integration_user_id = verified.integration_user.id
    connection.integration_user_name = verified.integration_user.name
    connection.organization_id = verified.check.organization_id
    connection.crm_base_currency = verified.check.base_currency


def _choices_apply(connection: CrmConnection, setup: ValidSetup) -> None:
    """Areas, owner, sales orders and item availability, as validated. A new web service key is
    generated here when asked for (inside the caller's transaction, so a refusal by the CRM
    afterwards rolls it back)."""
    connection.sync_areas = list(setup.areas)
    default_owner = setup.owner_mode == OwnerMode.DEFAULT_OWNER
    connection.owner_mode = setup.owner_mode
    connection.default_owner_id = setup.default_owner_id if default_owner else None
    connection.default_owner_name = setup.default_owner_name if default_owner else ""
    orders = setup.sales_order_integration
    connection.sales_order_integration = orders
    # No processor chosen: the integration user (the connection's, once verified is applied).
    processor_id = setup.order_processor_id or connection.integration_user_id
    processor_name = setup.order_processor_name or connection.integration_user_name
    connection.order_processor_id = processor_id if orders else None
    connection.order_processor_name = processor_name if orders else ""
    connection.auto_create_sales_orders = orders and setup.auto_create_sales_orders
    connection.availability_enabled = setup.availability_enabled
    if setup.availability_enabled:
        assert setup.availability_user is not None  # validation guarantees it
        connection.availability_user = setup.availability_user
        # Otherwise the key entered, or the stored one kept (validation checked either).
        connection.availability_key = (
            account_services.webservice_key_generate(user=setup.availability_user)
            if setup.availability_generate_key
            else setup.availability_key
        )
        connection.availability_service_url = connection_selectors.availability_service_url()
    else:
        connection.availability_user = None
        connection.availability_key = ""
        connection.availability_service_url = ""


@sensitive_variables("setup")
def setup_apply(*, setup: ValidSetup, actor: Actor, source: str) -> CrmConnection:
    """Finish the setup: write the CRM connection record (when the solution is there), save the
    connection (secrets encrypted), create the default mappings and jobs when none exist, and
    enable the integration."""
    verified = setup.connection
    user = verified.integration_user
    with transaction.atomic():
        connection = connection_services.connection_for_update()
        before = connection_services.connection_snapshot(connection)
        if connection is None:
            connection = CrmConnection(pk=CrmConnection.SINGLETON_ID)
        _verified_apply(connection, verified)
        if setup.solution_imported:
            connection.solution_imported = True
            connection.solution_imported_at = timezone.now()
        connection.roles_assigned = not user.missing_roles
        _choices_apply(connection, setup)
        connection.is_enabled = setup.enable
        if setup.enable:
            connection.disable_reason = ""
            connection.disabled_at = None
        # The CRM is written before anything is saved: if it refuses, the transaction rolls back
        # (a generated key included) and the user can retry. A CRM without the solution has no
        # record to write: the setup completes and a redeploy writes it later.
        written = _crm_record_write(
            connection=connection,
            settings_=verified.settings,
            required=setup.solution_imported,
        )
        connection.crm_record_written_at = timezone.now() if written else None
        connection.crm_users = [u.to_json() for u in setup.crm_users]
        connection.crm_users_read_at = timezone.now() if setup.crm_users else None
        connection.save()
        connection_services.connection_history_record(
            before=before, connection=connection, actor=actor, source=source
        )
        sync_services.default_setup_create_if_missing(options=sync_options(connection=connection))
    return connection


# --- The connection page ------------------------------------------------------------------------


def _credentials_changed(connection: CrmConnection, data: SetupInput) -> bool:
    return (data.environment_url, data.token_url, data.client_id, data.client_secret) != (
        connection.environment_url,
        connection.token_url,
        connection.client_id,
        connection.client_secret,
    )


def saved_users(connection: CrmConnection) -> list[connection_selectors.CrmUser]:
    """The cached CRM users, plus the saved owner and order processor: a choice saved earlier
    stays valid even when the CRM list could not be read since."""
    users = connection_selectors.crm_users_cached(connection=connection)
    known = {u.id for u in users}
    for user_id, name in (
        (connection.default_owner_id, connection.default_owner_name),
        (connection.order_processor_id, connection.order_processor_name),
    ):
        if user_id and user_id not in known:
            users.append(connection_selectors.CrmUser(id=user_id, name=name, email=""))
            known.add(user_id)
    return users


@sensitive_variables("data")
def connection_settings_save(*, data: SetupInput, actor: Actor) -> tuple[CrmConnection, str]:
    """Save the connection page. (connection, notice about URL normalisation).

    The CRM is checked only when the URLs, client id or secret changed; the CRM's connection
    record is written again only when the item availability settings changed. Raises
    SetupInvalid (per field) or ConnectionProblem.
    """
    connection = connection_services.connection_required()
    verified: VerifiedConnection | None = None
    notice = ""
    if _credentials_changed(connection, data):
        verified = connection_verify(data=data)
        notice = verified.notice
    users = saved_users(connection)
    setup = setup_validate(
        data=data, verified=verified, crm_users=users, sections=(AREAS, AVAILABILITY, SALES_ORDERS)
    )
    with transaction.atomic():
        connection = CrmConnection.objects.select_for_update().get(pk=CrmConnection.SINGLETON_ID)
        before = connection_services.connection_snapshot(connection)
        if verified is not None:
            _verified_apply(connection, verified)
        _choices_apply(connection, setup)
        after = connection_services.connection_snapshot(connection)
        availability_fields = (
            "availability_enabled",
            "availability_user",
            "availability_key",
            "availability_service_url",
        )
        if any(before.get(n) != after.get(n) for n in availability_fields):
            written = _crm_record_write(
                connection=connection,
                settings_=connection_selectors.crm_connection_settings(interactive=True)
                if verified is None
                else verified.settings,
                required=connection.solution_imported,
            )
            connection.crm_record_written_at = timezone.now() if written else None
        connection.save()
        sync_services.non_mapping_jobs_reconcile(options=sync_options(connection=connection))
        connection_services.connection_history_record(
            before=before, connection=connection, actor=actor, source=ConnectionChange.Source.PAGE
        )
    return connection, notice


def integration_enable(*, actor: Actor, source: str) -> CrmConnection:
    """Enable the integration (tested again) and make sure its default setup exists."""
    connection = connection_services.connection_enable(actor=actor, source=source)
    sync_services.default_setup_create_if_missing(options=sync_options(connection=connection))
    return connection


@sensitive_variables("admin_password")
def connection_solution_redeploy(
    *, admin_username: str, admin_password: str, actor: Actor
) -> deploy.SolutionResult:
    """Import the solution again, assign the roles, and write the CRM's connection record (which
    a setup without the solution could not write)."""
    connection = connection_services.connection_required()
    settings_ = connection_selectors.crm_connection_settings(interactive=True)
    assert settings_ is not None
    check = connection_selectors.crm_connection_check(connection=settings_)
    result = deploy.solution_deploy(
        connection=settings_,
        admin_username=admin_username,
        admin_password=admin_password,
        integration_user_id=check.user_id,
    )
    with transaction.atomic():
        connection = CrmConnection.objects.select_for_update().get(pk=CrmConnection.SINGLETON_ID)
        before = connection_services.connection_snapshot(connection)
        connection.solution_imported = True
        connection.solution_imported_at = timezone.now()
        connection.roles_assigned = True
        _crm_record_write(
            connection=connection,
            settings_=settings_,
            required=True,
        )
        connection.crm_record_written_at = timezone.now()
        connection.save()
        connection_services.connection_history_record(
            before=before, connection=connection, actor=actor, source=ConnectionChange.Source.PAGE
        )
    return result


def connection_default_setup_reset(*, actor: Actor) -> int:
    """ "Use default synchronization setup": delete all mappings and jobs, recreate the defaults."""
    return sync_services.default_setup_restore_all(actor=actor, source=ConnectionChange.Source.PAGE)
