import datetime
import logging
import math
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.selectors import throttle_check
from accounts.services import throttle_failure_record, throttle_success

logger = logging.getLogger("accounts.login")


def client_address(request: HttpRequest | None) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the entry of
    X-Forwarded-For the outermost trusted proxy added (entries left of it are client-made)."""
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies]


def too_many_attempts_message(seconds: int) -> str:
    if seconds < 60:
        return ngettext(
            "Too many failed attempts. Try again in %(seconds)d second.",
            "Too many failed attempts. Try again in %(seconds)d seconds.",
            seconds,
        ) % {"seconds": seconds}
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed attempts. Try again in %(minutes)d minute.",
        "Too many failed attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def address_blocked_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed sign-ins from your network. Try again in %(minutes)d minute.",
        "Too many failed sign-ins from your network. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


class ThrottledAuthenticationForm(AuthenticationForm):
    """The login form. A right password is accepted unless the client address is abusive
    (LOGIN_THROTTLE_ADDRESS_*); failures for a user name from one address make each further
    attempt for it from there wait, longer after each failure (accounts.selectors.throttle_check).
    A refused attempt is answered at once, without checking the password."""

    service = "login"
    # Seconds until the next attempt may be checked, when this one was refused (for the view's
    # Retry-After).
    retry_after = 0

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request)
        who = {"service": self.service, "address": address, "username": username}
        verdict = throttle_check(**who)
        if verdict.wait:
            self.retry_after = verdict.wait
            logger.warning(
                "Login refused (%s) for user name %r from %s",
                "abusive address" if verdict.address_blocked else "delay after failures",
                username,
                address,
            )
            message = (
                address_blocked_message(verdict.wait)
                if verdict.address_blocked
                else too_many_attempts_message(verdict.wait)
            )
            raise forms.ValidationError(message, code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle_failure_record(**who)
            logger.warning("Failed login for user name %r from %s", username, address)
            raise
        throttle_success(**who)
        return cleaned


class WebServiceKeyForm(forms.Form):
    expires_on = forms.DateField(
        label=_("Key expiration date"),
        required=False,
        help_text=_(
            "Leave empty for a key that never expires. The key works until the end of this day."
        ),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_expires_on(self) -> datetime.date | None:
        value = self.cleaned_data.get("expires_on")
        if value is not None and value < timezone.localdate():
            raise forms.ValidationError(_("The expiration date must be today or later."))
        return value


class AvailabilityAccessForm(forms.Form):
    allowed = forms.BooleanField(
        label=_("May use the item availability web service"), required=False
    )


class ApiTokenForm(WebServiceKeyForm):
    """The expiry of a new REST API token; the same rule as for web service keys."""

    expires_on = forms.DateField(
        label=_("Token expiration date"),
        required=False,
        help_text=_(
            "Leave empty for a token that never expires. The token works until the end of this day."
        ),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
