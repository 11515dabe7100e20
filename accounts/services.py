"""Writes: web service access keys, REST API tokens, availability service access, failed-attempt
records."""

import datetime
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import ApiToken, FailedAttempt, WebServiceKey
from accounts.selectors import (
    API_TOKEN_PREFIX_LENGTH,
    throttle_hash,
    webservice_key_hash,
)

logger = logging.getLogger(__name__)

KEY_PREFIX_LENGTH = 8


def webservice_key_expiry(*, expires_on: datetime.date | None) -> datetime.datetime | None:
    """A key with expiry date D works until the end of D (in the server's time zone)."""
    if expires_on is None:
        return None
    next_day = datetime.datetime.combine(expires_on + timedelta(days=1), datetime.time.min)
    return timezone.make_aware(next_day, timezone.get_default_timezone())


def _secret_issue(
    *,
    model: type[WebServiceKey] | type[ApiToken],
    user: User,
    prefix_length: int,
    expires_at: datetime.datetime | None,
) -> str:
    """A new random key for `user` in `model` (one row per user: the previous key stops working
    at once); only its hash and first characters are stored. Returns the key in plain text."""
    key = secrets.token_urlsafe(32)
    model.objects.update_or_create(
        user=user,
        defaults={
            "key_hash": webservice_key_hash(key=key),
            "prefix": key[:prefix_length],
            "created_at": timezone.now(),
            "expires_at": expires_at,
            "last_used_at": None,
        },
    )
    return key


def _mark_used(queryset: QuerySet[WebServiceKey] | QuerySet[ApiToken]) -> None:
    # At most one write a minute, so a busy client does not write on every request.
    now = timezone.now()
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(minutes=1))
    queryset.filter(stale).update(last_used_at=now)


@transaction.atomic
def webservice_key_generate(*, user: User, expires_at: datetime.datetime | None = None) -> str:
    """Create a new key for `user` and return it in plain text; this is the only time it is
    available. The previous key stops working at once."""
    key = _secret_issue(
        model=WebServiceKey, user=user, prefix_length=KEY_PREFIX_LENGTH, expires_at=expires_at
    )
    logger.info(
        "New web service access key for user %s (expires %s)", user.pk, expires_at or "never"
    )
    return key


def webservice_key_revoke(*, user: User) -> None:
    deleted, _ = WebServiceKey.objects.filter(user=user).delete()
    if deleted:
        logger.info("Web service access key of user %s revoked", user.pk)


def webservice_key_mark_used(*, user: User) -> None:
    _mark_used(WebServiceKey.objects.filter(user=user))


def api_token_expiry(*, expires_on: datetime.date | None) -> datetime.datetime | None:
    """As for web service keys: a token with expiry date D works until the end of D."""
    return webservice_key_expiry(expires_on=expires_on)


@transaction.atomic
def api_token_issue(*, user: User, expires_at: datetime.datetime | None = None) -> str:
    """Create a new REST API token for `user` and return its key in plain text; this is the only
    time it is available. The previous token stops working at once."""
    key = _secret_issue(
        model=ApiToken, user=user, prefix_length=API_TOKEN_PREFIX_LENGTH, expires_at=expires_at
    )
    logger.info("New REST API token for user %s (expires %s)", user.pk, expires_at or "never")
    return key


def api_token_revoke(*, user: User) -> bool:
    """Delete the user's token; False if there was none."""
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    if deleted:
        logger.info("REST API token of user %s revoked", user.pk)
    return bool(deleted)


def api_token_mark_used(*, token: ApiToken) -> None:
    _mark_used(ApiToken.objects.filter(pk=token.pk))


def availability_access_set(*, user: User, allowed: bool) -> None:
    """Grant or withdraw the item availability service permission on the user itself."""
    app_label, codename = "accounts", "use_item_availability_service"
    permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    if allowed:
        user.user_permissions.add(permission)
    else:
        user.user_permissions.remove(permission)
    # Django caches permissions on the user object.
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(attr, None)


def _throttle_hashes(*, address: str, username: str) -> dict[str, str]:
    return {
        "address": throttle_hash(kind="address", value=address),
        "username": throttle_hash(kind="username", value=username),
    }


def throttle_failure_record(*, service: str, address: str, username: str) -> None:
    """One failed attempt of `service` for `username` from `address` (see throttle_check)."""
    now = timezone.now()
    FailedAttempt.objects.create(
        service=service, created_at=now, **_throttle_hashes(address=address, username=username)
    )
    # Housekeeping: attempts older than the window never count again.
    cutoff = now - timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW_SECONDS)
    FailedAttempt.objects.filter(created_at__lt=cutoff).delete()


def throttle_success(*, service: str, address: str, username: str) -> None:
    """A right password (or key) ends that user name's run of failures from that address; the
    address's failures for other user names still count towards its own limits."""
    FailedAttempt.objects.filter(
        service=service, **_throttle_hashes(address=address, username=username)
    ).delete()
