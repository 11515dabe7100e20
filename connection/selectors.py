"""Reads: the saved connection, and checks that read the CRM through the Dataverse client.

The checks raise ConnectionProblem with a message a person can act on; they reach the CRM
through the process's one client per connection (connection.clients).
"""

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from dataverse import errors as dv
from dataverse.client import ConnectionSettings

from .addresses import address_policy
from .clients import client_get
from .errors import ConnectionProblem, problem_from_dataverse
from .models import ConnectionChange, CrmConnection

INTEGRATION_ADMINISTRATOR_ROLE = uuid.UUID("8c8d4f51-a72b-e511-80d9-3863bb349780")
INTEGRATION_USER_ROLE = uuid.UUID("6f960e32-a72b-e511-80d9-3863bb349780")
PRODUCT_AVAILABILITY_ROLE = uuid.UUID("a6e1ba54-a72b-e511-80d9-3863bb349780")
INTEGRATION_ROLES = {
    INTEGRATION_ADMINISTRATOR_ROLE: "Integration Administrator",
    INTEGRATION_USER_ROLE: "Integration User",
}
SYSTEM_ADMINISTRATOR_ROLE_NAME = "System Administrator"


def crm_connection_get() -> CrmConnection | None:
    return CrmConnection.objects.filter(pk=CrmConnection.SINGLETON_ID).first()


def integration_enabled() -> bool:
    """Is there a connection, and is the integration switched on (its jobs may run)?"""
    connection = crm_connection_get()
    return bool(connection and connection.is_enabled)


def crm_connection_settings(*, interactive: bool = False) -> ConnectionSettings | None:
    """The saved connection's settings with the decrypted client secret, or None.

    `interactive` settings fail fast (one attempt, short connect timeout) for pages a person waits
    on; background jobs keep the client's retries.
    """
    connection = crm_connection_get()
    if connection is None:
        return None
    return connection_settings_build(
        environment_url=connection.environment_url,
        token_url=connection.token_url,
        client_id=connection.client_id,
        client_secret=connection.client_secret,
        interactive=interactive,
    )


def connection_settings_build(
    *,
    environment_url: str,
    token_url: str,
    client_id: str,
    client_secret: str,
    interactive: bool = True,
) -> ConnectionSettings:
    """Client settings for these credentials. Interactive ones fail fast: a wrong URL typed by a
    person waiting on a page should fail in seconds, not after five retries."""
    settings_ = ConnectionSettings(
        environment_url=environment_url,
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret,
        address_policy=address_policy(),
    )
    if interactive:
        settings_ = dataclasses.replace(
            settings_, connect_timeout=5.0, read_timeout=60.0, max_attempts=1
        )
    return settings_


def connection_change_list(*, limit: int = 100) -> QuerySet[ConnectionChange]:
    return ConnectionChange.objects.select_related("changed_by")[:limit]


def availability_service_url() -> str:
    return str(settings.ERP_PUBLIC_URL).rstrip("/") + "/odata/"


@dataclass(frozen=True)
class ConnectionCheck:
    """What WhoAmI and the currency check established for one set of credentials."""

    user_id: uuid.UUID
    business_unit_id: uuid.UUID
    organization_id: uuid.UUID
    base_currency: str
    base_currency_name: str

    def to_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> "ConnectionCheck":
        return cls(
            user_id=uuid.UUID(data["user_id"]),
            business_unit_id=uuid.UUID(data["business_unit_id"]),
            organization_id=uuid.UUID(data["organization_id"]),
            base_currency=data["base_currency"],
            base_currency_name=data["base_currency_name"],
        )


def crm_connection_check(*, connection: ConnectionSettings) -> ConnectionCheck:
    """WhoAmI, then the currency check (docs/reference/business-central.md §1.6, steps 2 and 4).

    Raises ConnectionProblem.
    """
    client = client_get(settings=connection)
    try:
        me = client.whoami()
        currency = client.organization_base_currency()
    except dv.DataverseError as exc:
        raise problem_from_dataverse(
            exc, environment_url=connection.environment_url, token_url=connection.token_url
        ) from None
    local = settings.ERP_LOCAL_CURRENCY.upper()
    if currency.iso_code.upper() != local:
        raise ConnectionProblem(
            _(
                "The ERP's local currency is %(local)s, but the base currency of the CRM "
                "organization is %(crm)s "
                "(%(name)s). They must be the same, because amounts are exchanged in the local "
                "currency. Connect to a "
                "CRM organization whose base currency is %(local)s (the base currency of a "
                "Dataverse organization "
                "cannot be changed after it is created), or, if the ERP's local currency is "
                "wrong, set "
                "ERP_LOCAL_CURRENCY to %(crm)s and restart the ERP."
            )
            % {"local": local, "crm": currency.iso_code, "name": currency.name},
            code="currency_mismatch",
        )
    return ConnectionCheck(
        user_id=me.user_id,
        business_unit_id=me.business_unit_id,
        organization_id=me.organization_id,
        base_currency=currency.iso_code,
        base_currency_name=currency.name,
    )


