"""OData `$batch` for the sandbox: multipart/mixed parsing and writing, sequential execution,
atomic change sets with Content-ID references, stop-on-error or `odata.continue-on-error`."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote

from sandbox.odata import ODataError
from sandbox.protocol import (
    CODE_INVALID_ARGUMENT,
    ApiError,
    Request,
    Response,
    error_response,
    status_line,
)

if TYPE_CHECKING:
    from sandbox.api import Api

MAX_OPERATIONS = 1000
BOUNDARY_RE = re.compile(r'boundary\s*=\s*"?([^";,\s]+)"?', re.IGNORECASE)


@dataclass
class Operation:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    operations: list[Operation] = field(default_factory=list)


def _split_head(block: bytes) -> tuple[dict[str, str], bytes]:
    """Headers up to the first blank line (CRLF or LF), then the rest."""
    m = re.search(rb"\r?\n\r?\n", block)
    if m is None:
        head, rest = block, b""
    else:
        head, rest = block[: m.start()], block[m.end() :]
    headers: dict[str, str] = {}
    for line in re.split(rb"\r?\n", head):
        if b":" in line:
            name, _, value = line.decode("utf-8", "replace").partition(":")
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def split_parts(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    parts: list[bytes] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        # the CRLF before the next delimiter belongs to the delimiter
        part = re.sub(rb"^[ \t]*\r?\n", b"", chunk, count=1)
        part = re.sub(rb"\r?\n$", b"", part, count=1)
        parts.append(part)
    return parts


def parse_operation(part_headers: dict[str, str], payload: bytes) -> Operation:
    payload = payload.lstrip(b"\r\n")
    line_end = re.search(rb"\r?\n", payload)
    request_line = (payload[: line_end.start()] if line_end else payload).decode().strip()
    rest = payload[line_end.end() :] if line_end else b""
    bits = request_line.split()
    if len(bits) < 2:
        raise ApiError(
            400, CODE_INVALID_ARGUMENT, f"Invalid request line in batch: '{request_line}'."
        )
    headers, body = _split_head(rest) if rest.strip() else ({}, b"")
    if rest and re.match(rb"^\r?\n", rest):
        headers, body = {}, rest
    return Operation(
        bits[0].upper(), bits[1], headers, body.strip(), part_headers.get("content-id")
    )


def parse_batch(body: bytes, content_type: str) -> list[Operation | ChangeSet]:
    m = BOUNDARY_RE.search(content_type)
    if not m or "multipart/mixed" not in content_type.lower():
        raise ApiError(
            400,
            CODE_INVALID_ARGUMENT,
            "The $batch request needs Content-Type multipart/mixed with a boundary.",
        )
    items: list[Operation | ChangeSet] = []
    for part in split_parts(body, m.group(1)):
        headers, payload = _split_head(part)
        ctype = headers.get("content-type", "")
        if ctype.lower().startswith("multipart/mixed"):
            inner = BOUNDARY_RE.search(ctype)
            if not inner:
                raise ApiError(400, CODE_INVALID_ARGUMENT, "A change set needs a boundary.")
            changeset = ChangeSet()
            for sub in split_parts(payload, inner.group(1)):
                sub_headers, sub_payload = _split_head(sub)
                changeset.operations.append(parse_operation(sub_headers, sub_payload))
            items.append(changeset)
        else:
            items.append(parse_operation(headers, payload))
    return items


def write_http(response: Response, content_id: str | None) -> bytes:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    lines.append("")
    lines.append(f"HTTP/1.1 {status_line(response.status)}")
    for name, value in response.headers:
        if name.lower() != "content-length":
            lines.append(f"{name}: {value}")
    lines.append("")
    return "\r\n".join(lines).encode() + b"\r\n" + response.body + b"\r\n"


def execute(api: Api, req: Request) -> Response:
    items = parse_batch(req.body, req.headers.get("content-type", ""))
    total = sum(len(i.operations) if isinstance(i, ChangeSet) else 1 for i in items)
    if total > MAX_OPERATIONS:
        raise ApiError(
            400,
            CODE_INVALID_ARGUMENT,
            f"The batch contains {total} requests; the maximum is {MAX_OPERATIONS}.",
        )
    continue_on_error = req.prefer.continue_on_error
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks: list[bytes] = []
    outer_status = 200
    content_ids: dict[str, str] = {}

    def sub_request(op: Operation) -> Request:
        url = op.url
        url = re.sub(r"^https?://[^/]+", "", url)
        version = req.version
        m = re.match(r"^/?api/data/(v9\.[0-2])/?(.*)$", url)
        if m:
            version, url = m.group(1), m.group(2)
        url = url.lstrip("/")
        path, _, query = url.partition("?")
        headers = {**op.headers}
        headers.pop("authorization", None)
        return Request(
            method=op.method,
            path=unquote(path),
            raw_query=query,
            headers=headers,
            body=op.body,
            base=req.base,
            version=version,
            user_id=req.user_id,
            content_ids=content_ids,
            in_batch=True,
        )

    def remember(op: Operation, response: Response) -> None:
        entity = response.header("OData-EntityId")
        if op.content_id and entity:
            content_ids[f"${op.content_id}"] = entity

    # one SQLite transaction for the whole batch: every request or change set is its own
    # savepoint, so a failure undoes exactly that part
    with api.store.transaction():
        for item in items:
            failed: Response | None = None
            if isinstance(item, Operation):
                if item.method not in ("GET", "POST", "PATCH", "PUT", "DELETE"):
                    response = error_response(
                        ApiError(400, CODE_INVALID_ARGUMENT, f"Unsupported method {item.method}.")
                    )
                else:
                    with api.store.savepoint() as undo:
                        response = api.handle(sub_request(item))
                        if response.status >= 400:
                            undo()  # a failed request leaves nothing behind
                remember(item, response)
                chunks.append(b"--" + boundary.encode() + b"\r\n" + write_http(response, None))
                if response.status >= 400:
                    failed = response
            else:
                cs_boundary = f"changesetresponse_{uuid.uuid4()}"
                responses: list[tuple[Operation, Response]] = []
                try:
                    with api.store.savepoint():
                        for op in item.operations:
                            if op.method == "GET":
                                raise _ChangeSetFailure(
                                    op,
                                    error_response(
                                        ApiError(
                                            400,
                                            CODE_INVALID_ARGUMENT,
                                            "GET requests are not allowed inside a change set.",
                                        )
                                    ),
                                )
                            try:
                                response = api.dispatch(sub_request(op))
                            except ApiError as exc:
                                raise _ChangeSetFailure(op, error_response(exc)) from exc
                            except ODataError as exc:
                                raise _ChangeSetFailure(
                                    op, error_response(ApiError(400, exc.code, exc.message))
                                ) from exc
                            remember(op, response)
                            responses.append((op, response))
                except _ChangeSetFailure as failure:
                    for op, _ in responses:
                        content_ids.pop(f"${op.content_id}", None)
                    failed = failure.response
                    chunks.append(
                        b"--"
                        + boundary.encode()
                        + b"\r\n"
                        + write_http(failure.response, failure.op.content_id)
                    )
                else:
                    inner = b"".join(
                        b"--" + cs_boundary.encode() + b"\r\n" + write_http(resp, op.content_id)
                        for op, resp in responses
                    )
                    chunks.append(
                        b"--"
                        + boundary.encode()
                        + b"\r\n"
                        + f"Content-Type: multipart/mixed; boundary={cs_boundary}\r\n\r\n".encode()
                        + inner
                        + b"--"
                        + cs_boundary.encode()
                        + b"--\r\n"
                    )
            if failed is not None and not continue_on_error:
                outer_status = failed.status
                break
    body = b"".join(chunks) + b"--" + boundary.encode() + b"--\r\n"
    return Response(
        outer_status,
        [("Content-Type", f"multipart/mixed; boundary={boundary}"), ("OData-Version", "4.0")],
        body,
    )


class _ChangeSetFailure(Exception):
    def __init__(self, op: Operation, response: Response) -> None:
        super().__init__(response.status)
        self.op = op
        self.response = response
