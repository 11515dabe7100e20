"""Writes: URL normalisation, solution deployment, saving and enabling the connection.

Shared by the wizard, the connection page and `manage.py setup_connection`, so that all three
validate the same way and say the same things.

The administrator password only ever lives in the arguments of `solution_deploy` /
`integration_roles_assign` for the duration of the call: it is not stored, queued or logged.
"""

import io
import ipaddress
import logging
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from dataverse import errors as dv
from dataverse.client import ConnectionSettings, DataverseClient
from syncjobs import services as sync_services

from . import selectors
from .errors import SetupProblem, problem_from_dataverse
from .models import ConnectionChange, CrmConnection, OwnerMode

logger = logging.getLogger(__name__)

SOLUTION_DIR = Path(__file__).resolve().parent / "solution"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


# --- URLs -------------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_url(*, raw: str, field_name: str) -> tuple[str, Any]:
    text = (raw or "").strip()
    if not text:
        raise SetupProblem(_("Enter a URL."), field=field_name, code="required")
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise SetupProblem(
            _("%(url)s is not a valid URL.") % {"url": raw.strip()},
            field=field_name,
            code="malformed",
        ) from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https"):
        raise SetupProblem(
            _("Only https:// URLs are supported (not %(scheme)s://).") % {"scheme": scheme},
            field=field_name,
            code="scheme",
        )
    valid_host = bool(host) and (_HOSTNAME.match(host) or _is_ip(host)) and " " not in text
    if not valid_host:
        raise SetupProblem(
            _("%(url)s is not a valid URL: the host name is missing or malformed.")
            % {"url": raw.strip()},
            field=field_name,
            code="malformed",
        )
    if scheme == "http" and not _is_loopback(host):
        raise SetupProblem(
            _(
                "The CRM must be reached over a secure connection: use https://. Plain http:// "
                "is accepted only for "
                "a CRM on this computer (127.0.0.1, localhost, ::1)."
            ),
            field=field_name,
            code="https_required",
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}", parts


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def environment_url_normalize(*, url: str) -> tuple[str, str]:
    """(normalised URL, notice). Trims, adds https://, drops a trailing slash and any path."""
    base, parts = _split_url(raw=url, field_name="environment_url")
    notice = ""
    if parts.path.strip("/") or parts.query or parts.fragment:
        notice = _(
            "The environment URL must not contain a path: %(removed)s was removed and %(url)s is "
            "used."
        ) % {
            "removed": (parts.path + ("?" + parts.query if parts.query else "")) or "/",
            "url": base,
        }
    return base, notice


def token_url_normalize(*, url: str) -> str:
    base, parts = _split_url(raw=url, field_name="token_url")
    return base + parts.path + ("?" + parts.query if parts.query else "")


# --- The integration solution -----------------------------------------------------------------


