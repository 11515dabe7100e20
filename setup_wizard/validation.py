"""Setup validated once: the one place that decides whether a setup input is acceptable.

The wizard, the connection page and `setup_connection` only parse what they were given into a
`SetupInput`, call these functions, and show the problems their own way (form field errors,
command errors). Problems are reported per input field, all at once where they are independent,
so a person fixes everything in one go.

The CRM is read by `connection_verify` only (WhoAmI, base currency, integration user) and by the
CRM user list; callers keep what they got (`VerifiedConnection`, the user list) and pass it back
in, so a wizard run or a page save checks the CRM once, not on every step.
"""

import dataclasses
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from accounts import selectors as account_selectors
from connection import selectors as connection_selectors
from connection.addresses import environment_url_normalize, token_url_normalize
from connection.errors import ConnectionProblem
from connection.models import OwnerMode
from dataverse.client import ConnectionSettings
from syncjobs.defaults import ALL_AREAS

# Sections of a setup input; the wizard validates the one of its current step.
CONNECTION = "connection"
AREAS = "areas"
AVAILABILITY = "availability"
SALES_ORDERS = "sales_orders"
ALL_SECTIONS = (CONNECTION, AREAS, AVAILABILITY, SALES_ORDERS)

# How the web service key for the item availability user is obtained.
KEY_GENERATE = "generate"
KEY_EXISTING = "existing"
KEY_KEEP = "keep"


@dataclass
class SetupInput:
    """What a person typed or passed, parsed but not yet validated. Field names are the ones
    problems are reported under."""

    environment_url: str = ""
    token_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    areas: list[str] = field(default_factory=list)
    owner_mode: str = OwnerMode.SALESPERSON
    default_owner_id: str = ""
    availability_enabled: bool = False
    availability_user: User | None = None
    # Set instead of availability_user when the input names the user (setup_connection).
    availability_username: str = ""
    availability_key_action: str = KEY_GENERATE
    availability_key: str = ""
    # The key the saved connection holds for availability_user, for KEY_KEEP.
    availability_stored_key: str = ""
    sales_order_integration: bool = False
    order_processor_id: str = ""  # "": the integration user
    auto_create_sales_orders: bool = False
    enable: bool = True


class SetupInvalid(Exception):
    """The input has problems; `problems` maps an input field (or "" for the whole) to messages."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for messages in problems.values() for m in messages))
        self.problems = problems

    @classmethod
    def one(cls, field_name: str, message: str) -> "SetupInvalid":
        return cls({field_name: [message]})

    @classmethod
    def from_problem(cls, problem: ConnectionProblem) -> "SetupInvalid":
        return cls({problem.field or "": [problem.message]})


class _Problems:
    def __init__(self) -> None:
        self.items: dict[str, list[str]] = {}

    def add(self, field_name: str, message: str) -> None:
        self.items.setdefault(field_name, []).append(str(message))

    def raise_if_any(self) -> None:
        if self.items:
            raise SetupInvalid(self.items)


@dataclass(frozen=True)
class VerifiedConnection:
    """Credentials the CRM accepted, with what the check established."""

    environment_url: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    check: connection_selectors.ConnectionCheck
    integration_user: connection_selectors.IntegrationUser
    # A message about how the input was normalised (e.g. a path removed from the URL).
    notice: str = ""

    @property
    def settings(self) -> ConnectionSettings:
        return connection_selectors.connection_settings_build(
            environment_url=self.environment_url,
            token_url=self.token_url,
            client_id=self.client_id,
            client_secret=self.client_secret,
        )

    def matches(self, data: SetupInput) -> bool:
        """Whether `data` names the same credentials (so this verification still holds)."""
        return (
            self.environment_url,
            self.token_url,
            self.client_id,
            self.client_secret,
        ) == (data.environment_url, data.token_url, data.client_id, data.client_secret)

    def with_user(self, user: connection_selectors.IntegrationUser) -> "VerifiedConnection":
        return dataclasses.replace(self, integration_user=user)

    def to_json(self) -> dict[str, object]:
        """For the wizard's session storage: no secret (the step data holds it, encrypted)."""
        return {
            "environment_url": self.environment_url,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "check": self.check.to_json(),
            "integration_user": self.integration_user.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object], *, client_secret: str) -> "VerifiedConnection":
        return cls(
            environment_url=str(data["environment_url"]),
            token_url=str(data["token_url"]),
            client_id=str(data["client_id"]),
            client_secret=client_secret,
            check=connection_selectors.ConnectionCheck.from_json(data["check"]),  # type: ignore[arg-type]
            integration_user=connection_selectors.IntegrationUser.from_json(
                data["integration_user"]  # type: ignore[arg-type]
            ),
        )


