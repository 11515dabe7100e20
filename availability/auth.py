"""HTTP Basic authentication with an ERP user name and web service access key.

Failed attempts are throttled like sign-ins (the LOGIN_THROTTLE_* settings,
accounts.selectors.throttle_check), on their own counts: a user name that failed from an
address waits, longer after each failure, before its next request from there is checked (429
with Retry-After, even with the right key); an abusive address is refused for every user name.
Failures from one address never hold up the same user name from another.
"""

import base64
import hmac
import logging
from typing import NoReturn

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.forms import client_address
from accounts.models import WebServiceKey
from accounts.selectors import (
    availability_user_allowed,
    secret_current,
    throttle_check,
    webservice_key_hash,
)
from accounts.services import throttle_failure_record, throttle_success, webservice_key_mark_used
from availability.odata import ODataError

logger = logging.getLogger("availability.auth")

REALM = "erpcrm"

# Compared against when the user name is unknown or has no key: the same length as a real hash,
# and no key hashes to it (it is not hexadecimal).
_NO_KEY_HASH = "-" * 64


def _unauthorized(message: str) -> ODataError:
    return ODataError(401, "Unauthorized", message, {"WWW-Authenticate": f'Basic realm="{REALM}"'})


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:
        # binascii.Error (bad base64), UnicodeDecodeError, and the plain ValueError b64decode
        # raises for a header with non-ASCII characters: all are simply no credentials.
        return None
    username, sep, key = decoded.partition(":")
    if not sep:
        return None
    return username, key


def _fail(throttled: dict[str, str], username: str, address: str) -> NoReturn:
    throttle_failure_record(**throttled)
    logger.warning("Web service authentication failed for user name %r from %s", username, address)
    raise _unauthorized(_("The user name or web service access key is not valid."))


def _user_and_key(username: str) -> tuple[User | None, WebServiceKey | None]:
    """The user and their key in one query, whether or not either exists."""
    user_model = get_user_model()
    user = (
        user_model._default_manager.select_related("webservice_key")
        .filter(**{user_model.USERNAME_FIELD: username})
        .first()
    )
    # select_related has fetched the key (or found none): no further query either way.
    stored = getattr(user, "webservice_key", None) if user is not None else None
    return user, stored


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

    if "\x00" in username or "\x00" in key:
        # No user name or key contains NUL, and PostgreSQL would refuse the query with it.
        _fail(throttled, username, address)
    user, stored = _user_and_key(username)
    # The same work whether or not the user exists or has a key (one query, one hash, one
    # comparison), so the answer's timing does not tell which user names exist.
    matches = hmac.compare_digest(
        webservice_key_hash(key=key), stored.key_hash if stored else _NO_KEY_HASH
    )
    current = stored is not None and secret_current(expires_at=stored.expires_at)
    if user is None or not user.is_active or not matches or not current:
        _fail(throttled, username, address)
    if not availability_user_allowed(user=user):
        raise ODataError(
            403, "Forbidden", _("This user may not use the item availability web service.")
        )
    throttle_success(**throttled)
    webservice_key_mark_used(user=user)
    return user
