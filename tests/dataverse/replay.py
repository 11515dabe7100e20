"""Published Dataverse exchanges (`dataverse-examples/*.http`) and a tiny server replaying them.

The loader reads each `### ... Request` / `### ... Response` section; the server is a real
stdlib HTTP server on a free port that answers configured routes with the recorded status,
headers and body (placeholders like `[Organization URI]` become the server's own URL).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.examples import EXAMPLES_DIR

_PLACEHOLDER = re.compile(r"\[Organization (?:URI|Uri)\]")
_TRUNCATED = re.compile(r"^\s*\.\.\.\s*<Truncated for brevity>\s*$", re.MULTILINE)


@dataclass
class Recorded:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: str

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class RecordedRequest:
    method: str
    target: str  # as written (may contain [Organization URI])
    headers: list[tuple[str, str]]
    body: str


def example_path(prefix: str) -> Path:
    matches = sorted(EXAMPLES_DIR.glob(f"{prefix}*.http"))
    assert matches, f"no example {prefix}*"
    return matches[0]


def sections(prefix: str) -> list[tuple[str, str]]:
    """[(heading, text)] of the `### heading` sections of one example file."""
    text = example_path(prefix).read_text(encoding="utf-8")
    result: list[tuple[str, str]] = []
    for chunk in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        heading, _, body = chunk.partition("\n")
        result.append((heading.strip(), body))
    return result


def section(prefix: str, heading_part: str) -> str:
    for heading, body in sections(prefix):
        if heading_part.lower() in heading.lower():
            return body
    raise AssertionError(f"no section {heading_part!r} in {prefix}")


def _split_head_body(lines: list[str]) -> tuple[list[str], str]:
    head: list[str] = []
    for position, line in enumerate(lines):
        stripped = line.strip()
        # Published text sometimes omits the blank line before the body.
        if not stripped or stripped.startswith(("{", "--")) or (head and stripped.isdigit()):
            rest = lines[position + 1 :] if not stripped else lines[position:]
            return head, "\n".join(rest).strip("\n")
        head.append(stripped)
    return head, ""


def parse_response(text: str) -> Recorded:
    lines = text.strip("\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    status_line = lines[0].strip()
    match = re.match(r"HTTP/1\.1\s+(\d{3})\s*(.*)", status_line) or re.match(
        r"StatusCode:\s*(\d{3})\s*\(?([^)]*)\)?", status_line
    )
    assert match, status_line
    head, body = _split_head_body(lines[1:])
    headers = []
    for line in head:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return Recorded(int(match.group(1)), match.group(2).strip(), headers, body)


def parse_request(text: str) -> RecordedRequest:
    lines = [ln for ln in text.strip("\n").split("\n")]
    first = lines[0].strip()
    method, target = first.split(" ", 1)
    target = re.sub(r"\s+HTTP/1\.1$", "", target.strip())
    head, body = _split_head_body(lines[1:])
    headers = [(n.strip(), v.strip()) for n, _, v in (h.partition(":") for h in head) if n]
    return RecordedRequest(method, target, headers, body)


def repair_truncated_json(body: str) -> str:
    """Published bodies marked "<Truncated for brevity>" are not valid JSON: drop the marker."""
    body = _TRUNCATED.sub("", body)
    body = re.sub(r",?\s*\[\s*\}\s*$", "]\n}", body)  # 03: a stray "[" after the cut
    body = re.sub(r",\s*(\])", r"\n\1", body)
    return body


def same_escapes(url: str) -> str:
    """urllib3 upper-cases percent-escapes (%2f -> %2F, equivalent per RFC 3986 6.2.2.1)."""
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), url)


@dataclass
class Received:
    method: str
    path: str  # path + query exactly as received
    headers: dict[str, str]
    body: bytes


@dataclass
class Route:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    reason: str = ""
    used: bool = False


class ReplayServer:
    """Routes: (METHOD, path[?query]) -> Route. A route without '?' matches any query."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Route]] = {}
        self.received: list[Received] = []
        self.default: Route | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.received.append(
                    Received(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                route = server._match(self.command, self.path)
                payload = server.substitute(route.body).encode("utf-8")
                self.send_response(route.status, route.reason or None)
                for name, value in route.headers:
                    if name.lower() == "content-length":
                        continue
                    self.send_header(name, server.substitute(value))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload and route.status not in (204, 304):
                    self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def substitute(self, text: str) -> str:
        return _PLACEHOLDER.sub(self.url, text)

    def add(self, method: str, path: str, route: Route | Recorded) -> None:
        if isinstance(route, Recorded):
            # 204/304 bodies are empty by definition.
            route = Route(route.status, route.headers, route.body, route.reason)
        self.routes.setdefault((method, same_escapes(self.substitute(path))), []).append(route)

    def _match(self, method: str, path: str) -> Route:
        path = same_escapes(path)
        for key in ((method, path), (method, path.split("?", 1)[0])):
            queue = self.routes.get(key)
            if queue:
                # Routes answer in the order added; the last one keeps answering.
                route = next((r for r in queue if not r.used), queue[-1])
                route.used = True
                return route
        return self.default or Route(599, [], f"no route for {method} {path}")

    def api_requests(self) -> list[Received]:
        return [r for r in self.received if "/oauth2/" not in r.path]

    def __enter__(self) -> ReplayServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
