"""Loader for the published Dataverse exchanges in tests/fixtures/dataverse-examples/*.http.

The files are used exactly as published (never edited): a file is split into sections at
`### ` headings; a section holds one or more HTTP requests, or one response. Placeholders
(`[Organization URI]`, `[Organization Uri]`) and the documentation hosts (`yourorg...`) are
replaced with the URL of the server under test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The published exchanges, copied byte for byte into the repository (tests/fixtures/README.md).
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "dataverse-examples"

PLACEHOLDERS = ("[Organization URI]", "[Organization Uri]")
DOC_HOSTS = (
    "https://yourorg.api.crm.dynamics.com",
    "https://yourorg.crm.dynamics.com",
)
REQUEST_LINE = re.compile(
    r"^(GET|POST|PATCH|PUT|DELETE)\s+(.+?)(?:\s+HTTP/1\.1)?(?:\s+//.*)?\s*$", re.IGNORECASE
)
HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*)\s*:\s*(.*)$")
STATUS_LINE = re.compile(r"^HTTP/1\.1\s+(\d{3})\s*(.*)$")
STATUS_PS = re.compile(r"^StatusCode:\s*(\d{3})")


class _HasHeaders:
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class HttpRequest(_HasHeaders):
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: str

    def headers_dict(self, *, skip: tuple[str, ...] = ("content-length", "host")) -> dict[str, str]:
        """Headers for `requests`; repeated names (two Prefer lines) are folded with ','."""
        result: dict[str, str] = {}
        for key, value in self.headers:
            if key.lower() in skip:
                continue
            name = next((k for k in result if k.lower() == key.lower()), key)
            result[name] = f"{result[name]},{value}" if name in result else value
        return result

    def body_bytes(self) -> bytes:
        """The body with CRLF line ends (multipart needs them; JSON does not mind)."""
        text = self.body
        if not text:
            return b""
        return re.sub(r"\r?\n", "\r\n", text).encode()


@dataclass
class HttpResponse(_HasHeaders):
    status: int | None
    headers: list[tuple[str, str]]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None


@dataclass
class Section:
    title: str
    text: str
    requests: list[HttpRequest] = field(default_factory=list)
    response: HttpResponse | None = None

    @property
    def is_response(self) -> bool:
        return "response" in self.title.lower() or "output" in self.title.lower()


@dataclass
class Example:
    path: Path
    comments: list[str]
    sections: list[Section]

    @property
    def name(self) -> str:
        return self.path.name

    def section(self, title_start: str) -> Section:
        for section in self.sections:
            if section.title.lower().startswith(title_start.lower()):
                return section
        raise KeyError(f"{self.name}: no section starting with {title_start!r}")

    def request(self, title_start: str, index: int = 0) -> HttpRequest:
        return self.section(title_start).requests[index]

    def response(self, title_start: str) -> HttpResponse:
        response = self.section(title_start).response
        assert response is not None, f"{self.name}: section {title_start!r} has no response"
        return response


def substitute(text: str, base_url: str) -> str:
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder, base_url)
    for host in DOC_HOSTS:
        text = text.replace(host, base_url)
    return text


def _strip(line: str) -> str:
    return line.rstrip()


def parse_requests(text: str) -> list[HttpRequest]:
    lines = text.split("\n")
    requests_: list[HttpRequest] = []
    i = 0
    while i < len(lines):
        m = REQUEST_LINE.match(lines[i].strip())
        if not m:
            i += 1
            continue
        method, url = m.group(1).upper(), m.group(2)
        i += 1
        while i < len(lines) and lines[i].strip().startswith("&"):  # published line breaks in URLs
            url += lines[i].strip()
            i += 1
        headers: list[tuple[str, str]] = []
        while i < len(lines) and lines[i].strip():
            hm = HEADER_LINE.match(lines[i].strip())
            if not hm:
                break  # a body that follows the headers without a blank line (example 30)
            headers.append((hm.group(1), hm.group(2).strip()))
            i += 1
        while i < len(lines) and not lines[i].strip() and i + 1 < len(lines):
            i += 1
            if lines[i].strip():
                break
        body_lines: list[str] = []
        multipart = any(
            k.lower() == "content-type" and "multipart" in v.lower() for k, v in headers
        )
        while i < len(lines):
            line = lines[i]
            if (
                not multipart
                and REQUEST_LINE.match(line.strip())
                and (not body_lines or not body_lines[-1].strip())
            ):
                break
            body_lines.append(_strip(line))
            i += 1
        body = "\n".join(body_lines).strip("\n")
        body = body.strip() if not multipart else body.rstrip() + "\n"
        requests_.append(HttpRequest(method, url, headers, body))
    return requests_


def parse_response(text: str) -> HttpResponse:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    status: int | None = None
    headers: list[tuple[str, str]] = []
    if lines and (m := STATUS_LINE.match(lines[0].strip())):
        status = int(m.group(1))
        lines.pop(0)
        while lines and lines[0].strip():
            hm = HEADER_LINE.match(lines[0].strip())
            if not hm:
                break
            headers.append((hm.group(1), hm.group(2).strip()))
            lines.pop(0)
    elif lines and (m := STATUS_PS.match(lines[0].strip())):
        status = int(m.group(1))
        lines.pop(0)
    body = "\n".join(lines).strip()
    return HttpResponse(status, headers, body)


def load_example(path: Path | str, base_url: str = "http://sandbox.invalid") -> Example:
    path = Path(path)
    if not path.is_absolute():
        path = EXAMPLES_DIR / path
    raw = substitute(path.read_text(encoding="utf-8"), base_url)
    comments: list[str] = []
    sections: list[Section] = []
    current: Section | None = None
    buf: list[str] = []
    for line in raw.split("\n"):
        if line.startswith("### "):
            if current is not None:
                current.text = "\n".join(buf)
                sections.append(current)
            current = Section(line[4:].strip(), "")
            buf = []
        elif current is None:
            if line.startswith("#"):
                comments.append(line.lstrip("# ").rstrip())
        else:
            buf.append(line)
    if current is not None:
        current.text = "\n".join(buf)
        sections.append(current)
    for section in sections:
        first = next((line.strip() for line in section.text.split("\n") if line.strip()), "")
        if REQUEST_LINE.match(first):
            section.requests = parse_requests(section.text)
        elif first:
            section.response = parse_response(section.text)
    return Example(path, comments, sections)


def all_example_files() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.http"))


def _head_and_body(text: str) -> tuple[dict[str, str], str]:
    m = re.search(r"\r?\n\r?\n", text)
    head, rest = (text[: m.start()], text[m.end() :]) if m else (text, "")
    headers: dict[str, str] = {}
    for line in head.splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    return headers, rest


def parse_multipart(body: bytes | str, content_type: str) -> list[dict[str, Any]]:
    """Parse a $batch response into parts: {"headers", "status", "http_headers", "body"}, or
    {"headers", "parts"} for a change set."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    m = re.search(r'boundary="?([^";\s]+)"?', content_type)
    assert m, content_type
    boundary = m.group(1)
    result: list[dict[str, Any]] = []
    for chunk in body.split(f"--{boundary}")[1:]:
        if chunk.startswith("--"):
            break
        chunk = re.sub(r"^[ \t]*\r?\n", "", chunk, count=1)
        part_headers, rest = _head_and_body(chunk)
        ctype = part_headers.get("content-type", "")
        if ctype.startswith("multipart/mixed"):
            result.append({"headers": part_headers, "parts": parse_multipart(rest, ctype)})
            continue
        rest = rest.lstrip("\r\n")
        status_line, _, after = rest.partition("\n")
        sm = STATUS_LINE.match(status_line.strip())
        http_headers, http_body = _head_and_body(after)
        if not re.search(r"\r?\n\r?\n", after):
            http_body = ""
        result.append(
            {
                "headers": part_headers,
                "status": int(sm.group(1)) if sm else None,
                "http_headers": http_headers,
                "body": http_body.strip(),
            }
        )
    return result
