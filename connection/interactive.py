"""The CRM as pages a person waits on read it: a client that fails fast, and one kind of problem
(`CrmReadProblem`) whose message says in words a person can act on why the CRM could not be
read. Shared by every page that shows CRM rows live (coupling, CRM sales orders)."""

import dataclasses

from django.utils.translation import gettext as _

from dataverse import errors as dv
from dataverse.client import DataverseClient

from .clients import client_get
from .selectors import crm_connection_settings


class CrmReadProblem(Exception):
    """The CRM could not be read; `message` says why in words a person can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def crm_problem(exc: Exception) -> CrmReadProblem:
    if isinstance(exc, dv.Throttled):
        return CrmReadProblem(
            _(
                "The CRM is throttling our requests (service protection limits). "
                "Try again in %(seconds)s seconds."
            )
            % {"seconds": max(int(exc.retry_after), 1)}
        )
    if isinstance(exc, dv.ConnectionFailed | dv.TransientError):
        return CrmReadProblem(
            _("The CRM cannot be reached right now (%(reason)s). Try again later.")
            % {"reason": getattr(exc, "reason", "") or getattr(exc, "status", "") or exc}
        )
    if isinstance(exc, dv.AuthenticationFailed | dv.Forbidden):
        return CrmReadProblem(
            _("The CRM refuses the integration user's credentials: %(message)s")
            % {"message": getattr(exc, "message", str(exc))}
        )
    return CrmReadProblem(_("The CRM answered with an error: %(message)s") % {"message": exc})


def crm_client() -> DataverseClient:
    """The client for pages a person waits on: fails fast instead of retrying for minutes."""
    connection = crm_connection_settings(interactive=True)
    if connection is None:
        raise CrmReadProblem(_("No CRM connection is set up yet."))
    return client_get(settings=dataclasses.replace(connection, max_throttle_retries=0))
