"""HTTP Basic authentication with an ERP user name and web service access key.

Failed attempts are throttled per user name and per client address (LOGIN_THROTTLE_ATTEMPTS
within LOGIN_THROTTLE_WINDOW_SECONDS, the same settings as the login page): once either is
over the limit, every request for that user name or from that address gets 429 with
Retry-After, even with the right key, until the window frees a slot.
"""

import base64
import binascii
import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.forms import client_address
from accounts.selectors import (
    availability_user_allowed,
    throttle_retry_after,
    throttle_scope,
    webservice_key_check,
)
from accounts.services import throttle_failure_record, webservice_key_mark_used
from availability.odata import ODataError

logger = logging.getLogger("availability.auth")

REALM = "erpcrm"


def _unauthorized(message: str) -> ODataError:
    return ODataError(401, "Unauthorized", message, {"WWW-Authenticate": f'Basic realm="{REALM}"'})


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, key = decoded.partition(":")
    if not sep:
        return None
    return username, key


def authenticate(request: HttpRequest) -> User:
    """The user behind the request's Basic credentials, or an ODataError (401/403/429)."""
    credentials = _credentials(request)
    if credentials is None:
        raise _unauthorized(
            _("Authentication required: HTTP Basic with your user name and web service access key.")
        )
    username, key = credentials
    address = client_address(request)
    # Throttled per client address only. Keys are 256-bit random values, so guessing one for a
    # known user name is hopeless anyway, while a per-user-name lockout would let anyone who
    # knows the (not secret) user name lock the CRM out of the service.
    scopes = [throttle_scope(kind="odata:address", value=address)]
    wait = throttle_retry_after(scopes=scopes)
    if wait:
        logger.warning(
            "Web service request refused (throttled) for user name %r from %s", username, address
        )
        raise ODataError(
            429,
            "TooManyRequests",
            _("Too many failed attempts. Try again later."),
            {"Retry-After": str(wait)},
        )

    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    # The key is checked even for unknown users, so timing does not tell whether a user exists.
    key_ok = webservice_key_check(user=user, key=key)
    if user is None or not user.is_active or not key_ok:
        throttle_failure_record(scopes=scopes)
        logger.warning(
            "Web service authentication failed for user name %r from %s", username, address
        )
        raise _unauthorized(_("The user name or web service access key is not valid."))
    if not availability_user_allowed(user=user):
        raise ODataError(
            403, "Forbidden", _("This user may not use the item availability web service.")
        )
    webservice_key_mark_used(user=user)
    return user
