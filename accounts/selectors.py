"""Reads: web service keys, REST API tokens, who may use the item availability service, login
throttling."""

import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import (
    USE_ITEM_AVAILABILITY_SERVICE,
    ApiToken,
    FailedAttempt,
    WebServiceKey,
)

# Compared against when a user has no key, so a missing key takes as long as a wrong one.
_NO_KEY_HASH = "0" * 64


def webservice_key_hash(*, key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def webservice_key_get(*, user: User) -> WebServiceKey | None:
    return WebServiceKey.objects.filter(user=user).first()


def webservice_key_check(*, user: User | None, key: str) -> bool:
    """True if `key` is the user's current, unexpired web service access key. With no user
    the hash is still computed and compared, so an unknown user name takes as long."""
    stored = webservice_key_get(user=user) if user is not None else None
    expected = stored.key_hash if stored is not None else _NO_KEY_HASH
    matches = hmac.compare_digest(webservice_key_hash(key=key), expected)
    if stored is None or not matches:
        return False
    return stored.expires_at is None or stored.expires_at > timezone.now()


def webservice_key_active(*, user: User) -> bool:
    stored = webservice_key_get(user=user)
    return stored is not None and (stored.expires_at is None or stored.expires_at > timezone.now())


# --- REST API tokens -------------------------------------------------------------------------

API_TOKEN_PREFIX_LENGTH = 8


def api_token_hash(*, key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def api_token_get(*, user: User) -> ApiToken | None:
    return ApiToken.objects.filter(user=user).first()


def api_token_find(*, key: str) -> ApiToken | None:
    """The token whose key is `key`, expired or not, with its user; None if there is none."""
    digest = api_token_hash(key=key)
    candidates = ApiToken.objects.select_related("user").filter(
        prefix=key[:API_TOKEN_PREFIX_LENGTH]
    )
    for token in candidates:
        if hmac.compare_digest(token.key_hash, digest):
            return token
    return None


def api_token_expired(*, token: ApiToken) -> bool:
    return token.expires_at is not None and token.expires_at <= timezone.now()


def api_token_active(*, user: User) -> bool:
    token = api_token_get(user=user)
    return token is not None and not api_token_expired(token=token)


def availability_users() -> QuerySet:
    """Active users allowed to call the item availability service: holders of the permission
    `accounts.use_item_availability_service` (directly or through a group) and superusers."""
    return get_user_model().objects.with_perm(USE_ITEM_AVAILABILITY_SERVICE).order_by("username")


def availability_user_allowed(*, user: User) -> bool:
    return bool(user.is_active and user.has_perm(USE_ITEM_AVAILABILITY_SERVICE))


def user_list() -> QuerySet:
    return get_user_model().objects.select_related("webservice_key").order_by("username")


# --- Throttling -------------------------------------------------------------------------------


def throttle_scope(*, kind: str, value: str) -> str:
    """A hash naming what is throttled, e.g. kind "login:user" and a user name."""
    return hashlib.sha256(f"{kind}\x00{value.strip().lower()}".encode()).hexdigest()


def throttle_retry_after(*, scopes: list[str]) -> int:
    """Seconds until one more attempt is allowed (0 if allowed now): the attempt limit applies
    to each scope on its own, within a sliding window."""
    window = timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW_SECONDS)
    limit = settings.LOGIN_THROTTLE_ATTEMPTS
    now = timezone.now()
    wait = 0
    for scope in scopes:
        recent = FailedAttempt.objects.filter(scope=scope, created_at__gt=now - window)
        count = recent.count()
        if count < limit:
            continue
        # The attempt that frees a slot is the (count - limit + 1)-th oldest one in the window.
        freeing = recent.order_by("created_at").values_list("created_at", flat=True)[count - limit]
        seconds = int((freeing + window - now).total_seconds()) + 1
        wait = max(wait, seconds)
    return wait
