"""HTTP Basic authentication with an ERP user name and web service access key.

Failed attempts are throttled like sign-ins (the LOGIN_THROTTLE_* settings,
accounts.selectors.throttle_check), on their own counts: a user name that failed from an
address waits, longer after each failure, before its next request from there is checked (429
with Retry-After, even with the right key); an abusive address is refused for every user name.
Failures from one address never hold up the same user name from another.
"""

import base64
import binascii
import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.forms import client_address
from accounts.selectors import availability_user_allowed, throttle_check, webservice_key_check
from accounts.services import throttle_failure_record, throttle_success, webservice_key_mark_used
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
    # Keyed on address and user name: guessing from one address (or under other user names
    # behind the same proxy) does not hold up the CRM's calls from its own address.
    throttled = {"service": "odata", "address": address, "username": username}
    wait = throttle_check(**throttled).wait
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
        throttle_failure_record(**throttled)
        logger.warning(
            "Web service authentication failed for user name %r from %s", username, address
        )
        raise _unauthorized(_("The user name or web service access key is not valid."))
    if not availability_user_allowed(user=user):
        raise ODataError(
            403, "Forbidden", _("This user may not use the item availability web service.")
        )
    throttle_success(**throttled)
    webservice_key_mark_used(user=user)
    return user
