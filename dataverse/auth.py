"""OAuth 2.0 tokens for the Dataverse Web API (Microsoft identity platform v2 token endpoint).

Client credentials for the integration user; the password grant only for one-time
administrator actions. The token is cached until shortly before it expires. Neither the request
body nor the token is ever logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from .errors import AuthenticationFailed, TransientError, parse_error_body

logger = logging.getLogger(__name__)

# Refresh this long before the server-side expiry so a request never leaves with a token that
# dies in flight.
EXPIRY_MARGIN_SECONDS = 120.0


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic()


class TokenProvider:
    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        scope: str,
        client_secret: str = "",
        username: str = "",
        password: str = "",
        send: Callable[..., requests.Response],
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.scope = scope
        self._client_secret = client_secret
        self._username = username
        self._password = password
        self._send = send
        self._lock = threading.Lock()
        self._token: _Token | None = None

    def __repr__(self) -> str:
        return f"TokenProvider(token_url={self.token_url!r}, client_id={self.client_id!r})"

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._token.expires_at:
                self._token = self._fetch()
            return self._token.value

    def invalidate(self, used: str) -> None:
        """Forget the token after a 401, unless another thread already replaced it."""
        with self._lock:
            if self._token is not None and self._token.value == used:
                self._token = None

    def _form(self) -> dict[str, str]:
        form = {"client_id": self.client_id, "scope": self.scope}
        if self._username:
            form.update(grant_type="password", username=self._username, password=self._password)
            if self._client_secret:
                form["client_secret"] = self._client_secret
        else:
            form.update(grant_type="client_credentials", client_secret=self._client_secret)
        return form

    def _fetch(self) -> _Token:
        response = self._send(self.token_url, self._form())
        body: object
        try:
            body = response.json()
        except ValueError:
            body = response.content
        if response.status_code >= 500:
            code, message, _ = parse_error_body(body)
            raise TransientError(
                message or "The token endpoint answered with a server error.",
                status=response.status_code,
                code=code,
            )
        if response.status_code != 200 or not isinstance(body, dict):
            code, message, details = parse_error_body(body)
            raise AuthenticationFailed(
                message
                or f"The token endpoint refused the credentials (HTTP {response.status_code}).",
                status=response.status_code,
                code=code,
                details={k: v for k, v in details.items() if k in ("error_codes", "trace_id")},
            )
        access_token = body.get("access_token")
        if not access_token:
            raise AuthenticationFailed("The token endpoint returned no access token.", status=200)
        try:
            lifetime = float(body.get("expires_in", 3599))
        except (TypeError, ValueError):
            lifetime = 3599.0
        margin = min(EXPIRY_MARGIN_SECONDS, lifetime / 4)
        logger.debug("token acquired for client %s (lifetime %d s)", self.client_id, lifetime)
        return _Token(str(access_token), time.monotonic() + max(0.0, lifetime - margin))
