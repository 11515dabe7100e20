"""Fixtures shared by the whole suite: one choke point per external system.

- The sandbox CRM runs as a real separate process (`manage.py runsandbox`) on a free port with
  its own database file; tests talk to it over real HTTP.
- PostgreSQL and Redis are used when DATABASE_URL / CELERY_BROKER_URL point at them (CI's
  second pass); otherwise SQLite and the file-system broker.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException as exc:
            last_error = exc
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s: {last_error}")


class SandboxProcess:
    """A running sandbox CRM: `url` is the environment URL, `token_url` the OAuth endpoint."""

    def __init__(self, url: str, db_path: Path, proc: subprocess.Popen) -> None:
        self.url = url
        self.db_path = db_path
        self.proc = proc
        self.token_url = f"{url}/sandbox/oauth2/v2.0/token"
        self.api_url = f"{url}/api/data/v9.2/"

    def control(self, path: str, payload: dict | None = None) -> dict:
        """POST to the sandbox's test-control endpoints (/_sandbox/...)."""
        response = requests.post(f"{self.url}/_sandbox/{path}", json=payload or {}, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else {}

    def reset(self) -> None:
        self.control("reset")


def start_sandbox(tmp_dir: Path, *extra_args: str) -> SandboxProcess:
    port = free_port()
    db_path = tmp_dir / f"sandbox-{port}.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "erpcrm.settings.test"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runsandbox", "--port", str(port), "--db", str(db_path), *extra_args],
        cwd=BASE_DIR,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/_sandbox/health", proc=proc)
    return SandboxProcess(url, db_path, proc)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """One sandbox CRM for the session. Tests that change its configuration reset it after."""
    sb = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    try:
        yield sb
    finally:
        sb.proc.terminate()
        try:
            sb.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sb.proc.kill()
