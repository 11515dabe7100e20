"""Addresses of the CRM: normalising and checking the environment and token URLs, and the
outbound-address policy every CRM connection of the app obeys.

Typed by administrators, so every way they can be wrong gets its own message (and the field it
concerns); no network here. What a host name resolves to is checked when connecting
(dataverse.addresses), on every connection.
"""

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from dataverse.addresses import AddressPolicy, is_public

from .errors import ConnectionProblem

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def private_addresses_allowed() -> bool:
    return bool(settings.CRM_ALLOW_PRIVATE_ADDRESSES)


def address_policy() -> AddressPolicy:
    """The policy of every CRM connection: public addresses only, unless the installation
    allows private ones (development, tests, an on-premises CRM)."""
    return AddressPolicy(allow_private=private_addresses_allowed())


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_url(*, raw: str, field_name: str) -> tuple[str, SplitResult]:
    text = (raw or "").strip()
    if not text:
        raise ConnectionProblem(_("Enter a URL."), field=field_name, code="required")
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ConnectionProblem(
            _("%(url)s is not a valid URL.") % {"url": raw.strip()},
            field=field_name,
            code="malformed",
        ) from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https"):
        raise ConnectionProblem(
            _("Only https:// URLs are supported (not %(scheme)s://).") % {"scheme": scheme},
            field=field_name,
            code="scheme",
        )
    valid_host = bool(host) and (_HOSTNAME.match(host) or _is_ip(host)) and " " not in text
    if not valid_host:
        raise ConnectionProblem(
            _("%(url)s is not a valid URL: the host name is missing or malformed.")
            % {"url": raw.strip()},
            field=field_name,
            code="malformed",
        )
    if scheme == "http" and not _is_loopback(host):
        raise ConnectionProblem(
            _(
                "The CRM must be reached over a secure connection: use https://. Plain http:// "
                "is accepted only for "
                "a CRM on this computer (127.0.0.1, localhost, ::1)."
            ),
            field=field_name,
            code="https_required",
        )
    if not private_addresses_allowed():
        if scheme == "http":
            raise ConnectionProblem(
                _("The CRM must be reached over a secure connection: use https://."),
                field=field_name,
                code="https_required",
            )
        if host == "localhost" or (_is_ip(host) and not is_public(host)):
            raise ConnectionProblem(
                _(
                    "%(host)s is a private, loopback or reserved network address. This "
                    "installation connects only to public addresses; an on-premises CRM on a "
                    "private network needs CRM_ALLOW_PRIVATE_ADDRESSES=true."
                )
                % {"host": host},
                field=field_name,
                code="address_not_allowed",
            )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}", parts


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def environment_url_normalize(*, url: str) -> tuple[str, str]:
    """(normalised URL, notice). Trims, adds https://, drops a trailing slash and any path."""
    base, parts = _split_url(raw=url, field_name="environment_url")
    notice = ""
    if parts.path.strip("/") or parts.query or parts.fragment:
        notice = _(
            "The environment URL must not contain a path: %(removed)s was removed and %(url)s is "
            "used."
        ) % {
            "removed": (parts.path + ("?" + parts.query if parts.query else "")) or "/",
            "url": base,
        }
    return base, notice


def token_url_normalize(*, url: str) -> str:
    base, parts = _split_url(raw=url, field_name="token_url")
    return base + parts.path + ("?" + parts.query if parts.query else "")
