"""Typed errors of the Dataverse Web API client.

Every error carries Dataverse's own `code` (hex string, may be empty) and `message`, and the HTTP
`status` (None when no response came back). `permanent` tells callers whether retrying the same
request later can help: validation, duplicates, missing rows and missing privileges never heal
by themselves; throttling, server errors and network trouble do.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Dataverse codes that mean "this row already exists" whatever HTTP status carries them.
DUPLICATE_CODES = frozenset(
    {
        "0x80040237",  # DuplicateRecord (SQL integrity violation, e.g. primary key)
        "0x80060892",  # DuplicateRecordEntityKey (alternate key)
        "0x80040333",  # DuplicateRecordsFound (duplicate detection)
        "0x80073002",  # CrmSQLUniqueIndexOrConstraintViolation
        "0x80048cf3",  # DuplicateIsoCurrencyCode
        "0x80043b06",  # ProductProductNumberExists
        "0x80043b08",  # DuplicateProductPriceLevel
    }
)
NOT_FOUND_CODES = frozenset({"0x80040217", "0x80060891", "0x80060888"})
FORBIDDEN_CODES = frozenset({"0x80040220", "0x80040231"})
THROTTLE_CODES = frozenset({"0x80072322", "0x80072321", "0x80072326"})


class DataverseError(Exception):
    """Base class: anything the CRM (or the way to it) answered that is not a success."""

    permanent: bool = True
    # True when the client had sent the request more than once: an earlier attempt may have
    # been carried out (a 404 on a retried delete means "already deleted").
    retried: bool = False

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        code: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.__class__.__name__
        self.status = status
        self.code = code or ""
        self.details = details or {}
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"(code {self.code})")
        if self.status is not None:
            parts.append(f"[HTTP {self.status}]")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r})"
        )


class AuthenticationFailed(DataverseError):
    """The token endpoint refused us, or the CRM said 401 even with a fresh token."""


class NotFound(DataverseError):
    """404: unknown row, unknown entity set (wrong URL) or unknown alternate key value."""


class Duplicate(DataverseError):
    """The row (or its alternate key / unique column) already exists."""


class PreconditionFailed(DataverseError):
    """412: the ETag no longer matches, or If-None-Match: * found an existing row."""


class Forbidden(DataverseError):
    """403: the CRM user lacks a privilege."""


class ValidationFailed(DataverseError):
    """400 and other 4xx: the request itself is wrong (bad column, too long, required field)."""


class AlreadyExists(Duplicate, PreconditionFailed):
    """412 with a duplicate code: If-None-Match: * (or a create) met an existing row."""


class Throttled(DataverseError):
    """429: service protection limits. `retry_after` is the wait the server asked for, in s."""

    permanent = False

    def __init__(self, message: str = "", *, retry_after: float = 0.0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class TransientError(DataverseError):
    """5xx, timeouts and connection resets: worth retrying later."""

    permanent = False


class ConnectionFailed(TransientError):
    """No HTTP answer at all. `reason` is one of dns, refused, tls, timeout, reset, other."""

    def __init__(self, message: str = "", *, reason: str = "other", host: str = "", **kwargs: Any):
        super().__init__(message, **kwargs)
        self.reason = reason
        self.host = host


class AddressNotAllowed(DataverseError):
    """The URL's host resolves to an address the outbound-address policy refuses
    (dataverse.addresses); nothing was sent to it."""

    def __init__(self, message: str = "", *, host: str = "", address: str = "", **kwargs: Any):
        super().__init__(message, **kwargs)
        self.host = host
        self.address = address


class UnsupportedMessage(ValidationFailed):
    """The table does not support a bulk message (CreateMultiple/...); the client falls back."""


class RolledBack(DataverseError):
    """Not written because another operation of the same atomic unit failed."""

    permanent = False


def error_from_response(
    status: int, body: Any, *, retry_after: float | None = None
) -> DataverseError:
    """Map an HTTP error status + Dataverse error body to the typed error."""
    code, message, details = parse_error_body(body)
    if not message:
        message = f"HTTP {status}"
    kwargs: dict[str, Any] = {"status": status, "code": code, "details": details}
    lowered = code.lower()
    if status == 429 or lowered in THROTTLE_CODES:
        return Throttled(message, retry_after=retry_after or 0.0, **kwargs)
    if status == 401:
        return AuthenticationFailed(message, **kwargs)
    if status == 412 and lowered in DUPLICATE_CODES:
        return AlreadyExists(message, **kwargs)
    if lowered in DUPLICATE_CODES or status == 409:
        return Duplicate(message, **kwargs)
    if status == 403 or lowered in FORBIDDEN_CODES:
        return Forbidden(message, **kwargs)
    if status == 404:
        return NotFound(message, **kwargs)
    if status == 412:
        return PreconditionFailed(message, **kwargs)
    if status >= 500 and status != 501:
        return TransientError(message, **kwargs)
    if 400 <= status < 500:
        return ValidationFailed(message, **kwargs)
    return DataverseError(message, **kwargs)


def parse_error_body(body: Any) -> tuple[str, str, dict[str, Any]]:
    """(code, message, annotations) from `{"error": {"code", "message", "@...": ...}}`."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body or b"{}")
        except ValueError:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            # Malformed JSON still names code and message often enough to be worth reading.
            code = re.search(r'"code"\s*:\s*"([^"]*)"', text)
            message = re.search(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)"', text)
            if message:
                return (code.group(1) if code else ""), message.group(1), {}
            # Anything else (an HTML page, a proxy's banner) is not repeated: whoever the URL
            # points at must not get their text shown in our pages or logs.
            return "", "", {}
    if not isinstance(body, dict):
        return "", "", {}
    error = body.get("error")
    if isinstance(error, dict):
        details = {k: v for k, v in error.items() if k not in ("code", "message")}
        return str(error.get("code") or ""), str(error.get("message") or ""), details
    if isinstance(error, str):
        # Entra ID token endpoint errors: {"error": "invalid_client", "error_description": ...}
        details = {k: v for k, v in body.items() if k not in ("error", "error_description")}
        return error, str(body.get("error_description") or error), details
    return "", "", {}
