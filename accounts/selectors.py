"""Reads: web service keys, REST API tokens, who may use the item availability service, login
throttling."""

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Count, Max, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

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


def secret_current(*, expires_at: datetime | None) -> bool:
    """Whether a web service key or API token with this expiry still works now."""
    return expires_at is None or expires_at > timezone.now()


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
    return secret_current(expires_at=stored.expires_at)


def webservice_key_active(*, user: User) -> bool:
    stored = webservice_key_get(user=user)
    return stored is not None and secret_current(expires_at=stored.expires_at)


# --- REST API tokens -------------------------------------------------------------------------

API_TOKEN_PREFIX_LENGTH = 8


# Keys and tokens are random 32-byte values: one fast hash serves both.
api_token_hash = webservice_key_hash


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
    return not secret_current(expires_at=token.expires_at)


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
#
# Hand-written on purpose. django-axes (8.3, installs here and supports Django 5.2) was the
# candidate, but its model is a lockout: it counts failures per lockout parameter combination,
# sums them against one AXES_FAILURE_LIMIT and refuses every attempt, the right password
# included, until a cool-off has passed. What erpcrm needs does not map onto that cleanly:
#
# - a right password is refused only when the client address itself is abusive (many failures,
#   or many distinct user names, from it), with thresholds of their own;
# - otherwise failures only slow one user name down from the address they came from, with a
#   delay that grows with each consecutive failure, answered at once ("try again in N
#   seconds") instead of a fixed cool-off;
# - the item availability web service, which authenticates with keys rather than through
#   Django's authentication backends, uses the same rules.
#
# The delay is kept per user name *and* address: per user name alone, anyone who knows a
# (not secret) user name could keep its owner out by failing from elsewhere. Guessing one
# password from many addresses is bounded by each address's own budget instead.

# The first delay, in seconds, once a user name has used its free attempts from an address;
# each further failure doubles it, up to LOGIN_THROTTLE_WINDOW_SECONDS.
THROTTLE_FIRST_DELAY = 1


@dataclass(frozen=True)
class ThrottleVerdict:
    """Whether one more attempt may be checked now. `wait` is in seconds (0: go ahead);
    `address_blocked` says the whole client address is refused, not one user name."""

    wait: int = 0
    address_blocked: bool = False


def throttle_hash(*, kind: str, value: str) -> str:
    """A keyed hash of a client address or a user name (case and surrounding spaces ignored):
    the failure table can group by it, but a guessed user name cannot be confirmed against the
    table without the secret key."""
    key_salt = f"accounts.throttle.{kind}"
    return salted_hmac(key_salt, value.strip().lower(), algorithm="sha256").hexdigest()


def throttle_delay(*, failures: int) -> int:
    """Seconds one user name waits from one address after `failures` consecutive failures."""
    over = failures - settings.LOGIN_THROTTLE_ATTEMPTS
    if over < 0:
        return 0
    window: int = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    # Capped exponent: 2**over of a long run would be a huge number for nothing.
    return int(min(THROTTLE_FIRST_DELAY * 2 ** min(over, 32), window))


def _seconds_until(moment: datetime) -> int:
    return max(math.ceil((moment - timezone.now()).total_seconds()), 1)


def _address_wait(recent: QuerySet, window: timedelta) -> int:
    """Seconds until the address is no longer abusive (0 if it is not): too many failures, or
    failures for too many distinct user names, within the window."""
    wait = 0
    limit = settings.LOGIN_THROTTLE_ADDRESS_FAILURES
    count = recent.count()
    if count >= limit:
        # The address is allowed again when the (count - limit + 1)-th oldest failure expires.
        oldest = recent.order_by("created_at").values_list("created_at", flat=True)
        wait = _seconds_until(oldest[count - limit] + window)
    names_limit = settings.LOGIN_THROTTLE_ADDRESS_USERNAMES
    latest_per_name = list(
        recent.values("username")
        .annotate(latest=Max("created_at"))
        .order_by("latest")
        .values_list("latest", flat=True)
    )
    if len(latest_per_name) >= names_limit:
        # A user name stops counting when its latest failure expires.
        moment = latest_per_name[len(latest_per_name) - names_limit] + window
        wait = max(wait, _seconds_until(moment))
    return wait


def throttle_check(*, service: str, address: str, username: str) -> ThrottleVerdict:
    """May an attempt of `service` ("login", "odata") for `username` from `address` be
    checked now? Nothing here depends on whether the user exists."""
    window = timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW_SECONDS)
    recent = FailedAttempt.objects.filter(
        service=service,
        address=throttle_hash(kind="address", value=address),
        created_at__gt=timezone.now() - window,
    )
    address_wait = _address_wait(recent, window)
    if address_wait:
        return ThrottleVerdict(wait=address_wait, address_blocked=True)
    pair = recent.filter(username=throttle_hash(kind="username", value=username)).aggregate(
        failures=Count("id"), latest=Max("created_at")
    )
    delay = throttle_delay(failures=pair["failures"])
    if delay and pair["latest"] is not None:
        until = pair["latest"] + timedelta(seconds=delay)
        if until > timezone.now():
            return ThrottleVerdict(wait=_seconds_until(until))
    return ThrottleVerdict()
