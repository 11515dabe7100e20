"""Web service access keys, REST API tokens and the failed-attempt log that throttles logins
and Basic auth."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# The permission that admits a user to the item availability OData service (`/odata/`).
# Grant it to a user or a group in the admin, or with `availability_access_set`.
USE_ITEM_AVAILABILITY_SERVICE = "accounts.use_item_availability_service"


class WebServiceKey(models.Model):
    """A user's web service access key. Only a SHA-256 hash is stored; one key per user, so
    generating a new one replaces (and invalidates) the old one at once."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="webservice_key",
    )
    # The key is 32 random bytes, so a fast hash is enough: there is nothing to brute-force.
    key_hash = models.CharField(_("key hash"), max_length=64)
    # The first characters of the key: enough to tell keys apart, too short to help an attacker.
    prefix = models.CharField(_("key prefix"), max_length=8)
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("web service access key")
        verbose_name_plural = _("web service access keys")
        permissions = [
            ("use_item_availability_service", _("Can use the item availability web service")),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.prefix}…)"


class FailedAttempt(models.Model):
    """One failed sign-in or web service authentication: which entry point, from which client
    address, for which user name. Address and user name are stored as keyed hashes
    (accounts.selectors.throttle_hash), so the table never holds what people typed into the
    user name field, yet failures can be grouped by address, by user name and by both."""

    service = models.CharField(_("service"), max_length=16)
    address = models.CharField(_("client address hash"), max_length=64)
    username = models.CharField(_("user name hash"), max_length=64)
    created_at = models.DateTimeField(_("created at"), db_index=True)

    class Meta:
        verbose_name = _("failed attempt")
        verbose_name_plural = _("failed attempts")
        indexes = [
            models.Index(
                fields=["service", "address", "created_at"], name="accounts_failed_address_time"
            ),
            models.Index(
                fields=["service", "address", "username", "created_at"],
                name="accounts_failed_pair_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.address[:8]}… {self.created_at:%Y-%m-%d %H:%M:%S}"


class ApiToken(models.Model):
    """A user's REST API token (`Authorization: Token <key>`). Only a SHA-256 hash of the key
    is stored, with its first characters to find the row; one token per user, so issuing a
    new one replaces (and invalidates) the old one at once."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="api_token",
    )
    # The key is random (32 bytes, or DRF's 20 for tokens carried over), so a fast hash is
    # enough: there is nothing to brute-force.
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    # Tells tokens apart on the user pages and in the admin, and finds the candidate rows; the
    # hash is then compared in constant time.
    prefix = models.CharField(_("key prefix"), max_length=8, db_index=True)
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("REST API token")
        verbose_name_plural = _("REST API tokens")

    def __str__(self) -> str:
        return f"{self.user} ({self.prefix}…)"
