"""HTTP Basic authentication with an ERP user name and web service access key.

Failed attempts are throttled per client address (LOGIN_THROTTLE_ATTEMPTS within
LOGIN_THROTTLE_WINDOW_SECONDS, the same settings as the login page): once over the limit, every
request from that address gets 429 with Retry-After, even with the right key, until the window
frees a slot.
"""

import base64
import hmac
import logging
from typing import NoReturn

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.forms import client_address
from accounts.models import WebServiceKey
from accounts.selectors import (
    availability_user_allowed,
    throttle_retry_after,
    throttle_scope,
    webservice_key_hash,
)
from accounts.services import throttle_failure_record, webservice_key_mark_used
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


def _fail(scopes: list[str], username: str, address: str) -> NoReturn:
    throttle_failure_record(scopes=scopes)
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

    if "\x00" in username or "\x00" in key:
        # No user name or key contains NUL, and PostgreSQL would refuse the query with it.
        _fail(scopes, username, address)
    user, stored = _user_and_key(username)
    # The same work whether or not the user exists or has a key (one query, one hash, one
    # comparison), so the answer's timing does not tell which user names exist.
    matches = hmac.compare_digest(
        webservice_key_hash(key=key), stored.key_hash if stored else _NO_KEY_HASH
    )
    current = stored is not None and (
        stored.expires_at is None or stored.expires_at > timezone.now()
    )
    if user is None or not user.is_active or not matches or not current:
        _fail(scopes, username, address)
    if not availability_user_allowed(user=user):
        raise ODataError(
            403, "Forbidden", _("This user may not use the item availability web service.")
        )
    webservice_key_mark_used(user=user)
    return user
