"""The sandbox's HTTP vocabulary, shared by every other module: request and response types,
Dataverse error codes, the error body, ETags and status lines.

It imports nothing of the sandbox but `odata` (the query-option parsers), so the API, `$batch`,
the solution import, the seed and the WSGI app can all import it at module level without a
cycle.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_plus

from sandbox import clock, odata

JSON_TYPE = "application/json; odata.metadata=minimal"
MAX_PAGE = 5000
FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL = "Microsoft.Dynamics.CRM.lookuplogicalname"
ASSOCIATED_NAV = "Microsoft.Dynamics.CRM.associatednavigationproperty"
VERSION_RE = re.compile(r"^v9\.[0-2]$")

# Dataverse error codes (Web API hex values). Where Microsoft documents none for a case the
# sandbox chose one; docs/contracts.md and docs/sandbox.md say which.
CODE_NOT_FOUND_SEGMENT = "0x80060888"
CODE_OBJECT_NOT_FOUND = "0x80040217"
CODE_KEY_NOT_FOUND = "0x80060891"
CODE_DUPLICATE = "0x80040237"
CODE_DUPLICATE_KEY = "0x80060892"
CODE_VALIDATION = "0x80044331"
CODE_REQUIRED = "0x80040200"
CODE_BAD_PROPERTY = "0x80048d19"
CODE_CONCURRENCY = "0x80060882"
CODE_PRIVILEGE = "0x80040220"
CODE_NOT_SUPPORTED = "0x80040315"
CODE_INVALID_ARGUMENT = "0x80040203"
CODE_EXPIRED_VERSION = "0x80044352"
CODE_METHOD = "0x80060888"
CODE_NOT_MEMBER = "0x80072560"
CODE_USER_DISABLED = "0x80040225"
CODE_NOT_AUTHENTICATED = "0x80044302"
CODE_UNEXPECTED = "0x80040216"
CODE_INVALID_FILE = "0x80048060"
CODE_DUPLICATE_JOB = "0x80071152"
# Dataverse documents that a JSON body needs `Content-Type: application/json` but publishes no
# exchange for its absence; 415 is the status, the code is the sandbox's choice (the payload
# error code), see docs/sandbox.md.
CODE_UNSUPPORTED_MEDIA_TYPE = "0x80048d19"


class ApiError(Exception):
    """A Dataverse error answer: status, hex code, message (and extra headers)."""

    def __init__(
        self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


@dataclass
class Request:
    method: str
    path: str  # resource path after /api/data/v9.x/ (percent-decoded)
    raw_query: str
    headers: dict[str, str]  # lower-case names; repeated Prefer headers joined by ","
    body: bytes
    base: str  # environment URL, e.g. http://127.0.0.1:8765
    version: str  # v9.0 / v9.1 / v9.2
    user_id: str = ""
    content_ids: dict[str, str] = field(default_factory=dict)  # "$1" -> absolute entity URL
    in_batch: bool = False

    @property
    def root(self) -> str:
        return f"{self.base}/api/data/{self.version}/"

    @functools.cached_property
    def query(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for part in self.raw_query.split("&"):
            if not part:
                continue
            name, _, value = part.partition("=")
            result[unquote_plus(name).strip()] = unquote_plus(value)
        return result

    @functools.cached_property
    def prefer(self) -> odata.Prefer:
        value = self.headers.get("prefer", "")
        return odata.parse_prefer([value] if value else [])

    def json_body(self) -> Any:
        """The JSON body, checked when a handler reads it: routing, authorization and
        preconditions come first (Microsoft's published 412 for a stale If-Match is answered
        whatever the body)."""
        if not self.body.strip():
            return {}
        require_json_content_type(self)
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(
                400, CODE_BAD_PROPERTY, f"The request body is not valid JSON: {exc}"
            ) from exc


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def require_json_content_type(req: Request) -> None:
    """A JSON body must say it is JSON, as Dataverse requires: a client that forgets the
    header would work against a lenient double and fail against the real service."""
    if not req.body.strip():
        return
    given = req.headers.get("content-type", "")
    if given.split(";", 1)[0].strip().lower() == "application/json":
        return
    raise ApiError(
        int(HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
        CODE_UNSUPPORTED_MEDIA_TYPE,
        f"The request entity's media type '{given or 'application/octet-stream'}' is not "
        "supported for this resource. Send a JSON body with 'Content-Type: application/json'.",
    )


def status_line(status: int) -> str:
    """`204 No Content`: the status and its reason phrase, as WSGI and `$batch` parts need."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"{status} {phrase}"


def json_response(
    status: int, payload: Any, headers: list[tuple[str, str]] | None = None
) -> Response:
    return Response(
        status,
        [("Content-Type", JSON_TYPE), ("OData-Version", "4.0"), *(headers or [])],
        json.dumps(payload, ensure_ascii=False).encode(),
    )


def error_response(exc: ApiError) -> Response:
    return json_response(
        exc.status, {"error": {"code": exc.code, "message": exc.message}}, exc.headers
    )


def utcnow_iso() -> str:
    return clock.utcnow_iso()


def etag(row: dict[str, Any]) -> str:
    return f'W/"{row["versionnumber"]}"'
