"""The sandbox CRM as a plain WSGI application (served by waitress from `manage.py runsandbox`).

Routes: the OAuth token endpoint, the Web API under /api/data/v9.x/, the control endpoints
under /_sandbox/ (loopback callers only), the read-only browse pages at / and /browse/<set>/ and
the salesperson's order pages under /sales/ (sandbox/sales.py).
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import json
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox import browse, clock, sales, seed, solution
from sandbox.api import Api
from sandbox.control import Control, Settings
from sandbox.protocol import (
    CODE_NOT_AUTHENTICATED,
    CODE_NOT_FOUND_SEGMENT,
    CODE_NOT_MEMBER,
    CODE_UNEXPECTED,
    CODE_USER_DISABLED,
    JSON_TYPE,
    VERSION_RE,
    ApiError,
    Request,
    Response,
    error_response,
    json_response,
    status_line,
)
from sandbox.store import Store
from sandbox.tables import Table, build_standard_tables

StartResponse = Callable[..., Any]


class SandboxApp:
    def __init__(
        self, db_path: str, settings: Settings | None = None, *, reset: bool = False
    ) -> None:
        self.store = Store(db_path)
        self.settings = settings or Settings()
        self.control = Control(self.settings)
        self.api = Api(self.store, build_standard_tables(), self.settings)
        self.tokens: dict[str, tuple[str, float]] = {}
        self.tokens_lock = threading.Lock()
        self.boot_id = str(uuid.uuid4())[:24]
        self.request_counter = itertools.count(1)
        self.sales = sales.SalesPages(self)
        if reset or self.store.get("organizations", seed.ORGANIZATION_ID) is None:
            self.reseed()
        else:
            self.api.solution_tables = solution.load_tables(self.store)

    def registry(self) -> dict[str, Table]:
        return self.api.tables

    def reseed(self) -> None:
        with self.store.transaction():
            self.store.wipe()
            self.api.solution_tables = {}
            seed.seed(self.api)

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            response = self.route(environ)
        except Exception as exc:  # noqa: BLE001 - a sandbox bug must still answer like a server would
            traceback.print_exc()
            response = error_response(ApiError(500, CODE_UNEXPECTED, f"Sandbox error: {exc!r}"))
        body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else response.body
        headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(status_line(response.status), headers)
        return [body]

    def route(self, environ: dict[str, Any]) -> Response:
        # WSGI hands PATH_INFO over as latin-1 decoded bytes; URLs carry UTF-8
        path = (environ.get("PATH_INFO", "") or "/").encode("latin-1").decode("utf-8", "replace")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path.startswith("/_sandbox/"):
            return self.control_endpoint(environ, method, path[len("/_sandbox/") :])
        if path.startswith("/api/data/"):
            return self.api_endpoint(environ, method, path)
        parts = [p for p in path.split("/") if p]
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"] and method == "POST":
            return self.token_endpoint(environ)
        if len(parts) >= 3 and parts[1] == "oauth2" and parts[-1] == "authorize":
            return Response(
                200,
                [("Content-Type", "text/plain; charset=utf-8")],
                b"The sandbox CRM has no interactive sign-in; use the token endpoint.",
            )
        if path == "/sales":
            return Response(301, [("Location", "/sales/")], b"")
        if path.startswith("/sales/"):
            return self.sales(environ, method, path)
        if method == "GET" and (path == "/" or path.startswith("/browse/")):
            return browse.page(self, environ, path)
        return Response(404, [("Content-Type", "text/plain")], b"Not found")

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def base_url(environ: dict[str, Any]) -> str:
        host = environ.get("HTTP_HOST") or (
            f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
        )
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"

    @staticmethod
    def read_body(environ: dict[str, Any]) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        return environ["wsgi.input"].read(length) if length > 0 else b""

    @staticmethod
    def headers_of(environ: dict[str, Any]) -> dict[str, str]:
        headers: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").lower()] = value
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        return headers

    # ------------------------------------------------------------------ OAuth

    def token_endpoint(self, environ: dict[str, Any]) -> Response:
        form = {
            k: v[0] for k, v in parse_qs(self.read_body(environ).decode("utf-8", "replace")).items()
        }
        headers = self.headers_of(environ)
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                form.setdefault("client_id", cid)
                form.setdefault("client_secret", secret)
            except ValueError:
                pass
        env = self.base_url(environ)
        grant = form.get("grant_type", "")
        client_id = form.get("client_id", "")
        scope = form.get("scope", "")
        if grant not in ("client_credentials", "password"):
            return entra_error(
                400,
                "unsupported_grant_type",
                70003,
                f"AADSTS70003: The app requested an unsupported grant type '{grant}'.",
            )
        if not client_id:
            return entra_error(
                400,
                "invalid_request",
                900144,
                "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
            )
        if not scope_matches(scope.strip(), env):
            return entra_error(
                400, "invalid_scope", 70011,
                "AADSTS70011: The provided value for the input parameter 'scope' is not valid. "
                f"The scope {scope} is not valid.",
            )  # fmt: skip
        if grant == "client_credentials":
            app = seed.APPLICATIONS.get(client_id.lower())
            if app is None:
                return unknown_application_error(client_id)
            if not secrets.compare_digest(form.get("client_secret", ""), app[0]):
                return entra_error(
                    401,
                    "invalid_client",
                    7000215,
                    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                    "in the request is the client secret value, not the client secret ID, for a "
                    f"secret added to app '{client_id}'.",
                )
            user_id = app[1]
        else:
            if client_id.lower() not in seed.PUBLIC_CLIENT_IDS:
                return unknown_application_error(client_id)
            user = seed.INTERACTIVE_USERS.get(form.get("username", "").lower())
            if user is None or not secrets.compare_digest(form.get("password", ""), user[0]):
                return entra_error(
                    400,
                    "invalid_grant",
                    50126,
                    "AADSTS50126: Error validating credentials due to invalid username or password.",  # noqa: E501
                )
            user_id = user[1]
        token = secrets.token_urlsafe(32)
        lifetime = self.settings.token_lifetime_seconds
        expires = clock.now() + lifetime
        with self.tokens_lock:
            self.tokens[token] = (user_id, expires)
        self.store.save_token(token, user_id, expires)
        with self.control.lock:
            # Per user, so tests can tell how often a client signs in (GET /_sandbox/stats).
            issued = self.control.stats.setdefault("tokens_issued", {})
            issued[user_id] = issued.get(user_id, 0) + 1
        body = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        return Response(
            200,
            [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store")],
            json.dumps(body).encode(),
        )

    def authenticate(self, environ: dict[str, Any], headers: dict[str, str]) -> str | Response:
        env = self.base_url(environ)
        auth = headers.get("authorization", "")
        challenge = (
            f'Bearer authorization_uri="{env}/sandbox/oauth2/authorize", resource_id="{env}"'
        )
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return unauthorized(challenge, "The access token is missing.")
        token = auth[7:].strip()
        with self.tokens_lock:
            found = self.tokens.get(token)
        if found is None:
            found = self.store.load_token(token)
            if found is not None:
                with self.tokens_lock:
                    self.tokens[token] = found
        if found is None:
            return unauthorized(challenge, "The access token is invalid.")
        user_id, expires = found
        if clock.now() >= expires:
            return unauthorized(challenge, "The access token has expired.", expired=True)
        return user_id

    # ------------------------------------------------------------------ Web API

    def api_endpoint(self, environ: dict[str, Any], method: str, path: str) -> Response:
        rest = path[len("/api/data/") :]
        version, _, resource = rest.partition("/")
        if not VERSION_RE.match(version):
            return error_response(
                ApiError(
                    404, CODE_NOT_FOUND_SEGMENT, f"Resource not found for the segment '{version}'."
                )
            )
        headers = self.headers_of(environ)
        user = self.authenticate(environ, headers)
        if isinstance(user, Response):
            return user
        if not user:
            return error_response(
                ApiError(403, CODE_NOT_MEMBER, "The user is not a member of the organization.")
            )
        account = self.store.get("systemusers", user)
        if account is not None and account.get("isdisabled"):
            return error_response(
                ApiError(
                    400,
                    CODE_USER_DISABLED,
                    f"The user with SystemUserId={user} in OrganizationContext="
                    f"{seed.ORGANIZATION_ID} is disabled. Disabled users cannot access the "
                    "system. Consider enabling this user.",
                )
            )
        started = time.monotonic()  # a real duration; Control.done stamps it on the clock
        decision = self.control.decide(user, method, path)
        try:
            return self.api_call(environ, method, path, resource, version, headers, user, decision)
        finally:
            if decision.counted:
                self.control.done(user, started)

    def api_call(
        self,
        environ: dict[str, Any],
        method: str,
        path: str,
        resource: str,
        version: str,
        headers: dict[str, str],
        user: str,
        decision: Any,
    ) -> Response:
        request_id = f"{self.boot_id}{next(self.request_counter):012x}"
        extra_headers = [
            ("REQ_ID", request_id),
            ("x-ms-service-request-id", request_id),
            ("x-ms-dop-hint", str(self.settings.dop_hint)),
            ("x-ms-ratelimit-burst-remaining-xrm-requests", str(self.control.remaining(user))),
            ("x-ms-ratelimit-time-remaining-xrm-requests", "1,200.00"),
        ]
        if self.settings.latency_ms:
            time.sleep(self.settings.latency_ms / 1000)
        fault = decision.fault
        if decision.throttled_retry_after is not None or (fault and fault.fault == "throttle"):
            retry = decision.throttled_retry_after or (fault.retry_after if fault else 1)
            limit = self.settings.rate_limit_requests or 6000
            window = int(self.settings.rate_limit_window_seconds)
            message = decision.throttle_message or (
                f"Number of requests exceeded the limit of {limit} over time window of "
                f"{window} seconds."
            )
            response = error_response(
                ApiError(429, decision.throttle_code, message, [("Retry-After", str(retry))])
            )
            response.headers += extra_headers
            return response
        if fault and fault.fault == "error":
            status = fault.status or 503
            response = error_response(ApiError(status, fault.code, fault.message))
            if status in (429, 503) and fault.retry_after:
                response.headers.append(("Retry-After", str(fault.retry_after)))
            response.headers += extra_headers
            return response
        if fault and fault.fault == "latency":
            time.sleep(fault.latency_ms / 1000)
        body = self.read_body(environ)
        prefer_values = [v for k, v in environ.items() if k == "HTTP_PREFER"]
        if prefer_values:
            headers["prefer"] = ",".join(prefer_values)
        req = Request(
            method=method,
            path=resource,
            raw_query=environ.get("QUERY_STRING", ""),
            headers=headers,
            body=body,
            base=self.base_url(environ),
            version=version,
            user_id=user,
        )
        response = self.api.handle(req)
        if decision.commit_then_fail or (fault and fault.fault == "commit_then_fail"):
            code = fault.code if fault else "0x80040216"
            status = (fault.status if fault else None) or 500
            response = error_response(
                ApiError(
                    status,
                    code,
                    "An unexpected error occurred after the change was saved "
                    "(injected by the sandbox).",
                )
            )
        response.headers += extra_headers
        return response

    # ------------------------------------------------------------------ control endpoints

    def control_endpoint(self, environ: dict[str, Any], method: str, name: str) -> Response:
        remote = environ.get("REMOTE_ADDR", "")
        try:
            loopback = ipaddress.ip_address(remote).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return json_response(403, {"error": "control endpoints answer loopback callers only"})
        name = name.strip("/")
        if name == "health":
            return json_response(
                200,
                {
                    "status": "ok",
                    "organization": seed.ORGANIZATION_ID,
                    "version": self.store.current_version,
                },
            )
        if name == "stats" and method == "GET":
            return json_response(200, self.control.stats)
        if name == "reset" and method == "POST":
            clock.reset()  # first, so that the reseeded rows get real-time stamps
            self.reseed()
            self.control.reset_settings()
            with self.tokens_lock:
                self.tokens.clear()
            return json_response(200, {"status": "reset", "settings": self.settings.as_dict()})
        if name == "config":
            if method == "GET":
                return json_response(200, self.settings.as_dict())
            if method == "POST":
                try:
                    payload = json.loads(self.read_body(environ) or b"{}")
                    with self.control.lock:
                        self.settings.update(payload)
                except (ValueError, TypeError) as exc:
                    return json_response(400, {"error": str(exc)})
                return json_response(200, self.settings.as_dict())
        if name in ("clock", "expire-tokens"):
            return self.time_control(environ, method, name)
        return json_response(404, {"error": f"unknown control endpoint '{name}'"})

    def time_control(self, environ: dict[str, Any], method: str, name: str) -> Response:
        """`/_sandbox/clock` (GET: the clock; POST {"advance_seconds": N}: move it forward) and
        `POST /_sandbox/expire-tokens`."""
        if name == "clock" and method in ("GET", "POST"):
            if method == "POST":
                try:
                    payload = json.loads(self.read_body(environ) or b"{}")
                    clock.advance(float(payload.get("advance_seconds", 0)))
                except (ValueError, TypeError, AttributeError) as exc:
                    return json_response(400, {"error": str(exc)})
            return json_response(
                200, {"offset_seconds": clock.offset(), "now": clock.utcnow().isoformat()}
            )
        if name == "expire-tokens" and method == "POST":
            with self.tokens_lock:
                for token, (user, _) in list(self.tokens.items()):
                    self.tokens[token] = (user, 0.0)
            return json_response(200, {"status": "expired"})
        return json_response(404, {"error": f"unknown control endpoint '{name}'"})


LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def scope_matches(scope: str, env: str) -> bool:
    """`<environment URL>/.default` (MSAL also writes `//.default`); loopback aliases of the
    sandbox's own address (localhost vs 127.0.0.1) name the same environment."""
    wanted, given = urlsplit(env), urlsplit(scope)
    if given.path not in ("/.default", "//.default") or given.scheme != wanted.scheme:
        return False
    if given.netloc.lower() == wanted.netloc.lower():
        return True
    return (
        (given.hostname or "") in LOOPBACK_NAMES
        and (wanted.hostname or "") in LOOPBACK_NAMES
        and given.port == wanted.port
    )


def unauthorized(challenge: str, description: str, *, expired: bool = False) -> Response:
    value = f'{challenge}, error="invalid_token", error_description="{description}"'
    code = CODE_NOT_AUTHENTICATED
    return Response(
        401,
        [("WWW-Authenticate", value), ("Content-Type", JSON_TYPE), ("OData-Version", "4.0")],
        json.dumps(
            {
                "error": {
                    "code": code,
                    "message": ("ExpiredAuthTicket: " if expired else "") + description,
                }
            }
        ).encode(),
    )


def unknown_application_error(client_id: str) -> Response:
    return entra_error(
        400,
        "unauthorized_client",
        700016,
        f"AADSTS700016: Application with identifier '{client_id}' was not found in "
        "the directory 'sandbox'.",
    )


def entra_error(status: int, error: str, code: int, description: str) -> Response:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = clock.utcnow().strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error,
        "error_description": f"{description}\r\nTrace ID: {trace}\r\nCorrelation ID: "
        f"{correlation}\r\nTimestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
    }
    return Response(
        status, [("Content-Type", "application/json; charset=utf-8")], json.dumps(body).encode()
    )


__all__ = ["SandboxApp"]
