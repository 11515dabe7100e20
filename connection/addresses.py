"""Addresses of the CRM: normalising and checking the environment and token URLs.

Typed by administrators, so every way they can be wrong gets its own message (and the field it
concerns); no network here.
"""

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from django.utils.translation import gettext as _

from .errors import ConnectionProblem

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


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
