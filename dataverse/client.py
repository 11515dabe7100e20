"""The Dataverse Web API client: the only code that talks to the CRM.

Plain `requests` (one pooled Session per thread). Everything here follows the documented
protocol (docs/reference: dataverse-web-api.md) and works against any Dataverse environment URL.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import re
import socket
import ssl
import threading
import time
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - parses the CRM's own import result XML
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from . import errors
from .auth import TokenProvider
from .batch import (
    BatchRequest,
    BatchResponse,
    ChangeSet,
    build_batch,
    entity_id_from_url,
    parse_batch,
)
from .stats import ClientStats
from .throttle import ThrottleGate, gate_for
from .types import (
    BaseCurrency,
    ChangeBatch,
    ImportJobResult,
    Page,
    UpsertResult,
    WhoAmI,
    WriteResult,
)

logger = logging.getLogger("dataverse.client")

WATERMARK_PREFIX = "watermark:"
MAX_BATCH_OPERATIONS = 1000
MAX_PAGE_SIZE = 5000
_QUERY_SAFE = "$,'()/:@*!~-._"
_KEY_SAFE = "=',()-._~:@!$*+"
_GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)

# Entity set -> logical name for the tables the integration uses. Others are looked up in the
# metadata (EntityDefinitions) or derived from the set name.
KNOWN_TABLES: dict[str, str] = {
    "accounts": "account",
    "contacts": "contact",
    "systemusers": "systemuser",
    "transactioncurrencies": "transactioncurrency",
    "uomschedules": "uomschedule",
    "uoms": "uom",
    "products": "product",
    "pricelevels": "pricelevel",
    "productpricelevels": "productpricelevel",
    "salesorders": "salesorder",
    "salesorderdetails": "salesorderdetail",
    "roles": "role",
    "businessunits": "businessunit",
    "organizations": "organization",
    "teams": "team",
    "importjobs": "importjob",
    "opportunities": "opportunity",
    "leads": "lead",
    "erpcrm_connections": "erpcrm_connection",
}
ACTIVITY_TABLES = {"task", "email", "phonecall", "appointment", "letter", "fax"}
# Codes/statuses that say "this table does not have this bulk message", not "a record is bad".
_UNSUPPORTED_STATUSES = {405, 501}
_RECORD_NOT_FOUND_CODES = {"0x80040217", "0x80060891"}
_BULK_ACTIONS = {"create": "CreateMultiple", "update": "UpdateMultiple", "upsert": "UpsertMultiple"}


def _env_default(name: str, fallback: str | None = None) -> str | None:
    """Read a setting from Django settings when configured, else from the environment."""
    try:
        from django.conf import settings

        if settings.configured and hasattr(settings, name):
            value = getattr(settings, name)
            return value if value not in ("", None) else fallback
    except Exception:  # noqa: BLE001, S110 - the client also runs without Django
        pass
    return os.environ.get(name) or fallback


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and as whom to connect. Secrets are excluded from repr()."""

    environment_url: str
    token_url: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    scope: str = ""  # default: <environment URL>/.default
    api_version: str = "v9.2"
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    import_timeout: float = 3600.0
    max_attempts: int = 5  # per request, for 5xx and network errors
    max_throttle_retries: int = 20
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    parallelism: int = 4
    verify_tls: bool | str = True
    throttle_dir: str | None = None  # default: CRM_THROTTLE_DIR or <var>/throttle
    throttle_redis_url: str | None = None  # None: CRM_THROTTLE_REDIS_URL; "": file store

    @property
    def base_url(self) -> str:
        return self.environment_url.rstrip("/")

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/api/data/{self.api_version}/"

    @property
    def principal(self) -> str:
        return self.username or self.client_id


# --- helpers ----------------------------------------------------------------------------------


