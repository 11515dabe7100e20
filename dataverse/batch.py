"""OData `$batch` (multipart/mixed) request writer and response parser.

Written against the published exchanges: parts are `application/http` with an embedded request
line, change sets are nested multipart parts whose operations carry `Content-ID`. The parser is
lenient about line endings (CRLF or LF), quoted or unquoted boundaries, and a missing boundary in
the outer Content-Type (it then takes the first delimiter line of the body).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import DataverseError, error_from_response

CRLF = "\r\n"
_ENTITY_ID_RE = re.compile(
    r"\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)\s*$"
)


@dataclass
class BatchRequest:
    """One operation. `url` is absolute, relative to the Web API root, or a `$n` reference."""

    method: str
    url: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_id: str | None = None


@dataclass
class ChangeSet:
    """Operations that succeed or fail together."""

    requests: list[BatchRequest]


@dataclass
class BatchResponse:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None
    changeset: int | None = None  # index of the change set in the batch, None if outside one

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None

    @property
    def entity_id(self) -> uuid.UUID | None:
        return entity_id_from_url(self.header("OData-EntityId") or self.header("Location"))

    def error(self) -> DataverseError:
        return error_from_response(self.status, self.body)


def entity_id_from_url(url: str | None) -> uuid.UUID | None:
    """The GUID at the end of an `OData-EntityId` URL like `.../accounts(<guid>)`."""
    if not url:
        return None
    match = _ENTITY_ID_RE.search(url.strip())
    return uuid.UUID(match.group(1)) if match else None


def _encode_body(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body).decode("utf-8")
    if isinstance(body, str):
        return body
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


def _write_operation(lines: list[str], request: BatchRequest, api_root: str) -> None:
    lines.append("Content-Type: application/http")
    lines.append("Content-Transfer-Encoding: binary")
    if request.content_id is not None:
        lines.append(f"Content-ID: {request.content_id}")
    lines.append("")
    url = request.url
    if not (url.startswith("http://") or url.startswith("https://") or url.startswith("$")):
        url = api_root.rstrip("/") + "/" + url.lstrip("/")
    lines.append(f"{request.method.upper()} {url} HTTP/1.1")
    headers = dict(request.headers)
    body = _encode_body(request.body)
    if body and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json; type=entry"
    for name, value in headers.items():
        lines.append(f"{name}: {value}")
    lines.append("")
    lines.append(body)


def build_batch(
    items: Sequence[BatchRequest | ChangeSet], api_root: str, boundary: str | None = None
) -> tuple[str, bytes]:
    """Return (Content-Type header value, body bytes) for a `$batch` POST."""
    boundary = boundary or f"batch_{uuid.uuid4()}"
    lines: list[str] = []
    for item in items:
        lines.append(f"--{boundary}")
        if isinstance(item, ChangeSet):
            cs_boundary = f"changeset_{uuid.uuid4()}"
            lines.append(f'Content-Type: multipart/mixed; boundary="{cs_boundary}"')
            lines.append("")
            for number, request in enumerate(item.requests, start=1):
                if request.content_id is None:
                    request.content_id = str(number)
                lines.append(f"--{cs_boundary}")
                _write_operation(lines, request, api_root)
            lines.append(f"--{cs_boundary}--")
            lines.append("")
        else:
            _write_operation(lines, item, api_root)
    lines.append(f"--{boundary}--")
    lines.append("")
    return f'multipart/mixed; boundary="{boundary}"', CRLF.join(lines).encode("utf-8")


# --- parsing ------------------------------------------------------------------------------

_BOUNDARY_RE = re.compile(r'boundary\s*=\s*"?([^";,\s]+)"?', re.IGNORECASE)


def boundary_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _BOUNDARY_RE.search(content_type)
    return match.group(1) if match else None


def _split_head(block: bytes) -> tuple[list[str], bytes]:
    """Split a MIME part / HTTP message into header lines and body at the first blank line."""
    normalized = block
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = normalized.find(separator)
        if index != -1:
            head, body = normalized[:index], normalized[index + len(separator) :]
            break
    else:
        head, body = normalized, b""
    lines = [ln.rstrip() for ln in head.decode("utf-8", "replace").splitlines()]
    return lines, body


def _headers(lines: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers


def _split_parts(body: bytes, boundary: str) -> list[bytes]:
    delimiter = ("--" + boundary).encode()
    pieces = re.split(rb"(?:\r?\n)?" + re.escape(delimiter), body)
    parts: list[bytes] = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break  # close delimiter
        parts.append(re.sub(rb"^[ \t]*\r?\n", b"", piece, count=1))
    return parts


def _strip_body(body: bytes) -> bytes:
    return body.strip(b"\r\n") if body.strip() else b""


def _parse_http_part(
    part: bytes, part_headers: Mapping[str, str], changeset: int | None
) -> BatchResponse:
    lines, body = _split_head(part)
    while lines and not lines[0]:
        lines.pop(0)
    status_line = lines[0] if lines else ""
    match = re.match(r"HTTP/\d\.\d\s+(\d{3})\s*(.*)", status_line.strip())
    if not match:
        raise DataverseError(f"Unreadable $batch response part: {status_line[:100]!r}")
    return BatchResponse(
        status=int(match.group(1)),
        reason=match.group(2).strip(),
        headers=_headers(lines[1:]),
        body=_strip_body(body),
        content_id=part_headers.get("content-id"),
        changeset=changeset,
    )


def parse_batch(content_type: str | None, body: bytes) -> list[BatchResponse]:
    """Flatten a `$batch` response into its operation responses, in order."""
    boundary = boundary_of(content_type)
    if not boundary:
        # Some recorded responses omit the header: the first delimiter line names it.
        for line in body.decode("utf-8", "replace").splitlines():
            if line.startswith("--"):
                boundary = line[2:].strip()
                break
    if not boundary:
        raise DataverseError("A $batch response without a multipart boundary")
    responses: list[BatchResponse] = []
    changeset_index = 0
    for part in _split_parts(body, boundary):
        part_lines, part_body = _split_head(part)
        headers = _headers(part_lines)
        part_type = headers.get("content-type", "")
        if part_type.lower().startswith("multipart/mixed"):
            inner = boundary_of(part_type)
            if not inner:
                raise DataverseError("A change set response without a boundary")
            for inner_part in _split_parts(part_body, inner):
                inner_lines, inner_body = _split_head(inner_part)
                responses.append(
                    _parse_http_part(inner_body, _headers(inner_lines), changeset_index)
                )
            changeset_index += 1
        else:
            responses.append(_parse_http_part(part_body, headers, None))
    return responses