@dataclass
class ValidSetup:
    """A whole setup that passed validation, ready for `services.setup_apply`."""

    connection: VerifiedConnection
    solution_imported: bool = False
    areas: list[str] = field(default_factory=list)
    owner_mode: str = OwnerMode.SALESPERSON
    default_owner_id: uuid.UUID | None = None
    default_owner_name: str = ""
    availability_enabled: bool = False
    availability_user: User | None = None
    availability_key: str = field(default="", repr=False)
    availability_generate_key: bool = False
    sales_order_integration: bool = False
    order_processor_id: uuid.UUID | None = None
    order_processor_name: str = ""
    auto_create_sales_orders: bool = False
    enable: bool = True
    crm_users: list[connection_selectors.CrmUser] = field(default_factory=list)


# --- The connection section (the only part that reads the CRM) ---------------------------------


def connection_input_normalize(*, data: SetupInput) -> tuple[SetupInput, str]:
    """URLs trimmed and normalised, client id trimmed; (normalised input, notice).

    Raises SetupInvalid listing every malformed field; needs no network.
    """
    problems = _Problems()
    environment_url, notice, token_url = data.environment_url, "", data.token_url
    try:
        environment_url, notice = environment_url_normalize(url=data.environment_url)
    except ConnectionProblem as problem:
        problems.add("environment_url", problem.message)
    try:
        token_url = token_url_normalize(url=data.token_url)
    except ConnectionProblem as problem:
        problems.add("token_url", problem.message)
    client_id = data.client_id.strip()
    if not client_id:
        problems.add("client_id", _("Enter the client id."))
    if not data.client_secret:
        problems.add("client_secret", _("Enter the client secret."))
    problems.raise_if_any()
    normalised = dataclasses.replace(
        data, environment_url=environment_url, token_url=token_url, client_id=client_id
    )
    return normalised, notice


def connection_verify(
    *, data: SetupInput, known: VerifiedConnection | None = None
) -> VerifiedConnection:
    """Normalise the connection fields and check them against the CRM: WhoAmI, the base
    currency, and the integration user (exists, enabled, not a System Administrator).

    `known` is a verification made earlier in the same run: reused when the credentials are the
    same, so the CRM is asked once.
    """
    data, notice = connection_input_normalize(data=data)
    if known is not None and known.matches(data):
        return dataclasses.replace(known, notice=notice)
    settings_ = connection_selectors.connection_settings_build(
        environment_url=data.environment_url,
        token_url=data.token_url,
        client_id=data.client_id,
        client_secret=data.client_secret,
    )
    try:
        check = connection_selectors.crm_connection_check(connection=settings_)
        # Catch an administrator as integration user here already: it is the commonest mistake.
        user = connection_selectors.integration_user_check(
            connection=settings_, user_id=check.user_id
        )
    except ConnectionProblem as problem:
        raise SetupInvalid.from_problem(problem) from None
    return VerifiedConnection(
        environment_url=data.environment_url,
        token_url=data.token_url,
        client_id=data.client_id,
        client_secret=data.client_secret,
        check=check,
        integration_user=user,
        notice=notice,
    )


def crm_users_read(*, connection: VerifiedConnection) -> list[connection_selectors.CrmUser]:
    """The enabled CRM users (owner and order processor choices); [] when the CRM cannot be
    read now, which the choices then say."""
    try:
        return connection_selectors.crm_user_list(connection=connection.settings)
    except ConnectionProblem:
        return []


# --- The other sections -------------------------------------------------------------------------


def _crm_user(
    users: Iterable[connection_selectors.CrmUser], value: str
) -> connection_selectors.CrmUser | None:
    wanted = value.strip().lower()
    return next((u for u in users if str(u.id) == wanted), None)


def _areas_check(
    *,
    data: SetupInput,
    users: list[connection_selectors.CrmUser],
    problems: _Problems,
    result: ValidSetup,
) -> None:
    unknown = sorted(set(data.areas) - set(ALL_AREAS))
    if unknown:
        problems.add(
            "areas",
            _("Unknown areas %(unknown)s; choose from %(areas)s.")
            % {"unknown": ", ".join(unknown), "areas": ", ".join(ALL_AREAS)},
        )
    elif not data.areas:
        problems.add("areas", _("Choose at least one area to synchronize."))
    result.areas = [a for a in ALL_AREAS if a in data.areas]
    if data.owner_mode not in OwnerMode.values:
        problems.add("owner_mode", _("Choose who owns new CRM records."))
        return
    result.owner_mode = data.owner_mode
    if data.owner_mode == OwnerMode.DEFAULT_OWNER:
        if not data.default_owner_id:
            problems.add("default_owner_id", _("Choose the CRM user who owns new CRM records."))
            return
        owner = _crm_user(users, data.default_owner_id)
        if owner is None:
            problems.add(
                "default_owner_id",
                _("The default owner must be an enabled CRM user; %(id)s is not one.")
                % {"id": data.default_owner_id},
            )
            return
        result.default_owner_id, result.default_owner_name = owner.id, owner.name