@dataclass(frozen=True)
class IntegrationUser:
    id: uuid.UUID
    name: str
    email: str
    role_ids: set[uuid.UUID] = field(default_factory=set)
    role_names: set[str] = field(default_factory=set)

    @property
    def missing_roles(self) -> list[uuid.UUID]:
        present_names = {n.lower() for n in self.role_names}
        return [
            role_id
            for role_id, name in INTEGRATION_ROLES.items()
            if role_id not in self.role_ids and name.lower() not in present_names
        ]

    @property
    def missing_role_names(self) -> list[str]:
        return [INTEGRATION_ROLES[r] for r in self.missing_roles]

    def to_json(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "name": self.name,
            "email": self.email,
            "role_ids": sorted(str(r) for r in self.role_ids),
            "role_names": sorted(self.role_names),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "IntegrationUser":
        return cls(
            id=uuid.UUID(data["id"]),
            name=data["name"],
            email=data["email"],
            role_ids={uuid.UUID(r) for r in data["role_ids"]},
            role_names=set(data["role_names"]),
        )


def integration_user_check(
    *, connection: ConnectionSettings, user_id: uuid.UUID
) -> IntegrationUser:
    """The integration user must exist, be enabled and not be a System Administrator
    (docs/reference/business-central.md §1.6 step 7).

    Missing integration roles are not an error here: the caller assigns them with admin rights.
    """
    client = client_get(settings=connection)
    try:
        row = client.get(
            "systemusers",
            user_id,
            select=["fullname", "internalemailaddress", "domainname", "isdisabled"],
        )
        roles = list(
            client.iter_rows(
                f"systemusers({user_id})/systemuserroles_association", select=["roleid", "name"]
            )
        )
    except dv.NotFound:
        raise ConnectionProblem(
            _("The integration user (id %(id)s) does not exist in the CRM.") % {"id": user_id},
            code="user_missing",
        ) from None
    except dv.DataverseError as exc:
        raise problem_from_dataverse(exc, environment_url=connection.environment_url) from None
    if row is None:  # a 204 where the row was expected: treat it as absent
        raise ConnectionProblem(
            _("The integration user (id %(id)s) does not exist in the CRM.") % {"id": user_id},
            code="user_missing",
        )
    name = row.get("fullname") or row.get("domainname") or str(user_id)
    user = IntegrationUser(
        id=user_id,
        name=name,
        email=row.get("internalemailaddress") or row.get("domainname") or "",
        role_ids={uuid.UUID(str(r["roleid"])) for r in roles if r.get("roleid")},
        role_names={r.get("name") or "" for r in roles},
    )
    if row.get("isdisabled"):
        raise ConnectionProblem(
            _(
                "The integration user %(name)s is disabled in the CRM. Enable the user and try "
                "again."
            )
            % {"name": name},
            code="user_disabled",
        )
    if SYSTEM_ADMINISTRATOR_ROLE_NAME.lower() in {n.lower() for n in user.role_names}:
        raise ConnectionProblem(
            _(
                "The integration user %(name)s has the System Administrator role. The "
                "integration must run as a "
                "dedicated user without System Administrator: create an application user with "
                "its own client id and "
                "secret (the wizard gives it the Integration Administrator and Integration User "
                "roles) and enter "
                "those here."
            )
            % {"name": name},
            field="client_id",
            code="user_is_admin",
        )
    return user


@dataclass(frozen=True)
class CrmUser:
    id: uuid.UUID
    name: str
    email: str

    def to_json(self) -> dict[str, str]:
        return {"id": str(self.id), "name": self.name, "email": self.email}


def crm_user_list(*, connection: ConnectionSettings) -> list[CrmUser]:
    """Enabled CRM users, for choosing a default owner or the user who processes orders."""
    client = client_get(settings=connection)
    try:
        # Filtered here, not with $filter: a user whose isdisabled was never set counts as enabled.
        rows = client.iter_rows(
            "systemusers",
            select=[
                "systemuserid",
                "fullname",
                "firstname",
                "lastname",
                "internalemailaddress",
                "isdisabled",
            ],
        )
        users = [
            CrmUser(
                id=uuid.UUID(str(r["systemuserid"])),
                name=r.get("fullname")
                or " ".join(p for p in (r.get("firstname"), r.get("lastname")) if p)
                or r.get("internalemailaddress")
                or str(r["systemuserid"]),
                email=r.get("internalemailaddress") or "",
            )
            for r in rows
            if not r.get("isdisabled")
        ]
        return sorted(users, key=lambda u: u.name.lower())
    except dv.DataverseError as exc:
        raise problem_from_dataverse(exc, environment_url=connection.environment_url) from None


def crm_users_cached(*, connection: CrmConnection) -> list[CrmUser]:
    """The CRM users read when the connection was last saved or refreshed (no CRM call)."""
    users = []
    for row in connection.crm_users or []:
        try:
            users.append(
                CrmUser(id=uuid.UUID(str(row["id"])), name=row["name"], email=row.get("email", ""))
            )
        except (KeyError, TypeError, ValueError):
            continue  # a malformed cached row is dropped, never a 500
    return users


def integration_roles_available(*, connection: ConnectionSettings) -> bool:
    """Whether the CRM has the integration roles at all. They come with the integration
    solution: without it, missing roles are expected and cannot be assigned."""
    client = client_get(settings=connection)
    names = " or ".join(f"name eq '{name}'" for name in INTEGRATION_ROLES.values())
    try:
        rows = list(client.iter_rows("roles", select=["roleid", "name"], filter=names))
    except dv.DataverseError as exc:
        raise problem_from_dataverse(exc, environment_url=connection.environment_url) from None
    found = {uuid.UUID(str(r["roleid"])) for r in rows if r.get("roleid")}
    found_names = {(r.get("name") or "").lower() for r in rows}
    return all(
        role_id in found or name.lower() in found_names
        for role_id, name in INTEGRATION_ROLES.items()
    )
