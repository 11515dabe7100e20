"""Helpers around the sandbox CRM process: starting one, its published demo credentials, and an
authenticated HTTP session of one identity (for the sandbox's own tests)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import requests

from dataverse.client import ConnectionSettings
from sandbox.process import SandboxProcess, free_port, start_sandbox_process

# The sandbox's published demo identities (README), written out here rather than taken from the
# sandbox's code, so that a change there shows up as a failing test.
INTEGRATION = ("5e1d6c7a-0d1b-4f1e-9c3a-2b7e8f9a0c01", "sandbox-integration-secret")
ADMIN_APP = ("5e1d6c7a-0d1b-4f1e-9c3a-2b7e8f9a0c02", "sandbox-admin-app-secret")
ADMIN_USER = ("admin@sandbox.example", "Sandbox-Admin-1!")
SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET = INTEGRATION
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def start_sandbox(tmp_dir: Path, *extra_args: str) -> SandboxProcess:
    """A sandbox CRM process on a free port with its own database file in `tmp_dir`."""
    port = free_port()
    return start_sandbox_process(
        tmp_dir / f"sandbox-{port}.sqlite3",
        port=port,
        extra_args=extra_args,
        settings_module="erpcrm.settings.test",
    )


def sandbox_settings(sandbox: Any, tmp_path: Path, **overrides: object) -> ConnectionSettings:
    """Dataverse client settings of the integration user against `sandbox`."""
    values: dict[str, object] = {
        "environment_url": sandbox.url,
        "token_url": sandbox.token_url,
        "client_id": SANDBOX_CLIENT_ID,
        "client_secret": SANDBOX_CLIENT_SECRET,
        "throttle_dir": str(tmp_path / "throttle"),
        "backoff_base": 0.05,
        "backoff_max": 1.0,
    }
    values.update(overrides)
    return ConnectionSettings(**values)  # type: ignore[arg-type]


class Crm:
    """A requests session against the sandbox with a bearer token of one identity."""

    def __init__(self, sandbox: Any, credentials: tuple[str, str] = INTEGRATION) -> None:
        self.sandbox = sandbox
        self.url = sandbox.url
        self.api = f"{sandbox.url}/api/data/v9.2/"
        self.session = requests.Session()
        self.token = token(sandbox, credentials)
        self.session.headers.update(
            {
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/json",
                "OData-Version": "4.0",
                "OData-MaxVersion": "4.0",
            }
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self._url(path), timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self._url(path), timeout=60, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.patch(self._url(path), timeout=30, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.put(self._url(path), timeout=30, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.delete(self._url(path), timeout=30, **kwargs)

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else self.api + path

    def create(self, entity_set: str, body: dict[str, Any]) -> str:
        response = self.post(entity_set, json=body)
        assert response.status_code == 204, response.text
        match = re.search(rf"\(({GUID})\)$", response.headers["OData-EntityId"])
        assert match
        return match.group(1)

    def row(self, entity_set: str, row_id: str, select: str | None = None) -> dict[str, Any]:
        response = self.get(f"{entity_set}({row_id})" + (f"?$select={select}" if select else ""))
        assert response.status_code == 200, response.text
        return response.json()

    def all_rows(self, entity_set: str, query: str = "", page_size: int = 5000) -> list[dict]:
        url: str | None = f"{entity_set}{query}"
        rows: list[dict] = []
        while url:
            response = self.get(url, headers={"Prefer": f"odata.maxpagesize={page_size}"})
            assert response.status_code == 200, response.text
            rows += response.json()["value"]
            url = response.json().get("@odata.nextLink")
        return rows

    def clear(self, entity_set: str, pk: str) -> None:
        for row in self.all_rows(entity_set, f"?$select={pk}"):
            assert self.delete(f"{entity_set}({row[pk]})").status_code == 204


def token(sandbox: Any, credentials: tuple[str, str]) -> str:
    user, secret = credentials
    if "@" in user:
        data = {"grant_type": "password", "client_id": INTEGRATION[0], "username": user,
                "password": secret}  # fmt: skip
    else:
        data = {"grant_type": "client_credentials", "client_id": user, "client_secret": secret}
    data["scope"] = f"{sandbox.url}/.default"
    response = requests.post(sandbox.token_url, data=data, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def crm_get(crm: Any, entity_set: str) -> requests.Response:
    """GET `<crm>/api/data/v9.2/<entity_set>` as the integration user of `crm` (credentials with
    url, token_url, client_id, client_secret), with a token of its own: what the CRM holds,
    read past the app's client."""
    token = requests.post(
        crm.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": crm.client_id,
            "client_secret": crm.client_secret,
            "scope": f"{crm.url}/.default",
        },
        timeout=10,
    ).json()["access_token"]
    return requests.get(
        f"{crm.url}/api/data/v9.2/{entity_set}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
