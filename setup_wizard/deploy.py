"""Deploying the integration solution as a CRM administrator, and the CRM's connection record.

The administrator password only ever lives in the arguments of `solution_deploy` for the
duration of the call: it is not stored, queued, cached or logged (its client is not the cached
one of connection.clients, and is closed at once).

The solution is optional (docs/reference/business-central.md §1.4, §1.8): without it the
integration runs, but the CRM has no connection record (so no item availability inside the CRM)
and no integration roles; both arrive with a later redeploy.
"""

import dataclasses
import logging
import uuid
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from connection import selectors as connection_selectors
from connection.clients import client_get
from connection.errors import ConnectionProblem, problem_from_dataverse
from dataverse import errors as dv
from dataverse.client import ConnectionSettings, DataverseClient

from .solution_package import solution_zip

logger = logging.getLogger(__name__)


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
        raise ConnectionProblem(
            _("Enter the user name and password of a CRM administrator."),
            field="admin_password",
            code="required",
        )
    # The caller's settings with the administrator's credentials: the same URLs, timeouts and
    # outbound-address policy. Not the cached client of connection.clients: the password must
    # not outlive this call.
    admin_connection = dataclasses.replace(
        connection, username=admin_username.strip(), password=admin_password
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
    for role_id, name in connection_selectors.INTEGRATION_ROLES.items():
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
                raise ConnectionProblem(
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
                raise ConnectionProblem(
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
    finally:
        client.close()
    logger.info(
        "integration solution deployed (import job %s), roles assigned: %s", import_job_id, assigned
    )
    return SolutionResult(
        imported=import_solution, import_job_id=import_job_id, roles_assigned=assigned
    )


def crm_connection_record_write(
    *, connection: ConnectionSettings, service_url: str, username: str, key: str, erp_url: str
) -> None:
    """Upsert the single `erpcrm_connections` row the CRM uses to call the ERP (our
    `nav_connection`, docs/reference/business-central.md §6.1).

    Raises ConnectionProblem with code "solution_missing" when the CRM has no such table (the
    solution is not imported); callers that can do without it catch that code.
    """
    client = client_get(settings=connection)
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
        raise ConnectionProblem(
            _(
                "The CRM has no ERP connection table (erpcrm_connections): the integration "
                "solution is not imported. "
                "Import it (redeploy the integration solution) and try again."
            ),
            code="solution_missing",
        ) from None
    except dv.DataverseError as exc:
        raise problem_from_dataverse(exc, environment_url=connection.environment_url) from None
