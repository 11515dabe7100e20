"""The one error type of the connection: a problem the user can act on, with the field it
concerns. The wizard, the connection page and `setup_connection` each show it their own way."""

import logging
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from dataverse import errors as dv

logger = logging.getLogger(__name__)


class ConnectionProblem(Exception):
    """`message` is translated and user-facing; `field` names the form field to attach it to."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "") -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.field = field
        self.code = code


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _field_for_host(host: str, *, environment_url: str, token_url: str) -> str:
    """The URL field an address problem concerns: the token URL when only it names the host."""
    env_host = _host_of(environment_url)
    if token_url and host and host == _host_of(token_url) != env_host:
        return "token_url"
    return "environment_url"


def problem_from_dataverse(
    exc: dv.DataverseError, *, environment_url: str, token_url: str = "", admin: bool = False
) -> ConnectionProblem:
    """Translate a client error into a specific message
    (docs/reference/business-central.md §1.7, §1.8)."""
    if isinstance(exc, dv.AddressNotAllowed):
        # The address itself goes to the log only: shown on the page, the form would tell an
        # administrator what internal names resolve to.
        logger.warning("CRM address refused: %s resolves to %s", exc.host, exc.address)
        return ConnectionProblem(
            _(
                "%(host)s resolves to a private, loopback or reserved network address. This "
                "installation connects only to public addresses; an on-premises CRM on a "
                "private network needs CRM_ALLOW_PRIVATE_ADDRESSES=true."
            )
            % {"host": exc.host},
            field=_field_for_host(exc.host, environment_url=environment_url, token_url=token_url),
            code="address_not_allowed",
        )
    if isinstance(exc, dv.ConnectionFailed):
        host = exc.host or _host_of(environment_url)
        field = (
            "token_url"
            if token_url and host and host == _host_of(token_url) != _host_of(environment_url)
            else "environment_url"
        )
        messages = {
            "dns": _(
                "The host name %(host)s could not be found (DNS lookup failed). Check the "
                "spelling of the URL."
            ),
            "refused": _(
                "%(host)s refused the connection. Check the URL and port, and that the CRM can "
                "be reached from this server."
            ),
            "timeout": _(
                "%(host)s did not answer in time. Check the URL, the network and any proxy or "
                "firewall, then try again."
            ),
            "tls": _(
                "A secure (TLS) connection to %(host)s could not be established: its certificate "
                "is not trusted, has "
                "expired or does not match the host name."
            ),
        }
        template = messages.get(exc.reason, _("%(host)s cannot be reached (%(reason)s)."))
        return ConnectionProblem(
            template % {"host": host, "reason": exc.reason},
            field=field,
            code=f"unreachable_{exc.reason}",
        )
    if isinstance(exc, dv.AuthenticationFailed):
        if admin:
            return ConnectionProblem(
                _(
                    "The CRM rejected the administrator user name or password. Check both and "
                    "try again."
                ),
                field="admin_password",
                code="admin_credentials",
            )
        return ConnectionProblem(
            _(
                "The CRM sign-in service rejected the client id or client secret "
                "(invalid_client). Check both values; "
                "a client secret may also have expired."
            ),
            field="client_secret",
            code="credentials",
        )
    if isinstance(exc, dv.Forbidden):
        if exc.code.lower() == "0x80072560" or "not a member" in exc.message.lower():
            return ConnectionProblem(
                _(
                    "The application signed in, but it is not a user of this CRM organization. "
                    "Create an application "
                    "user for this client id in the environment (Power Platform admin center, "
                    "Application users) and "
                    "try again."
                ),
                field="client_id",
                code="not_member",
            )
        if admin:
            return ConnectionProblem(
                _(
                    "The administrator account may not import solutions or assign roles. Sign in "
                    "with a user who has "
                    "the System Administrator role. (%(detail)s)"
                )
                % {"detail": exc.message},
                field="admin_username",
                code="admin_privileges",
            )
        return ConnectionProblem(
            _("The integration user lacks a privilege: %(detail)s") % {"detail": exc.message},
            code="privileges",
        )
    if isinstance(exc, dv.NotFound):
        return ConnectionProblem(
            _(
                "No Dataverse Web API answered at %(url)s/api/data/v9.2/ (HTTP 404). Enter only "
                "the environment URL, "
                "for example https://contoso.crm.dynamics.com."
            )
            % {"url": environment_url.rstrip("/")},
            field="environment_url",
            code="not_found",
        )
    return ConnectionProblem(
        crm_answer_text(exc, environment_url=environment_url), code="crm_error"
    )


def crm_answer_text(exc: dv.DataverseError, *, environment_url: str) -> str:
    """What to say about an error answer: its status, and the Dataverse error code and message
    only when the answer was a Dataverse error; never the body of some other server."""
    if exc.code:
        return _("The CRM answered HTTP %(status)s, error %(code)s: %(message)s") % {
            "status": exc.status or "-",
            "code": exc.code,
            "message": exc.message,
        }
    return _(
        "%(host)s answered HTTP %(status)s, which is not an answer of a Dataverse Web API. "
        "Check the environment URL and the token URL."
    ) % {"host": _host_of(environment_url), "status": exc.status or "-"}