def _availability_user(data: SetupInput, problems: _Problems) -> User | None:
    allowed = account_selectors.availability_users()
    if data.availability_user is not None:
        if not allowed.filter(pk=data.availability_user.pk).exists():
            problems.add(
                "availability_user",
                _("ERP user %(user)s may not use the item availability service.")
                % {"user": data.availability_user.get_username()},
            )
            return None
        return data.availability_user
    if not data.availability_username:
        problems.add(
            "availability_user", _("Choose the ERP user whose web service access key the CRM uses.")
        )
        return None
    user: User | None = allowed.filter(username=data.availability_username).first()
    if user is None:
        exists = get_user_model().objects.filter(username=data.availability_username).exists()
        message = (
            _("ERP user %(user)s may not use the item availability service.")
            if exists
            else _("ERP user %(user)s does not exist.")
        )
        problems.add("availability_user", message % {"user": data.availability_username})
    return user


def _availability_check(*, data: SetupInput, problems: _Problems, result: ValidSetup) -> None:
    result.availability_enabled = data.availability_enabled
    if not data.availability_enabled:
        return
    user = _availability_user(data, problems)
    if user is None:
        return
    result.availability_user = user
    action = data.availability_key_action or KEY_GENERATE
    if action == KEY_GENERATE:
        result.availability_generate_key = True
        return
    if action == KEY_KEEP:
        if not data.availability_stored_key:
            problems.add(
                "availability_key_action",
                _("Generate a key for this user or enter the user's existing key."),
            )
        else:
            result.availability_key = data.availability_stored_key
        return
    key = data.availability_key
    if not key:
        problems.add("availability_key", _("Enter the user's web service access key."))
    elif not account_selectors.webservice_key_check(user=user, key=key):
        problems.add(
            "availability_key",
            _(
                "This is not the current web service access key of %(user)s (or the key has "
                "expired)."
            )
            % {"user": user.get_username()},
        )
    else:
        result.availability_key = key


def _sales_orders_check(
    *,
    data: SetupInput,
    users: list[connection_selectors.CrmUser],
    integration_user: connection_selectors.IntegrationUser | None,
    problems: _Problems,
    result: ValidSetup,
) -> None:
    result.sales_order_integration = data.sales_order_integration
    if not data.sales_order_integration:
        return
    result.auto_create_sales_orders = data.auto_create_sales_orders
    if not data.order_processor_id:
        if integration_user is not None:
            result.order_processor_id = integration_user.id
            result.order_processor_name = integration_user.name
        return
    processor = _crm_user(users, data.order_processor_id)
    if processor is None:
        problems.add(
            "order_processor_id",
            _("The user who processes orders must be an enabled CRM user; %(id)s is not one.")
            % {"id": data.order_processor_id},
        )
        return
    result.order_processor_id, result.order_processor_name = processor.id, processor.name


def setup_validate(
    *,
    data: SetupInput,
    verified: VerifiedConnection | None,
    crm_users: list[connection_selectors.CrmUser] | None = None,
    sections: Collection[str] = ALL_SECTIONS,
    solution_imported: bool = False,
) -> ValidSetup:
    """Validate the chosen sections of a setup input and return it ready to apply.

    `verified` is the connection check made for these credentials (required for a whole
    setup); without it and with CONNECTION in `sections`, the CRM is checked here. `crm_users`
    is the CRM user list the caller read (default owner and order processor are checked
    against it); without it the list is read now when needed. Raises SetupInvalid.
    """
    problems = _Problems()
    if CONNECTION in sections:
        verified = connection_verify(data=data, known=verified)
    users = crm_users
    needs_users = (AREAS in sections and data.owner_mode == OwnerMode.DEFAULT_OWNER) or (
        SALES_ORDERS in sections and data.sales_order_integration and data.order_processor_id
    )
    if users is None and needs_users and verified is not None:
        users = crm_users_read(connection=verified)
    users = users or []
    result = ValidSetup(
        connection=verified,  # type: ignore[arg-type]  # checked below for a whole setup
        solution_imported=solution_imported,
        enable=data.enable,
        crm_users=users,
    )
    if AREAS in sections:
        _areas_check(data=data, users=users, problems=problems, result=result)
    if AVAILABILITY in sections:
        _availability_check(data=data, problems=problems, result=result)
    if SALES_ORDERS in sections:
        _sales_orders_check(
            data=data,
            users=users,
            integration_user=verified.integration_user if verified else None,
            problems=problems,
            result=result,
        )
    problems.raise_if_any()
    if set(sections) == set(ALL_SECTIONS) and verified is None:
        raise SetupInvalid.one("", _("Complete the connection step first."))
    return result
