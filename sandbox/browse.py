"""Read-only HTML pages to look at the sandbox tables (`/` and `/browse/<set>/`)."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sandbox.protocol import Response

if TYPE_CHECKING:
    from sandbox.app import SandboxApp

PAGE_SIZE = 50
# The browse pages need no sign-in, so a column that may hold a credential (the ERP connection
# record's web service key, a password, a token) is never shown: only whether it is set.
SECRET_MARKERS = ("key", "secret", "password", "token")
MASK = "••••"
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}"
    "table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.2rem .4rem;"  # noqa: E501
    "vertical-align:top;text-align:left}th{background:#f3f3f3}a{color:#0a58ca}"
    ".muted{color:#777}nav a{margin-right:1rem}"
)


def document(title: str, body: str, style: str = "") -> Response:
    """A sandbox HTML page (the browse pages', and the order pages' in sandbox/sales.py)."""
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{STYLE}{style}</style></head><body>{body}</body></html>"
    )
    return Response(200, [("Content-Type", "text/html; charset=utf-8")], page.encode())


def is_secret_column(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def _cell(column: str, value: Any) -> str:
    if value is not None and value != "" and is_secret_column(column):
        return MASK
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return html.escape(text)


def page(app: SandboxApp, environ: dict[str, Any], path: str) -> Response:
    tables = sorted(app.registry().values(), key=lambda t: t.entity_set)
    if path == "/":
        listing = "".join(
            f"<tr><td><a href='/browse/{t.entity_set}/'>{t.entity_set}</a></td><td>{t.logical}</td>"
            f"<td>{app.store.count(t.entity_set)}</td><td>{'yes' if t.change_tracking else 'no'}</td>"  # noqa: E501
            f"<td>{'yes' if t.bulk else 'no'}</td></tr>"
            for t in tables
        )
        return document(
            "Sandbox CRM",
            "<h1>Sandbox CRM</h1><p class='muted'>A Dataverse-compatible test double. Web API root: "  # noqa: E501
            "<code>/api/data/v9.2/</code>. This page is read-only; salespeople work on orders at "
            "<a href='/sales/'>/sales/</a>.</p>"
            "<table><tr><th>Entity set</th><th>Table</th><th>Rows</th><th>Change tracking</th>"
            f"<th>Bulk messages</th></tr>{listing}</table>",
        )
    name = path[len("/browse/") :].strip("/")
    table = next((t for t in tables if t.entity_set == name), None)
    if table is None:
        return Response(404, [("Content-Type", "text/plain")], b"Unknown table")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        page_no = max(int(query.get("page", ["1"])[0]), 1)
    except ValueError:
        page_no = 1
    rows = sorted(
        app.store.scan(table.entity_set), key=lambda r: (r.get("createdon") or "", r[table.pk])
    )
    total = len(rows)
    chunk = rows[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
    columns = [table.pk, table.primary_name] + [
        p for p in table.all_properties() if p not in (table.pk, table.primary_name)
    ]
    columns = [c for c in columns if any(r.get(c) is not None for r in chunk)] or [table.pk]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body_rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(c, r.get(c))}</td>" for c in columns) + "</tr>" for r in chunk
    )
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    nav = "<nav><a href='/'>All tables</a>"
    if page_no > 1:
        nav += f"<a href='?page={page_no - 1}'>&larr; Previous</a>"
    if page_no < pages:
        nav += f"<a href='?page={page_no + 1}'>Next &rarr;</a>"
    nav += f"<span class='muted'>Page {page_no} of {pages} ({total} rows)</span></nav>"
    return document(
        f"{table.entity_set} - Sandbox CRM",
        f"<h1>{html.escape(table.entity_set)}</h1>{nav}<table><tr>{head}</tr>{body_rows}</table>{nav}",
    )
