"""Start the sandbox CRM as a child process (`manage.py runsandbox`) on a free loopback port.

For the test suite and the benchmarks, which talk to the sandbox over real HTTP; the sandbox
application itself never imports this module.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Return once `url` answers at all (any status); fail early if `proc` exits meanwhile."""
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

    def advance_clock(self, seconds: float) -> dict:
        """Move the sandbox's clock `seconds` forward (token and delta-token expiry,
        `modifiedon`, service protection windows) instead of sleeping; `reset()` undoes it."""
        return self.control("clock", {"advance_seconds": seconds})

    def stop(self, timeout: float = 10.0) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sandbox_process(
    db_path: Path,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    *,
    settings_module: str | None = None,
    quiet: bool = False,
    timeout: float = 30.0,
) -> SandboxProcess:
    """Start `runsandbox` on `db_path` (created and seeded if new) and wait until it answers.

    `settings_module` defaults to the caller's DJANGO_SETTINGS_MODULE, else the dev settings
    (as manage.py does); `quiet` discards the server's output.
    """
    port = free_port() if port is None else port
    settings_module = settings_module or os.environ.get(
        "DJANGO_SETTINGS_MODULE", "erpcrm.settings.dev"
    )
    output = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runsandbox",
            "--port",
            str(port),
            "--db",
            str(db_path),
            *extra_args,
        ],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": settings_module},
        stdout=output,
        stderr=output,
    )
    sandbox = SandboxProcess(f"http://127.0.0.1:{port}", db_path, proc)
    try:
        wait_for_http(f"{sandbox.url}/_sandbox/health", timeout=timeout, proc=proc)
    except RuntimeError:
        # A sandbox that never answered must not outlive the caller that gives up on it.
        sandbox.stop()
        raise
    return sandbox
