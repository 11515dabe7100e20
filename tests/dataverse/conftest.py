from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dataverse.client import ConnectionSettings, DataverseClient
from dataverse.throttle import reset_gates
from sandbox.process import SandboxProcess
from tests.support.sandbox import sandbox_settings, start_sandbox

from .replay import ReplayServer, Route, section


@pytest.fixture(scope="package")
def dataverse_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """Our own sandbox CRM: these tests write thousands of rows and change limits and faults,
    which must not leak into other areas' tests that share the session sandbox."""
    with start_sandbox(tmp_path_factory.mktemp("dataverse-sandbox")) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _fresh_gates() -> Iterator[None]:
    reset_gates()
    yield
    reset_gates()


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        # The published token exchange shows the body only ("body as published").
        body = section("02", "Successful").strip()
        server.add(
            "POST",
            "/tenant/oauth2/v2.0/token",
            Route(200, [("Content-Type", "application/json")], body),
        )
        yield server


@pytest.fixture
def replay_client(replay: ReplayServer, tmp_path: Path) -> Iterator[Callable[..., DataverseClient]]:
    clients: list[DataverseClient] = []

    def make(api_version: str = "v9.2", **overrides: object) -> DataverseClient:
        settings = ConnectionSettings(
            environment_url=replay.url,
            token_url=f"{replay.url}/tenant/oauth2/v2.0/token",
            client_id="535fb089-9ff3-47b6-9bfb-4f1264799865",
            client_secret="sampleCredentials",
            api_version=api_version,
            throttle_dir=str(tmp_path / "throttle"),
            max_attempts=2,
            backoff_base=0.01,
            **overrides,  # type: ignore[arg-type]
        )
        client = DataverseClient(settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def sandbox_client(dataverse_sandbox: SandboxProcess, tmp_path: Path) -> Iterator[DataverseClient]:
    """A client of the integration user against the live sandbox."""
    client = DataverseClient(sandbox_settings(dataverse_sandbox, tmp_path))
    yield client
    client.close()
