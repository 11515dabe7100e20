"""Transport: sign-in, pooled sessions, retries, throttling (Retry-After) and error mapping.

Plain `requests` (one pooled Session per thread). Everything here follows the documented
protocol (docs/reference/dataverse-web-api.md) and works against any Dataverse environment URL.
`ConnectionSettings` lives here because every knob it holds (timeouts, attempts, back-off,
TLS, the throttle store) is about how requests are sent.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import requests

# Only the settings object: the client reads two optional settings when Django is configured
# and works without a configured Django (benchmarks, scripts).
from django.conf import settings as django_settings
from requests.adapters import HTTPAdapter

from . import errors
from .addresses import AddressPolicy, GuardedAdapter
from .auth import TokenProvider
from .odata import build_query
from .stats import ClientStats
from .throttle import ThrottleGate, gate_for

# One logger name for the whole client (all its modules), as before the split, so log
# configuration and filters on "dataverse.client" keep working.
logger = logging.getLogger("dataverse.client")


def _env_default(name: str, fallback: str | None = None) -> str | None:
    """Read a setting from Django settings when configured, else from the environment."""
    try:
        if django_settings.configured and hasattr(django_settings, name):
            value: str | None = getattr(django_settings, name)
            return value if value not in ("", None) else fallback
    except Exception:  # noqa: BLE001, S110 - a broken settings module must not stop the client
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
    # Which addresses may be connected to (dataverse.addresses); None: no check (the app always
    # sets one).
    address_policy: AddressPolicy | None = None

    @property
    def base_url(self) -> str:
        return self.environment_url.rstrip("/")

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/api/data/{self.api_version}/"

    @property
    def principal(self) -> str:
        return self.username or self.client_id


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


def _default_var_dir() -> Path:
    try:
        if django_settings.configured and getattr(django_settings, "VAR_DIR", None):
            return Path(django_settings.VAR_DIR)
    except Exception:  # noqa: BLE001, S110 - a broken settings module must not stop the client
        pass
    return Path(__file__).resolve().parent.parent / "var"


def _origin(url: str) -> str:
    """scheme://host[:port]: the Dataverse resource a token is for, whatever path was typed."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url


class Transport:
    """Signed-in, throttled, retried HTTP to one Dataverse environment.

    The bottom layer of `DataverseClient`: every other layer sends through `request()`, so
    tokens, the shared throttle gate, retries and the mapping of answers to typed errors live
    here only.
    """

    def __init__(self, settings: ConnectionSettings, *, stats: ClientStats | None = None) -> None:
        self.settings = settings
        self.api_root = settings.api_root
        self.stats = stats or ClientStats()
        self._local = threading.local()
        # One session per thread (requests.Session is not thread-safe), by thread id: a long-lived
        # client (connection.clients keeps one per process) closes those of finished threads.
        self._sessions: dict[int, requests.Session] = {}
        self._sessions_lock = threading.Lock()
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

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            policy = self.settings.address_policy
            adapter = (
                GuardedAdapter(policy, pool_connections=2, pool_maxsize=4, max_retries=0)
                if policy is not None
                else HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.verify = self.settings.verify_tls
            if policy is not None:
                # A proxy from the environment would resolve and connect where the policy
                # cannot look (GuardedAdapter refuses one as a backstop).
                session.trust_env = False
            self._local.session = session
            with self._sessions_lock:
                alive = {thread.ident for thread in threading.enumerate()}
                for ident in [i for i in self._sessions if i not in alive]:
                    self._sessions.pop(ident).close()
                # An id is reused by a new thread: whatever is stored under it was a dead one's.
                previous = self._sessions.pop(threading.get_ident(), None)
                if previous is not None:
                    previous.close()
                self._sessions[threading.get_ident()] = session
        return session

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dop_hint(self) -> int | None:
        return self._dop_hint

    def _timeout(self, read: float | None = None) -> tuple[float, float]:
        return (self.settings.connect_timeout, read or self.settings.read_timeout)

    def _backoff(self, attempt: int) -> float:
        delay = min(self.settings.backoff_max, self.settings.backoff_base * (2.0 ** (attempt - 1)))
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
                failure = connection_error(exc, url)
                attempt += 1
                logger.info(
                    "%s %s -> %s after %d ms",
                    method,
                    log_path,
                    failure.reason,
                    (time.monotonic() - started) * 1000,
                )
                if failure.reason in ("dns", "tls") or attempt >= attempts:
                    self.stats.add(errors=1)
                    raise failure from None
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