def odata_literal(value: Any) -> str:
    """An OData URL literal: strings quoted with '' escaping, GUIDs/numbers/booleans bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    text = str(value)
    return "'" + text.replace("'", "''") + "'"


def format_key(key: Any) -> str:
    """The text between the parentheses of `set(<key>)`: a GUID or `col=value,...` pairs."""
    if isinstance(key, uuid.UUID):
        return str(key)
    if isinstance(key, Mapping):
        text = ",".join(f"{name}={odata_literal(value)}" for name, value in key.items())
        return quote(text, safe=_KEY_SAFE)
    text = str(key)
    if _GUID_RE.match(text):
        return text.lower()
    return quote(text, safe=_KEY_SAFE)


def bind(entity_set: str, key: Any) -> str:
    """A value for `<navigation property>@odata.bind`: `/accounts(<guid>)`."""
    return f"/{entity_set}({format_key(key)})"


def build_query(params: Mapping[str, Any]) -> str:
    """Query string with OData option names kept literal (`$select`) and spaces as %20."""
    parts = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        parts.append(f"{name}={quote(str(value), safe=_QUERY_SAFE)}")
    return "&".join(parts)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _parse_datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def _walk_exception(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__])
        stack.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)


def connection_error(exc: requests.RequestException, url: str) -> errors.ConnectionFailed:
    """Classify a network failure: dns, refused, tls, timeout, reset or other."""
    host = urlsplit(url).hostname or ""
    chain = list(_walk_exception(exc))
    text = " ".join(str(e) for e in chain).lower()
    reason = "other"
    if isinstance(exc, requests.exceptions.SSLError) or any(
        isinstance(e, ssl.SSLError) for e in chain
    ):
        reason = "tls"
    elif isinstance(exc, requests.exceptions.Timeout) or any(
        isinstance(e, (socket.timeout, TimeoutError)) for e in chain
    ):
        reason = "timeout"
    elif any(isinstance(e, socket.gaierror) for e in chain) or any(
        marker in text
        for marker in (
            "name or service not known",
            "nodename nor servname",
            "failed to resolve",
            "temporary failure in name resolution",
            "no address associated",
            "getaddrinfo failed",
            "nameresolutionerror",
        )
    ):
        reason = "dns"
    elif any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        reason = "refused"
    elif any(isinstance(e, ConnectionResetError) for e in chain) or any(
        marker in text for marker in ("reset by peer", "remotedisconnected", "connection aborted")
    ):
        reason = "reset"
    messages = {
        "dns": f"The host name {host} could not be resolved.",
        "refused": f"{host} refused the connection.",
        "tls": f"The secure (TLS) connection to {host} failed.",
        "timeout": f"{host} did not answer in time.",
        "reset": f"{host} closed the connection unexpectedly.",
        "other": f"Could not connect to {host}.",
    }
    return errors.ConnectionFailed(messages[reason], reason=reason, host=host)


# --- the client -----------------------------------------------------------------------------


class DataverseClient:
    def __init__(self, settings: ConnectionSettings, *, stats: ClientStats | None = None) -> None:
        self.settings = settings
        self.api_root = settings.api_root
        self.stats = stats or ClientStats()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._tables: dict[str, tuple[str, str]] = {}  # set -> (logical name, primary key)
        self._no_bulk: set[tuple[str, str]] = set()
        self._dop_hint: int | None = None
        redis_url = settings.throttle_redis_url
        if redis_url is None:  # "" means: no Redis, use the file store
            redis_url = _env_default("CRM_THROTTLE_REDIS_URL")
        throttle_dir = settings.throttle_dir or _env_default("CRM_THROTTLE_DIR")
        if not throttle_dir:
            throttle_dir = str(_default_var_dir() / "throttle")
        self.gate: ThrottleGate = gate_for(
            settings.base_url, settings.principal, directory=throttle_dir, redis_url=redis_url
        )
        self.tokens = TokenProvider(
            token_url=settings.token_url,
            client_id=settings.client_id,
            scope=settings.scope or f"{_origin(settings.base_url)}/.default",
            client_secret=settings.client_secret,
            username=settings.username,
            password=settings.password,
            send=self._post_token_request,
        )

    def __repr__(self) -> str:
        return f"DataverseClient({self.settings.base_url!r}, client_id={self.settings.client_id!r})"

    # --- transport -------------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.verify = self.settings.verify_tls
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    def __enter__(self) -> DataverseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dop_hint(self) -> int | None:
        return self._dop_hint

    def _timeout(self, read: float | None = None) -> tuple[float, float]:
        return (self.settings.connect_timeout, read or self.settings.read_timeout)

    def _backoff(self, attempt: int) -> float:
        delay = min(self.settings.backoff_max, self.settings.backoff_base * (2 ** (attempt - 1)))
        return delay / 2 + random.uniform(0, delay / 2)

    def _post_token_request(self, url: str, form: dict[str, str]) -> requests.Response:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.post(
                    url,
                    data=form,
                    # A redirect would re-send the secret or password to another location.
                    allow_redirects=False,
                    headers={"Accept": "application/json"},
                    timeout=self._timeout(),
                    verify=self.settings.verify_tls,
                )
            except requests.RequestException as exc:
                error = connection_error(exc, url)
                if error.reason in ("dns", "tls") or attempt >= self.settings.max_attempts:
                    logger.warning("token request to %s failed: %s", error.host, error.message)
                    raise error from None
                self.stats.add(retries=1)
                time.sleep(self._backoff(attempt))
                continue
            self.stats.add(token_requests=1)
            logger.info(
                "POST %s (token) -> %s in %d ms",
                urlsplit(url).path,
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
            if response.status_code >= 500 and attempt < self.settings.max_attempts:
                self.stats.add(retries=1)
                time.sleep(self._backoff(attempt))
                continue
            return response

    def url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            url = path
        else:
            url = self.api_root + path.lstrip("/")
        if query:
            qs = build_query(query)
            if qs:
                url += ("&" if "?" in url else "?") + qs
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        prefer: Iterable[str] = (),
        read_timeout: float | None = None,
        accept_statuses: Iterable[int] = (),
        accept_multipart_errors: bool = False,
        max_attempts: int | None = None,
    ) -> requests.Response:
        """Send one Web API request with auth, throttling, retries, logging and counting.

        `path` is relative to the Web API root or an absolute URL (used verbatim: nextLinks
        and deltaLinks must not be re-encoded).
        """
        url = self.url(path, query)
        accept = set(accept_statuses)
        attempts = max_attempts or self.settings.max_attempts
        body = data
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, default=str).encode("utf-8")
            content_type = content_type or "application/json; charset=utf-8"
        base_headers = {
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
        }
        if method == "GET":
            base_headers["If-None-Match"] = "null"
        if content_type:
            base_headers["Content-Type"] = content_type
        prefer_values = [p for p in prefer if p]
        if prefer_values:
            base_headers["Prefer"] = ",".join(prefer_values)
        base_headers.update(headers or {})
        log_path = urlsplit(url).path
        attempt = 0
        throttles = 0
        refreshed = False
        while True:
            waited = self.gate.wait()
            if waited:
                self.stats.add(throttle_wait_seconds=waited)
            token = self.tokens.token()
            request = requests.Request(
                method, url, data=body, headers={**base_headers, "Authorization": f"Bearer {token}"}
            )
            prepared = self.session.prepare_request(request)
            prepared.url = url  # never let requests re-quote a server-given link
            started = time.monotonic()
            try:
                response = self.session.send(
                    prepared,
                    timeout=self._timeout(read_timeout),
                    verify=self.settings.verify_tls,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                error = connection_error(exc, url)
                attempt += 1
                logger.info(
                    "%s %s -> %s after %d ms",
                    method,
                    log_path,
                    error.reason,
                    (time.monotonic() - started) * 1000,
                )
                if error.reason in ("dns", "tls") or attempt >= attempts:
                    self.stats.add(errors=1)
                    raise error from None
                self.stats.add(retries=1)
                time.sleep(self._backoff(attempt))
                continue
            elapsed_ms = (time.monotonic() - started) * 1000
            self.stats.record_response(
                response.status_code, len(body or b""), len(response.content)
            )
            status = response.status_code
            level = logging.DEBUG if status < 400 else logging.INFO
            logger.log(level, "%s %s -> %s in %d ms", method, log_path, status, elapsed_ms)
            hint = response.headers.get("x-ms-dop-hint")
            if hint and hint.isdigit():
                self._dop_hint = int(hint)
            if status < 300 or status in accept:
                return response
            if status < 400:
                self.stats.add(errors=1)
                raise errors.DataverseError(
                    f"The server redirected the request to {response.headers.get('Location', '?')}"
                    ": check the environment URL.",
                    status=status,
                )
            if (
                accept_multipart_errors
                and status not in (401, 429)
                and status < 500
                and (
                    "multipart/mixed" in response.headers.get("Content-Type", "")
                    or response.content.lstrip().startswith(b"--")
                )
            ):
                return response
            if status == 401 and not refreshed:
                self.tokens.invalidate(token)
                refreshed = True
                self.stats.add(retries=1)
                continue
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            error = errors.error_from_response(status, response.content, retry_after=retry_after)
            if status == 401:
                self.stats.add(errors=1)
                challenge = re.search(
                    r'error_description="([^"]*)"', response.headers.get("WWW-Authenticate", "")
                )
                detail = error.message if response.content.strip() else ""
                detail = detail or (challenge.group(1) if challenge else "HTTP 401")
                raise errors.AuthenticationFailed(
                    "The CRM rejected the access token even after a new one was fetched: " + detail,
                    status=401,
                    code=error.code,
                )
            if isinstance(error, errors.Throttled):
                throttles += 1
                wait = retry_after if retry_after is not None else self._backoff(throttles)
                error.retry_after = wait
                self.gate.block(wait)
                logger.info("%s %s throttled: waiting %.1f s (shared)", method, log_path, wait)
                if throttles > self.settings.max_throttle_retries:
                    self.stats.add(errors=1)
                    raise error
                self.stats.add(retries=1)
                continue
            if isinstance(error, errors.TransientError):
                attempt += 1
                if attempt < attempts:
                    self.stats.add(retries=1)
                    time.sleep(self._backoff(attempt))
                    continue
            self.stats.add(errors=1)
            error.retried = attempt > 0 or throttles > 0
            raise error

    def _json(self, response: requests.Response) -> Any:
        if not response.content or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise errors.DataverseError(
                "The CRM answered with something that is not JSON.", status=response.status_code
            ) from exc

    # --- metadata helpers --------------------------------------------------------------------

    def register_table(
        self, entity_set: str, logical_name: str, primary_key: str | None = None
    ) -> None:
        """Tell the client a table's logical name and primary key (skips the lookup)."""
        self._tables[entity_set] = (logical_name, primary_key or f"{logical_name}id")

    def table_info(self, entity_set: str) -> tuple[str, str]:
        """(logical name, primary key column) of an entity set."""
        info = self._tables.get(entity_set)
        if info:
            return info
        logical = KNOWN_TABLES.get(entity_set)
        primary = None
        if logical is None:
            try:
                response = self.request(
                    "GET",
                    "EntityDefinitions",
                    query={
                        "$select": "LogicalName,PrimaryIdAttribute",
                        "$filter": f"EntitySetName eq {odata_literal(entity_set)}",
                    },
                    max_attempts=1,
                )
                rows = (self._json(response) or {}).get("value") or []
                if rows:
                    logical = rows[0].get("LogicalName")
                    primary = rows[0].get("PrimaryIdAttribute")
            except errors.DataverseError:
                logical = None
        if not logical:
            logical = re.sub(r"ies$", "y", entity_set)
            if logical == entity_set:
                logical = re.sub(r"s$", "", entity_set)
        if not primary:
            primary = "activityid" if logical in ACTIVITY_TABLES else f"{logical}id"
        self._tables[entity_set] = (logical, primary)
        return logical, primary

    def primary_key(self, entity_set: str) -> str:
        return self.table_info(entity_set)[1]

    # --- reads --------------------------------------------------------------------------------

    def whoami(self) -> WhoAmI:
        body = self._json(self.request("GET", "WhoAmI"))
        try:
            return WhoAmI(
                user_id=uuid.UUID(body["UserId"]),
                business_unit_id=uuid.UUID(body["BusinessUnitId"]),
                organization_id=uuid.UUID(body["OrganizationId"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.DataverseError("WhoAmI answered without the three ids.") from exc

    def organization_base_currency(self) -> BaseCurrency:
        page = self.get_page("organizations", select=["_basecurrencyid_value"])
        if not page.rows or not page.rows[0].get("_basecurrencyid_value"):
            raise errors.NotFound("The organization has no base currency.")
        currency_id = page.rows[0]["_basecurrencyid_value"]
        row = self.get(
            "transactioncurrencies",
            currency_id,
            select=["isocurrencycode", "currencyname", "currencysymbol", "currencyprecision"],
        )
        precision = row.get("currencyprecision")
        return BaseCurrency(
            id=uuid.UUID(str(currency_id)),
            iso_code=row.get("isocurrencycode") or "",
            name=row.get("currencyname") or "",
            symbol=row.get("currencysymbol") or "",
            precision=int(precision) if precision is not None else None,
        )

    def get(
        self,
        entity_set: str,
        key: Any,
        *,
        select: Sequence[str] | None = None,
        expand: str | None = None,
        annotations: bool | str = False,
        if_none_match: str | None = None,
    ) -> dict[str, Any] | None:
        """One row. With `if_none_match` (an ETag) returns None when unchanged (304)."""
        headers = {"If-None-Match": if_none_match} if if_none_match else None
        response = self.request(
            "GET",
            f"{entity_set}({format_key(key)})",
            query={"$select": select or None, "$expand": expand},
            headers=headers,
            prefer=[_annotations_preference(annotations)],
            accept_statuses=(304,),
        )
        if response.status_code == 304:
            return None
        return self._json(response)

    def get_page(
        self,
        entity_set_or_url: str,
        *,
        select: Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002 - the OData name
        orderby: str | None = None,
        expand: str | None = None,
        top: int | None = None,
        count: bool = False,
        page_size: int | None = None,
        annotations: bool | str = False,
        track_changes: bool = False,
    ) -> Page:
        """One page: the first of a query, or the page behind a nextLink/deltaLink."""
        page, _ = self._fetch_page(
            entity_set_or_url,
            select=select,
            filter=filter,
            orderby=orderby,
            expand=expand,
            top=top,
            count=count,
            page_size=page_size,
            annotations=annotations,
            track_changes=track_changes,
        )
        return page

    def _fetch_page(
        self,
        entity_set_or_url: str,
        *,
        select: Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002
        orderby: str | None = None,
        expand: str | None = None,
        top: int | None = None,
        count: bool = False,
        page_size: int | None = None,
        annotations: bool | str = False,
        track_changes: bool = False,
    ) -> tuple[Page, requests.Response]:
        is_link = entity_set_or_url.startswith(("http://", "https://"))
        query = None
        if not is_link:
            query = {
                "$select": select or None,
                "$filter": filter,
                "$orderby": orderby,
                "$expand": expand,
                "$top": top,
                "$count": "true" if count else None,
            }
        prefer = [_annotations_preference(annotations)]
        if page_size:
            prefer.append(f"odata.maxpagesize={min(int(page_size), MAX_PAGE_SIZE)}")
        if track_changes:
            prefer.append("odata.track-changes")
        response = self.request("GET", entity_set_or_url, query=query, prefer=prefer)
        body = self._json(response) or {}
        page = Page(
            rows=list(body.get("value") or []),
            next_link=body.get("@odata.nextLink"),
            delta_link=body.get("@odata.deltaLink"),
            count=body.get("@odata.count"),
            total_record_count=body.get("@Microsoft.Dynamics.CRM.totalrecordcount"),
            total_record_count_limit_exceeded=body.get(
                "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
            ),
        )
        return page, response

    def iter_pages(
        self,
        entity_set: str,
        *,
        select: Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002
        orderby: str | None = None,
        expand: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        annotations: bool | str = False,
        count: bool = False,
    ) -> Iterator[Page]:
        """Pages of a query, fetched lazily; follows @odata.nextLink verbatim."""
        page = self.get_page(
            entity_set,
            select=select,
            filter=filter,
            orderby=orderby,
            expand=expand,
            page_size=page_size,
            annotations=annotations,
            count=count,
        )
        while True:
            yield page
            if not page.next_link:
                return
            page = self.get_page(page.next_link, page_size=page_size, annotations=annotations)

    def iter_rows(
        self,
        entity_set: str,
        select: Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002
        orderby: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        *,
        expand: str | None = None,
        annotations: bool | str = False,
    ) -> Iterator[dict[str, Any]]:
        """Rows of a query, streamed page by page (never the whole table in memory)."""
        for page in self.iter_pages(
            entity_set,
            select=select,
            filter=filter,
            orderby=orderby,
            expand=expand,
            page_size=page_size,
            annotations=annotations,
        ):
            yield from page.rows

    def entity_sets(self) -> list[str]:
        """Entity set names from the service document (to check a table exists)."""
        body = self._json(self.request("GET", "")) or {}
        return [
            item.get("url") or item.get("name")
            for item in body.get("value") or []
            if item.get("kind", "EntitySet") == "EntitySet"
        ]

    def count(self, entity_set: str) -> int:
        response = self.request("GET", f"{entity_set}/$count")
        return int(response.text.strip().lstrip("\ufeff"))

    # --- change tracking ---------------------------------------------------------------------

    def changes(
        self,
        entity_set: str,
        select: Sequence[str],
        delta_link: str | None = None,
        *,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[ChangeBatch]:
        """Changed rows and deleted ids since `delta_link`, page by page.

        The last batch carries the token for the next run in `delta_link`: a real deltaLink, or
        `watermark:<modifiedon>` where change tracking is off for the table. An expired or
        unusable deltaLink (any 4xx but auth/throttling) starts a full resync.
        """
        if delta_link and delta_link.startswith(WATERMARK_PREFIX):
            yield from self._watermark_changes(
                entity_set, select, delta_link[len(WATERMARK_PREFIX) :] or None, page_size, False
            )
            return
        full_resync = False
        if delta_link:
            try:
                page, _ = self._fetch_page(delta_link, page_size=page_size, track_changes=True)
            except errors.DataverseError as exc:
                if not _is_client_error(exc):
                    raise
                logger.info(
                    "delta link for %s no longer usable (%s %s): full resync",
                    entity_set,
                    exc.status,
                    exc.code,
                )
                full_resync = True
            else:
                yield from self._delta_batches(page, page_size, False)
                return
        try:
            page, response = self._fetch_page(
                entity_set, select=select, page_size=page_size, track_changes=True
            )
        except errors.DataverseError as exc:
            if not _is_client_error(exc) or isinstance(exc, errors.NotFound):
                raise
            logger.info(
                "change tracking refused for %s (%s %s): modifiedon watermark",
                entity_set,
                exc.status,
                exc.code,
            )
            yield from self._watermark_changes(entity_set, select, None, page_size, full_resync)
            return
        applied = response.headers.get("Preference-Applied", "")
        if "odata.track-changes" not in applied and not page.delta_link:
            logger.info("%s is not change-tracked: modifiedon watermark", entity_set)
            yield from self._watermark_changes(entity_set, select, None, page_size, full_resync)
            return
        yield from self._delta_batches(page, page_size, full_resync)

    def _delta_batches(
        self, page: Page, page_size: int, full_resync: bool
    ) -> Iterator[ChangeBatch]:
        while True:
            upserts: list[dict[str, Any]] = []
            deleted: list[uuid.UUID] = []
            for row in page.rows:
                deleted_id = _deleted_id(row)
                if deleted_id is not None:
                    deleted.append(deleted_id)
                else:
                    upserts.append(row)
            if page.next_link:
                yield ChangeBatch(upserts, deleted, None, "delta", full_resync)
                # Same preferences on every follow-up request, as the paging rules ask.
                page, _ = self._fetch_page(page.next_link, page_size=page_size, track_changes=True)
                continue
            if not page.delta_link:
                raise errors.DataverseError("The last page of changes carried no @odata.deltaLink.")
            yield ChangeBatch(upserts, deleted, page.delta_link, "delta", full_resync)
            return

    def _watermark_changes(
        self,
        entity_set: str,
        select: Sequence[str],
        since: str | None,
        page_size: int,
        full_resync: bool,
    ) -> Iterator[ChangeBatch]:
        primary = self.primary_key(entity_set)
        columns = list(dict.fromkeys([*select, "modifiedon", primary]))
        latest_text = since
        latest = _parse_datetime(since) if since else None
        for page in self.iter_pages(
            entity_set,
            select=columns,
            filter=f"modifiedon ge {since}" if since else None,
            orderby=f"modifiedon asc,{primary} asc",
            page_size=page_size,
        ):
            for row in page.rows:
                stamp_text = row.get("modifiedon")
                stamp = _parse_datetime(stamp_text) if stamp_text else None
                if stamp is not None and (latest is None or stamp > latest):
                    latest, latest_text = stamp, stamp_text
            token = None if page.next_link else WATERMARK_PREFIX + (latest_text or "")
            yield ChangeBatch(list(page.rows), [], token, "watermark", full_resync)

    # --- single writes -------------------------------------------------------------------------

    def create(
        self,
        entity_set: str,
        data: Mapping[str, Any],
        id: Any = None,  # noqa: A002
    ) -> uuid.UUID:
        """Create a row with a client-chosen primary key; returns it.

        A retried create whose first attempt was committed comes back as a duplicate of the
        same id: that is success, never a second record.
        """
        primary = self.primary_key(entity_set)
        record_id = uuid.UUID(str(id or data.get(primary) or uuid.uuid4()))
        body = {**data, primary: str(record_id)}
        try:
            response = self.request("POST", entity_set, json_body=body)
        except errors.Duplicate:
            if self.exists(entity_set, record_id):
                logger.info("create %s(%s): already there, treated as done", entity_set, record_id)
                return record_id
            raise
        return entity_id_from_url(response.headers.get("OData-EntityId")) or record_id

    def create_returning(
        self,
        entity_set: str,
        data: Mapping[str, Any],
        *,
        select: Sequence[str] | None = None,
        expand: str | None = None,
        id: Any = None,  # noqa: A002
    ) -> dict[str, Any]:
        """Create with `Prefer: return=representation`; returns the created row (201)."""
        primary = self.primary_key(entity_set)
        record_id = uuid.UUID(str(id or data.get(primary) or uuid.uuid4()))
        response = self.request(
            "POST",
            entity_set,
            query={"$select": select or None, "$expand": expand},
            json_body={**data, primary: str(record_id)},
            prefer=["return=representation"],
        )
        return self._json(response) or {primary: str(record_id)}

    def exists(self, entity_set: str, key: Any) -> bool:
        try:
            self.request(
                "GET",
                f"{entity_set}({format_key(key)})",
                query={"$select": self.primary_key(entity_set)},
            )
        except errors.NotFound:
            return False
        return True

    def update(
        self,
        entity_set: str,
        key: Any,
        data: Mapping[str, Any],
        if_match: str | None = "*",
        *,
        return_select: Sequence[str] | None = None,
    ) -> dict[str, Any] | None:
        """PATCH an existing row (If-Match `*` or an ETag: never creates).

        With `return_select` the updated row comes back (`return=representation`).
        """
        headers = {"If-Match": if_match} if if_match else None
        response = self.request(
            "PATCH",
            f"{entity_set}({format_key(key)})",
            query={"$select": return_select} if return_select else None,
            json_body=dict(data),
            headers=headers,
            prefer=["return=representation"] if return_select else (),
        )
        return self._json(response) if return_select else None

    def upsert(
        self,
        entity_set: str,
        key: Any,
        data: Mapping[str, Any],
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        return_representation: bool = False,
    ) -> UpsertResult:
        """PATCH by id or alternate key: create or update (conditions restrict it)."""
        headers: dict[str, str] = {}
        if if_match:
            headers["If-Match"] = if_match
        if if_none_match:
            headers["If-None-Match"] = if_none_match
        query = None
        prefer: list[str] = []
        if return_representation:
            query = {"$select": self.primary_key(entity_set)}
            prefer.append("return=representation")
        response = self.request(
            "PATCH",
            f"{entity_set}({format_key(key)})",
            query=query,
            json_body=dict(data),
            headers=headers,
            prefer=prefer,
        )
        entity_url = response.headers.get("OData-EntityId")
        record_id = entity_id_from_url(entity_url)
        created: bool | None = None
        if return_representation and response.status_code in (200, 201):
            created = response.status_code == 201
            body = self._json(response) or {}
            value = body.get(self.primary_key(entity_set))
            if value:
                record_id = uuid.UUID(str(value))
        if record_id is None and isinstance(key, (uuid.UUID, str)) and _GUID_RE.match(str(key)):
            record_id = uuid.UUID(str(key))
        return UpsertResult(id=record_id, created=created, entity_url=entity_url)

    def delete(self, entity_set: str, key: Any, if_match: str | None = None) -> None:
        """Delete a row. NotFound only if it was never there (not after a committed retry)."""
        headers = {"If-Match": if_match} if if_match else None
        try:
            self.request("DELETE", f"{entity_set}({format_key(key)})", headers=headers)
        except errors.NotFound as exc:
            if not exc.retried:
                raise
            logger.info("delete %s(%s): gone after a retry, treated as done", entity_set, key)

    def associate(
        self,
        entity_set: str,
        id: Any,
        navigation: str,
        target_set: str,
        target_id: Any,  # noqa: A002
    ) -> None:
        """Add a row to a collection-valued navigation property (1:N or N:N) with `$ref`.

        An N:N link that already exists (also after a retried call that had committed) is
        success.
        """
        try:
            self.request(
                "POST",
                f"{entity_set}({format_key(id)})/{navigation}/$ref",
                json_body={"@odata.id": f"{self.api_root}{target_set}({format_key(target_id)})"},
            )
        except errors.Duplicate:
            logger.info("%s(%s)/%s already holds %s", entity_set, id, navigation, target_id)

    def set_reference(
        self,
        entity_set: str,
        id: Any,
        navigation: str,
        target_set: str,
        target_id: Any,  # noqa: A002
    ) -> None:
        """Point a single-valued navigation property at a row (PUT `$ref`)."""
        self.request(
            "PUT",
            f"{entity_set}({format_key(id)})/{navigation}/$ref",
            json_body={"@odata.id": f"{self.api_root}{target_set}({format_key(target_id)})"},
        )

    def disassociate(
        self,
        entity_set: str,
        id: Any,  # noqa: A002
        navigation: str,
        target_set: str | None = None,
        target_id: Any = None,
    ) -> None:
        """Remove a collection member (with `target_id`) or clear a single-valued reference."""
        if target_id is not None:
            path = f"{entity_set}({format_key(id)})/{navigation}({format_key(target_id)})/$ref"
        else:
            path = f"{entity_set}({format_key(id)})/{navigation}/$ref"
        self.request("DELETE", path)

    # --- actions -------------------------------------------------------------------------------

    def import_solution(
        self,
        zip_bytes: bytes,
        import_job_id: uuid.UUID | None = None,
        *,
        overwrite_unmanaged_customizations: bool = True,
        publish_workflows: bool = True,
    ) -> ImportJobResult:
        """Import a solution zip synchronously, then report the ImportJob's outcome."""
        job_id = import_job_id or uuid.uuid4()
        call_error: errors.DataverseError | None = None
        try:
            self.request(
                "POST",
                "ImportSolution",
                json_body={
                    "OverwriteUnmanagedCustomizations": overwrite_unmanaged_customizations,
                    "PublishWorkflows": publish_workflows,
                    "CustomizationFile": base64.b64encode(zip_bytes).decode("ascii"),
                    "ImportJobId": str(job_id),
                },
                read_timeout=self.settings.import_timeout,
            )
        except (errors.AuthenticationFailed, errors.Forbidden, errors.ConnectionFailed):
            raise
        except errors.DataverseError as exc:
            # DuplicatedJobId after a retried call means the first call ran: read the job.
            call_error = exc
        try:
            job = self.get(
                "importjobs", job_id, select=["progress", "completedon", "solutionname", "data"]
            )
        except errors.NotFound:
            job = None
        if job is None:
            message = call_error.message if call_error else "The import job was not found."
            return ImportJobResult(import_job_id=job_id, success=False, message=message)
        data = job.get("data") or ""
        result, message = _import_result(data)
        progress = job.get("progress")
        if result is None:
            success = call_error is None and (progress is None or float(progress) >= 100)
        else:
            success = result == "success"
        if call_error is not None and (result is None or not success):
            message = message or call_error.message
            success = False
        return ImportJobResult(
            import_job_id=job_id,
            success=success,
            progress=float(progress) if progress is not None else None,
            solution_name=job.get("solutionname") or "",
            message=message,
            data=data,
        )

    # --- $batch and bulk ------------------------------------------------------------------------

    def execute_batch(
        self, items: Sequence[BatchRequest | ChangeSet], *, continue_on_error: bool = False
    ) -> list[BatchResponse]:
        """Send one `$batch`; returns the operation responses in order (change sets flattened)."""
        operations = sum(len(i.requests) if isinstance(i, ChangeSet) else 1 for i in items)
        if operations > MAX_BATCH_OPERATIONS:
            raise errors.ValidationFailed(
                f"A $batch holds at most {MAX_BATCH_OPERATIONS} operations ({operations} given)."
            )
        content_type, body = build_batch(items, self.api_root)
        response = self.request(
            "POST",
            "$batch",
            data=body,
            content_type=content_type,
            prefer=["odata.continue-on-error"] if continue_on_error else (),
            accept_multipart_errors=True,
        )
        return parse_batch(response.headers.get("Content-Type"), response.content)

    def write_many(
        self,
        entity_set: str,
        records: Sequence[Mapping[str, Any]],
        operation: str = "create",
        chunk_size: int = 1000,
        parallelism: int | None = None,
        atomic: bool = False,
        *,
        keys: Sequence[Any] | None = None,
        method: str = "auto",
    ) -> list[WriteResult]:
        """Write many rows; one WriteResult per input record, in input order.

        `operation`: create (ids chosen here unless given), update (by primary key in the
        record or `keys`), upsert (by primary key or alternate key in `keys`).
        `method`: auto (CreateMultiple/UpdateMultiple/UpsertMultiple where the table supports
        them, else $batch), bulk, batch, or single (one request per record).
        """
        if operation not in _BULK_ACTIONS:
            raise ValueError(f"unknown operation {operation!r}")
        primary = self.primary_key(entity_set)
        prepared: list[tuple[int, dict[str, Any], Any]] = []
        for index, record in enumerate(records):
            body = dict(record)
            key = keys[index] if keys is not None else None
            if operation == "create":
                body[primary] = str(uuid.UUID(str(body.get(primary) or key or uuid.uuid4())))
                key = body[primary]
            elif key is None:
                key = body.get(primary)
                if key is None:
                    raise ValueError(f"record {index} has no {primary} and no key was given")
            elif operation == "update" and primary not in body and _as_uuid(key) is not None:
                body[primary] = str(key)  # UpdateMultiple names its targets by primary key
            prepared.append((index, body, key))
        workers = parallelism or self.settings.parallelism
        if self._dop_hint:
            workers = min(workers, self._dop_hint)
        size = max(1, min(int(chunk_size), MAX_BATCH_OPERATIONS))
        if method == "single":
            # One request per record: spread records over every worker, not one chunk each.
            size = max(1, min(size, -(-len(prepared) // max(1, workers))))
        chunks = [prepared[i : i + size] for i in range(0, len(prepared), size)]
        workers = max(1, min(workers, len(chunks) or 1))

        def run(chunk: list[tuple[int, dict[str, Any], Any]]) -> list[WriteResult]:
            return self._write_chunk(entity_set, operation, chunk, atomic, method)

        results: list[WriteResult] = []
        if workers == 1:
            for chunk in chunks:
                results.extend(run(chunk))
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataverse") as pool:
                for chunk_results in pool.map(run, chunks):
                    results.extend(chunk_results)
        results.sort(key=lambda r: r.index)
        return results

    def _write_chunk(
        self,
        entity_set: str,
        operation: str,
        chunk: list[tuple[int, dict[str, Any], Any]],
        atomic: bool,
        method: str,
    ) -> list[WriteResult]:
        action = _BULK_ACTIONS[operation]
        if method == "single":
            return [self._write_one(entity_set, operation, item) for item in chunk]
        if method in ("auto", "bulk") and (entity_set, action) not in self._no_bulk:
            try:
                return self._bulk_message(entity_set, operation, chunk)
            except errors.UnsupportedMessage:
                logger.info("%s does not support %s: using $batch", entity_set, action)
                self._no_bulk.add((entity_set, action))
            except (errors.AuthenticationFailed, errors.ConnectionFailed, errors.Throttled):
                raise
            except errors.DataverseError as exc:
                # One bad target rolls back the whole request: find it (them) with $batch.
                logger.info(
                    "%s on %s failed (%s); retrying %d records with $batch to find the bad ones",
                    action,
                    entity_set,
                    exc,
                    len(chunk),
                )
        return self._batch_chunk(entity_set, operation, chunk, atomic)

    def _write_one(
        self, entity_set: str, operation: str, item: tuple[int, dict[str, Any], Any]
    ) -> WriteResult:
        index, body, key = item
        try:
            if operation == "create":
                record_id = self.create(entity_set, body)
            elif operation == "update":
                self.update(entity_set, key, body)
                record_id = _as_uuid(key)
            else:
                record_id = self.upsert(entity_set, key, body).id
        except errors.DataverseError as exc:
            return WriteResult(index=index, error=exc, key=key)
        return WriteResult(index=index, id=record_id, key=key)

    def _bulk_message(
        self, entity_set: str, operation: str, chunk: list[tuple[int, dict[str, Any], Any]]
    ) -> list[WriteResult]:
        action = _BULK_ACTIONS[operation]
        logical, primary = self.table_info(entity_set)
        targets = []
        for _, body, key in chunk:
            target = {**body, "@odata.type": f"Microsoft.Dynamics.CRM.{logical}"}
            if operation == "upsert" and primary not in body:
                target["@odata.id"] = f"{entity_set}({format_key(key)})"
            targets.append(target)
        try:
            response = self.request(
                "POST",
                f"{entity_set}/Microsoft.Dynamics.CRM.{action}",
                json_body={"Targets": targets},
            )
        except errors.DataverseError as exc:
            if _is_unsupported(exc):
                raise errors.UnsupportedMessage(
                    exc.message, status=exc.status, code=exc.code
                ) from exc
            raise
        ids: list[Any] = []
        if operation == "create":
            ids = list((self._json(response) or {}).get("Ids") or [])
        results = []
        for position, (index, body, key) in enumerate(chunk):
            value = ids[position] if position < len(ids) else body.get(primary, key)
            results.append(WriteResult(index=index, id=_as_uuid(value), key=key))
        return results

    def _batch_request(
        self, entity_set: str, operation: str, body: dict[str, Any], key: Any
    ) -> BatchRequest:
        if operation == "create":
            return BatchRequest("POST", entity_set, body)
        headers = {"If-Match": "*"} if operation == "update" else {}
        # The key is in the URL; the body carries only the columns to write.
        primary = self.primary_key(entity_set)
        data = {k: v for k, v in body.items() if k != primary}
        return BatchRequest("PATCH", f"{entity_set}({format_key(key)})", data, headers)

    def _batch_chunk(
        self,
        entity_set: str,
        operation: str,
        chunk: list[tuple[int, dict[str, Any], Any]],
        atomic: bool,
    ) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        pending = list(chunk)
        while pending:
            requests_ = [self._batch_request(entity_set, operation, b, k) for _, b, k in pending]
            try:
                if atomic:
                    responses = self.execute_batch([ChangeSet(requests_)])
                else:
                    responses = self.execute_batch(requests_, continue_on_error=True)
            except errors.DataverseError as exc:
                for index, _, key in pending:
                    results[index] = WriteResult(index=index, error=exc, key=key)
                break
            if atomic:
                results.update(_atomic_results(pending, responses))
                break
            answered = min(len(responses), len(pending))
            for (index, body, key), response in zip(pending[:answered], responses, strict=False):
                results[index] = self._result_from_part(
                    entity_set, operation, index, body, key, response
                )
            if answered == 0:
                error = errors.DataverseError("The $batch response held no answers.")
                for index, _, key in pending:
                    results[index] = WriteResult(index=index, error=error, key=key)
                break
            # A server that stops at the first error leaves the rest unanswered: send them again.
            pending = pending[answered:]
        return [results[index] for index, _, _ in chunk]

    def _result_from_part(
        self,
        entity_set: str,
        operation: str,
        index: int,
        body: dict[str, Any],
        key: Any,
        response: BatchResponse,
    ) -> WriteResult:
        primary = self.primary_key(entity_set)
        if response.ok:
            record_id = response.entity_id or _as_uuid(body.get(primary, key))
            return WriteResult(index=index, id=record_id, key=key)
        error = response.error()
        if operation == "create" and isinstance(error, errors.Duplicate):
            record_id = _as_uuid(body.get(primary))
            if record_id is not None and self.exists(entity_set, record_id):
                return WriteResult(index=index, id=record_id, key=key)
        return WriteResult(index=index, error=error, key=key)


# --- module helpers --------------------------------------------------------------------------

FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
ASSOCIATED_NAVIGATION_PROPERTY = "Microsoft.Dynamics.CRM.associatednavigationproperty"


def formatted_value(row: Mapping[str, Any], column: str) -> str | None:
    """The display label of a column (choice label, currency text, lookup name...)."""
    return row.get(f"{column}@{FORMATTED_VALUE}")


def lookup_target(row: Mapping[str, Any], column: str) -> tuple[str | None, str | None]:
    """(logical name of the referenced table, navigation property) of a `_x_value` column."""
    return row.get(f"{column}@{LOOKUP_LOGICAL_NAME}"), row.get(
        f"{column}@{ASSOCIATED_NAVIGATION_PROPERTY}"
    )


def _default_var_dir() -> Path:
    try:
        from django.conf import settings

        if settings.configured and getattr(settings, "VAR_DIR", None):
            return Path(settings.VAR_DIR)
    except Exception:  # noqa: BLE001, S110 - the client also runs without Django
        pass
    return Path(__file__).resolve().parent.parent / "var"


def _origin(url: str) -> str:
    """scheme://host[:port]: the Dataverse resource a token is for, whatever path was typed."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url


def _annotations_preference(annotations: bool | str) -> str:
    if not annotations:
        return ""
    value = "*" if annotations is True else str(annotations)
    return f'odata.include-annotations="{value}"'


def _is_client_error(exc: errors.DataverseError) -> bool:
    return (
        exc.status is not None
        and 400 <= exc.status < 500
        and exc.status not in (401, 403, 429)
        and not isinstance(exc, (errors.AuthenticationFailed, errors.Throttled))
    )


def _is_unsupported(exc: errors.DataverseError) -> bool:
    if exc.status in _UNSUPPORTED_STATUSES:
        return True
    if exc.status == 404 and exc.code.lower() not in _RECORD_NOT_FOUND_CODES:
        return True
    message = exc.message.lower()
    return exc.code.lower() == "0x80040315" or (
        exc.status == 400 and ("not supported" in message and "multiple" in message)
    )


def _deleted_id(row: Mapping[str, Any]) -> uuid.UUID | None:
    context = str(row.get("@odata.context") or "")
    if context.endswith("$deletedEntity") or row.get("reason") == "deleted":
        value = row.get("id")
        return _as_uuid(value)
    removed = row.get("@removed")
    if isinstance(removed, Mapping):
        return entity_id_from_url(str(row.get("@id") or "")) or _as_uuid(row.get("id"))
    return None


def _as_uuid(value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _atomic_results(
    pending: list[tuple[int, dict[str, Any], Any]], responses: list[BatchResponse]
) -> dict[int, WriteResult]:
    results: dict[int, WriteResult] = {}
    if len(responses) == len(pending) and all(r.ok for r in responses):
        for (index, _body, key), response in zip(pending, responses, strict=True):
            results[index] = WriteResult(
                index=index, id=response.entity_id or _as_uuid(key), key=key
            )
        return results
    failed = next((r for r in responses if not r.ok), None)
    error = failed.error() if failed else errors.DataverseError("The change set failed.")
    bad_position: int | None = None
    if failed is not None and failed.content_id and failed.content_id.isdigit():
        bad_position = int(failed.content_id) - 1
    for position, (index, _, key) in enumerate(pending):
        if bad_position is None or position == bad_position:
            results[index] = WriteResult(index=index, error=error, key=key)
        else:
            rolled = errors.RolledBack(
                f"Not written: the change set was rolled back ({error.message})",
                status=error.status,
                code=error.code,
            )
            results[index] = WriteResult(index=index, error=rolled, key=key)
    return results


def _import_result(data: str) -> tuple[str | None, str]:
    """('success'|'failure'|None, message) from the ImportJob's `data` XML."""
    if not data:
        return None, ""
    try:
        root = ET.fromstring(data)  # noqa: S314 - the CRM's own XML, no entities expanded
    except ET.ParseError:
        return None, ""
    node = root.find(".//solutionManifest/result")
    if node is None and root.tag == "solutionManifest":
        node = root.find("result")
    if node is None:
        node = root.find(".//result")
    if node is None:
        return None, ""
    result = (node.get("result") or "").lower() or None
    message = node.get("errortext") or node.get("errorcode") or ""
    return result, message