def solution_zip() -> bytes:
    """The integration solution package (solution.xml + customizations.xml) as a zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(SOLUTION_DIR.glob("*.xml")):
            archive.write(path, arcname=path.name)
    return buffer.getvalue()


@dataclass(frozen=True)
class SolutionResult:
    imported: bool
    import_job_id: str = ""
    roles_assigned: list[str] = field(default_factory=list)


@sensitive_variables("admin_password", "admin_connection")
def _admin_client(
    *, connection: ConnectionSettings, admin_username: str, admin_password: str
) -> DataverseClient:
    if not admin_username.strip() or not admin_password:
        raise SetupProblem(
            _("Enter the user name and password of a CRM administrator."),
            field="admin_password",
            code="required",
        )
    admin_connection = ConnectionSettings(
        environment_url=connection.environment_url,
        token_url=connection.token_url,
        client_id=connection.client_id,
        client_secret=connection.client_secret,
        username=admin_username.strip(),
        password=admin_password,
    )
    return DataverseClient(admin_connection)


def _roles_assign(*, client: DataverseClient, user_id: uuid.UUID) -> list[str]:
    current = list(
        client.iter_rows(
            f"systemusers({user_id})/systemuserroles_association", select=["roleid", "name"]
        )
    )
    present_ids = {uuid.UUID(str(r["roleid"])) for r in current if r.get("roleid")}
    present_names = {(r.get("name") or "").lower() for r in current}
    assigned = []
    for role_id, name in selectors.INTEGRATION_ROLES.items():
        if role_id in present_ids or name.lower() in present_names:
            continue
        target = role_id
        try:
            client.get("roles", role_id, select=["roleid", "name"])
        except dv.NotFound:
            # In a real organization the role copy of the user's business unit has another id.
            rows = list(
                client.iter_rows("roles", select=["roleid", "name"], filter=f"name eq '{name}'")
            )
            if not rows:
                raise SetupProblem(
                    _("The CRM has no role %(role)s. Import the integration solution first.")
                    % {"role": name},
                    code="role_missing",
                ) from None
            target = uuid.UUID(str(rows[0]["roleid"]))
        client.associate("systemusers", user_id, "systemuserroles_association", "roles", target)
        assigned.append(name)
    return assigned


@sensitive_variables("admin_password", "client")
def solution_deploy(
    *,
    connection: ConnectionSettings,
    admin_username: str,
    admin_password: str,
    integration_user_id: uuid.UUID,
    import_solution: bool = True,
) -> SolutionResult:
    """As a CRM administrator, once: import the solution (then check its import job) and give the
    integration user the Integration Administrator and Integration User roles."""
    client = _admin_client(
        connection=connection, admin_username=admin_username, admin_password=admin_password
    )
    import_job_id = ""
    try:
        if import_solution:
            result = client.import_solution(solution_zip())
            import_job_id = str(result.import_job_id)
            # import_solution has read the import job back; its outcome decides.
            if not result.success:
                raise SetupProblem(
                    _(
                        "The CRM did not complete the import of the integration solution (import "
                        "job %(id)s): %(msg)s"
                    )
                    % {"id": import_job_id, "msg": result.message},
                    code="import_failed",
                )
        assigned = _roles_assign(client=client, user_id=integration_user_id)
    except dv.DataverseError as exc:
        raise problem_from_dataverse(
            exc,
            environment_url=connection.environment_url,
            token_url=connection.token_url,
            admin=True,
        ) from None
    logger.info(
        "integration solution deployed (import job %s), roles assigned: %s", import_job_id, assigned
    )
    return SolutionResult(
        imported=import_solution, import_job_id=import_job_id, roles_assigned=assigned
    )


def crm_connection_record_write(
    *, connection: ConnectionSettings, service_url: str, username: str, key: str, erp_url: str
) -> None:
    """Upsert the single `erpcrm_connections` row the CRM uses to call the ERP (§6.1)."""
    client = DataverseClient(connection)
    data = {
        "erpcrm_name": "ERP",
        "erpcrm_erpwebclienturl": erp_url,
        "erpcrm_availabilityserviceurl": service_url,
        "erpcrm_availabilityusername": username,
        "erpcrm_availabilitykey": key,
    }
    try:
        rows = list(client.iter_rows("erpcrm_connections", select=["erpcrm_connectionid"]))
        if rows:
            client.update("erpcrm_connections", rows[0]["erpcrm_connectionid"], data)
        else:
            client.create("erpcrm_connections", data)
    except dv.NotFound:
        raise SetupProblem(
            _(
                "The CRM has no ERP connection table (erpcrm_connections): the integration "
                "solution is not imported. "
                "Import it (redeploy the integration solution) and try again."
            ),
            code="solution_missing",
        ) from None
    except dv.DataverseError as exc:
        raise problem_from_dataverse(exc, environment_url=connection.environment_url) from None


# --- Saving the connection ----------------------------------------------------------------------

# (model field, label) of every setting recorded in the history; secrets only as "changed".
TRACKED_FIELDS = [
    ("environment_url", gettext_lazy("environment URL")),
    ("token_url", gettext_lazy("token URL")),
    ("client_id", gettext_lazy("client id")),
    ("integration_user_name", gettext_lazy("integration user")),
    ("crm_base_currency", gettext_lazy("CRM base currency")),
    ("solution_imported", gettext_lazy("integration solution imported")),
    ("roles_assigned", gettext_lazy("integration roles assigned")),
    ("sync_areas", gettext_lazy("areas to synchronize")),
    ("owner_mode", gettext_lazy("owner of new CRM records")),
    ("default_owner_name", gettext_lazy("default owner")),
    ("availability_enabled", gettext_lazy("item availability web service published")),
    ("availability_user", gettext_lazy("item availability web service user")),
    ("availability_service_url", gettext_lazy("item availability service URL")),
    ("sales_order_integration", gettext_lazy("sales order integration")),
    ("order_processor_name", gettext_lazy("CRM user processing orders")),
    ("auto_create_sales_orders", gettext_lazy("automatically create sales orders")),
    ("is_enabled", gettext_lazy("integration enabled")),
    ("disable_reason", gettext_lazy("disable reason")),
]
SECRET_FIELDS = [
    ("client_secret", gettext_lazy("client secret")),
    ("availability_key", gettext_lazy("web service access key")),
]
CHANGED = "changed"
FIELD_LABELS = {
    **dict(TRACKED_FIELDS),
    **dict(SECRET_FIELDS),
    "synchronization_setup": gettext_lazy("synchronization setup"),
}


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, AbstractBaseUser):
        return value.get_username()
    return str(value)


def _snapshot(connection: CrmConnection | None) -> dict[str, Any]:
    if connection is None:
        return {}
    snap = {name: _display(getattr(connection, name)) for name, _label in TRACKED_FIELDS}
    snap["client_secret"] = connection.client_secret_encrypted and connection.client_secret
    snap["availability_key"] = connection.availability_key_encrypted and connection.availability_key
    return snap


def _history_record(
    *,
    before: dict[str, Any],
    connection: CrmConnection,
    actor: AbstractBaseUser | None,
    source: str,
) -> int:
    after = _snapshot(connection)
    rows = []
    for name, _label in TRACKED_FIELDS:
        if before.get(name, "") != after[name]:
            rows.append(
                ConnectionChange(
                    changed_by=actor,
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
                    changed_by=actor, source=source, field=name, old_value="", new_value=CHANGED
                )
            )
    ConnectionChange.objects.bulk_create(rows)
    return len(rows)


def _actor(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return user if user is not None and user.is_authenticated else None


def connection_settings_build(
    *, environment_url: str, token_url: str, client_id: str, client_secret: str
) -> ConnectionSettings:
    # A wrong URL should fail fast in an interactive setup, not after five retries.
    return ConnectionSettings(
        environment_url=environment_url,
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret,
        connect_timeout=5.0,
        read_timeout=60.0,
        max_attempts=1,
    )


@dataclass
class SetupData:
    """Everything the wizard (or setup_connection) collected, ready to be applied."""

    environment_url: str
    token_url: str
    client_id: str
    client_secret: str
    check: selectors.ConnectionCheck
    integration_user: selectors.IntegrationUser
    solution_imported: bool = False
    roles_assigned: bool = False
    areas: list[str] = field(default_factory=list)
    owner_mode: str = OwnerMode.SALESPERSON
    default_owner_id: uuid.UUID | None = None
    default_owner_name: str = ""
    availability_enabled: bool = False
    availability_user: AbstractBaseUser | None = None
    availability_key: str = ""
    availability_generate_key: bool = False
    sales_order_integration: bool = False
    order_processor_id: uuid.UUID | None = None
    order_processor_name: str = ""
    auto_create_sales_orders: bool = False
    enable: bool = True

    @property
    def connection(self) -> ConnectionSettings:
        return connection_settings_build(
            environment_url=self.environment_url,
            token_url=self.token_url,
            client_id=self.client_id,
            client_secret=self.client_secret,
        )


def sync_options(*, connection: CrmConnection) -> sync_services.DefaultSetupOptions:
    return sync_services.DefaultSetupOptions(
        areas=list(connection.sync_areas),
        owner_is_salesperson=connection.owner_mode == OwnerMode.SALESPERSON,
        default_owner_id=str(connection.default_owner_id or ""),
        sales_order_integration=connection.sales_order_integration,
        item_availability=connection.availability_enabled,
        auto_create_sales_orders=connection.auto_create_sales_orders,
        enabled=connection.is_enabled,
    )


@sensitive_variables("data", "key")
def setup_apply(*, data: SetupData, actor: AbstractBaseUser | None, source: str) -> CrmConnection:
    """Finish the setup: write the CRM connection record, save the connection (secrets
    encrypted), create the default mappings and jobs when none exist, enable the integration."""
    from accounts import services as account_services

    key = data.availability_key
    username = ""
    service_url = ""
    if data.availability_enabled:
        if data.availability_user is None:
            raise SetupProblem(
                _("Choose the ERP user whose web service access key the CRM uses."), code="required"
            )
        username = data.availability_user.get_username()
        service_url = selectors.availability_service_url()
    with transaction.atomic():
        if data.availability_enabled and data.availability_generate_key:
            key = account_services.webservice_key_generate(user=data.availability_user)
        # The CRM is written first: if it refuses, nothing is saved and the user can retry.
        crm_connection_record_write(
            connection=data.connection,
            service_url=service_url,
            username=username,
            key=key if data.availability_enabled else "",
            erp_url=selectors.availability_service_url().rsplit("/odata/", 1)[0] + "/",
        )
        connection = (
            CrmConnection.objects.select_for_update().filter(pk=CrmConnection.SINGLETON_ID).first()
        )
        before = _snapshot(connection)
        if connection is None:
            connection = CrmConnection(pk=CrmConnection.SINGLETON_ID)
        connection.environment_url = data.environment_url
        connection.token_url = data.token_url
        connection.client_id = data.client_id
        connection.client_secret = data.client_secret
        connection.integration_user_id = data.integration_user.id
        connection.integration_user_name = data.integration_user.name
        connection.organization_id = data.check.organization_id
        connection.crm_base_currency = data.check.base_currency
        if data.solution_imported:
            connection.solution_imported = True
            connection.solution_imported_at = timezone.now()
        connection.roles_assigned = data.roles_assigned or not data.integration_user.missing_roles
        connection.sync_areas = list(data.areas)
        connection.owner_mode = data.owner_mode
        connection.default_owner_id = (
            data.default_owner_id if data.owner_mode == OwnerMode.DEFAULT_OWNER else None
        )
        connection.default_owner_name = (
            data.default_owner_name if data.owner_mode == OwnerMode.DEFAULT_OWNER else ""
        )
        connection.availability_enabled = data.availability_enabled
        connection.availability_user = data.availability_user if data.availability_enabled else None
        connection.availability_key = key if data.availability_enabled else ""
        connection.availability_service_url = service_url
        connection.sales_order_integration = data.sales_order_integration
        connection.order_processor_id = (
            data.order_processor_id if data.sales_order_integration else None
        )
        connection.order_processor_name = (
            data.order_processor_name if data.sales_order_integration else ""
        )
        connection.auto_create_sales_orders = (
            data.sales_order_integration and data.auto_create_sales_orders
        )
        connection.is_enabled = data.enable
        if data.enable:
            connection.disable_reason = ""
            connection.disabled_at = None
        connection.crm_record_written_at = timezone.now()
        connection.save()
        _history_record(before=before, connection=connection, actor=_actor(actor), source=source)
        sync_services.default_setup_create_if_missing(options=sync_options(connection=connection))
    return connection


# --- Enabling, disabling, editing ---------------------------------------------------------------


def _connection_required() -> CrmConnection:
    connection = selectors.crm_connection_get()
    if connection is None:
        raise SetupProblem(
            _("No CRM connection is set up yet. Run the assisted setup first."),
            code="no_connection",
        )
    return connection


def connection_enable(
    *, actor: AbstractBaseUser | None, source: str = ConnectionChange.Source.PAGE
) -> CrmConnection:
    """Test the connection and the integration user again, then resume every scheduled job."""
    connection = _connection_required()
    settings_ = selectors.crm_connection_settings(interactive=True)
    check = selectors.crm_connection_check(connection=settings_)
    user = selectors.integration_user_check(connection=settings_, user_id=check.user_id)
    if user.missing_roles:
        raise SetupProblem(
            _(
                "The integration user %(name)s lacks the roles %(roles)s. Redeploy the "
                "integration solution to assign "
                "them."
            )
            % {"name": user.name, "roles": ", ".join(user.missing_role_names)},
            code="roles_missing",
        )
    with transaction.atomic():
        before = _snapshot(connection)
        connection.is_enabled = True
        connection.disable_reason = ""
        connection.disabled_at = None
        connection.integration_user_id = user.id
        connection.integration_user_name = user.name
        connection.crm_base_currency = check.base_currency
        connection.roles_assigned = True
        connection.save()
        _history_record(before=before, connection=connection, actor=_actor(actor), source=source)
        sync_services.default_setup_create_if_missing(options=sync_options(connection=connection))
        sync_services.integration_jobs_set_enabled(enabled=True)
    return connection


def connection_disable(
    *,
    reason: str = "",
    actor: AbstractBaseUser | None = None,
    source: str = ConnectionChange.Source.SYSTEM,
) -> CrmConnection | None:
    """Disable the integration and pause every scheduled job. Fatal errors (for example the
    client's Forbidden: missing privileges) call this with a reason the connection page shows."""
    with transaction.atomic():
        connection = (
            CrmConnection.objects.select_for_update().filter(pk=CrmConnection.SINGLETON_ID).first()
        )
        if connection is None:
            return None
        before = _snapshot(connection)
        connection.is_enabled = False
        connection.disable_reason = reason
        connection.disabled_at = timezone.now()
        connection.save()
        _history_record(before=before, connection=connection, actor=_actor(actor), source=source)
        sync_services.integration_jobs_set_enabled(enabled=False)
    if reason:
        logger.warning("CRM integration disabled: %s", reason)
    return connection


def connection_disable_for_error(*, error: dv.DataverseError) -> CrmConnection | None:
    """Disable automatically after a fatal CRM error, with a reason an administrator can act on."""
    if isinstance(error, dv.Forbidden):
        reason = _(
            "The integration was disabled because the integration user has insufficient "
            "privileges to run the "
            "synchronization: %(detail)s Give the user the Integration Administrator and "
            "Integration User roles "
            "(redeploy the integration solution), then enable the integration again."
        ) % {"detail": error.message}
    else:
        reason = _(
            "The integration was disabled due to the following error: %(detail)s Please contact "
            "your system "
            "administrator."
        ) % {"detail": str(error)}
    return connection_disable(reason=reason)


AVAILABILITY_FIELDS = (
    "availability_enabled",
    "availability_user",
    "availability_key",
    "availability_service_url",
)


@sensitive_variables("client_secret", "availability_key", "values")
def connection_settings_update(
    *,
    values: dict[str, Any],
    client_secret: str = "",
    availability_key: str = "",
    generate_availability_key: bool = False,
    actor: AbstractBaseUser | None,
    check: bool = True,
) -> CrmConnection:
    """Save edited settings from the connection page. A blank secret keeps the stored one.

    When the URL, token URL, client id or secret changed, the connection is tested first; when
    the item availability settings changed, the CRM's connection record is written again.
    """
    from accounts import services as account_services

    _connection_required()
    with transaction.atomic():
        connection = CrmConnection.objects.select_for_update().get(pk=CrmConnection.SINGLETON_ID)
        before = _snapshot(connection)
        for name, value in values.items():
            setattr(connection, name, value)
        if client_secret:
            connection.client_secret = client_secret
        credentials_changed = any(
            before.get(n) != _display(getattr(connection, n))
            for n in ("environment_url", "token_url", "client_id")
        ) or bool(client_secret and client_secret != before.get("client_secret"))
        settings_ = connection_settings_build(
            environment_url=connection.environment_url,
            token_url=connection.token_url,
            client_id=connection.client_id,
            client_secret=connection.client_secret,
        )
        if check and credentials_changed:
            result = selectors.crm_connection_check(connection=settings_)
            user = selectors.integration_user_check(connection=settings_, user_id=result.user_id)
            connection.integration_user_id = user.id
            connection.integration_user_name = user.name
            connection.crm_base_currency = result.base_currency
            connection.organization_id = result.organization_id
        if connection.availability_enabled:
            if connection.availability_user is None:
                raise SetupProblem(
                    _("Choose the ERP user whose web service access key the CRM uses."),
                    field="availability_user",
                )
            if generate_availability_key:
                connection.availability_key = account_services.webservice_key_generate(
                    user=connection.availability_user
                )
            elif availability_key:
                connection.availability_key = availability_key
            connection.availability_service_url = selectors.availability_service_url()
        else:
            connection.availability_user = None
            connection.availability_key = ""
            connection.availability_service_url = ""
        after = _snapshot(connection)
        if any(before.get(n) != after.get(n) for n in AVAILABILITY_FIELDS):
            crm_connection_record_write(
                connection=settings_,
                service_url=connection.availability_service_url,
                username=connection.availability_user.get_username()
                if connection.availability_user
                else "",
                key=connection.availability_key,
                erp_url=selectors.availability_service_url().rsplit("/odata/", 1)[0] + "/",
            )
            connection.crm_record_written_at = timezone.now()
        connection.save()
        sync_services.non_mapping_jobs_reconcile(options=sync_options(connection=connection))
        _history_record(
            before=before,
            connection=connection,
            actor=_actor(actor),
            source=ConnectionChange.Source.PAGE,
        )
    return connection


@sensitive_variables("admin_password")
def connection_solution_redeploy(
    *, admin_username: str, admin_password: str, actor: AbstractBaseUser | None
) -> SolutionResult:
    connection = _connection_required()
    settings_ = selectors.crm_connection_settings(interactive=True)
    check = selectors.crm_connection_check(connection=settings_)
    result = solution_deploy(
        connection=settings_,
        admin_username=admin_username,
        admin_password=admin_password,
        integration_user_id=check.user_id,
    )
    before = _snapshot(connection)
    connection.solution_imported = True
    connection.solution_imported_at = timezone.now()
    connection.roles_assigned = True
    connection.save()
    _history_record(
        before=before,
        connection=connection,
        actor=_actor(actor),
        source=ConnectionChange.Source.PAGE,
    )
    return result


def connection_default_setup_reset(*, actor: AbstractBaseUser | None) -> int:
    """ "Use default synchronization setup": delete all mappings and jobs, recreate the defaults."""
    connection = _connection_required()
    mappings = sync_services.default_setup_reset(options=sync_options(connection=connection))
    ConnectionChange.objects.create(
        changed_by=_actor(actor),
        source=ConnectionChange.Source.PAGE,
        field="synchronization_setup",
        old_value="",
        new_value=_("reset to default (%(count)s mappings)") % {"count": len(mappings)},
    )
    return len(mappings)


def encryption_keys_rotate() -> int:
    """Re-encrypt every stored secret with the newest key. Returns how many values were rotated."""
    from core import crypto

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
