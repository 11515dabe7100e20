"""`manage.py crm_ping` against real endpoints and real failures.

The cases run the command in-process through `call_command` (its exit status is the code of the
`SystemExit` it raises); one test runs the real process and checks the exit code it ends with.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.core.management import call_command

from connection.clients import clients_close
from connection.models import CrmConnection
from sandbox.process import BASE_DIR, free_port
from tests.support.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from tests.support.tls_server import untrusted_https_server


@dataclass
class PingResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def crm_ping(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[Callable[..., PingResult]]:
    """crm_ping(*args, secret=...): run the command in-process with CRM_CLIENT_SECRET set.

    `stderr` also holds the log lines written meanwhile, as a process's stderr would.
    """

    def run(*args: str, secret: str = SANDBOX_CLIENT_SECRET) -> PingResult:
        monkeypatch.setenv("CRM_CLIENT_SECRET", secret)
        caplog.clear()
        stdout, stderr = io.StringIO(), io.StringIO()
        try:
            call_command("crm_ping", *args, stdout=stdout, stderr=stderr)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return PingResult(code, stdout.getvalue(), stderr.getvalue() + caplog.text)

    yield run
    clients_close()  # the command's clients belong to this test only


def ping_sandbox(crm_ping, sandbox, *extra: str, url: str | None = None, **kwargs):
    return crm_ping(
        "--url",
        url or sandbox.url,
        "--token-url",
        sandbox.token_url,
        "--client-id",
        SANDBOX_CLIENT_ID,
        *extra,
        **kwargs,
    )


def without_crm_args(url: str, *extra: str) -> list[str]:
    """crm_ping's arguments for a `url` that is no CRM, its token endpoint on the same host."""
    return ["--url", url, "--token-url", url + "/t/oauth2/v2.0/token", "--client-id", "x", *extra]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A socket that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.sandbox
def test_ping_prints_user_organization_and_base_currency(crm_ping, sandbox):
    result = ping_sandbox(crm_ping, sandbox)
    assert result.returncode == 0, result.stderr
    assert "User id: b1a7c0de-" in result.stdout or "User id: " in result.stdout
    assert "Organization id: " in result.stdout
    assert "Base currency: USD (US Dollar)" in result.stdout
    assert SANDBOX_CLIENT_SECRET not in result.stdout + result.stderr


def test_unknown_host_says_it_could_not_be_resolved(crm_ping):
    result = crm_ping(*without_crm_args("https://crm.example.invalid"))
    assert result.returncode == 1
    assert "The host name crm.example.invalid could not be resolved" in result.stderr
    assert "Traceback" not in result.stderr


def test_closed_port_says_connection_refused_and_the_process_exits_with_1():
    """The one real process: the failure sentence on stderr and the exit code of `manage.py`."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "erpcrm.settings.test",
        "CRM_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "crm_ping",
         *without_crm_args(f"http://127.0.0.1:{free_port()}")],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "refused the connection" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def self_signed_server(tmp_path) -> Iterator[str]:
    """The URL of a local HTTPS server whose certificate nobody trusts."""
    with untrusted_https_server(tmp_path) as url:
        yield url


def test_untrusted_certificate_is_a_tls_failure(crm_ping, self_signed_server):
    result = crm_ping(*without_crm_args(self_signed_server, "--timeout", "5"))
    assert result.returncode == 1
    assert "secure (TLS) connection to 127.0.0.1 failed" in result.stderr


@pytest.mark.sandbox
def test_wrong_secret_shows_its_own_message(crm_ping, sandbox):
    result = ping_sandbox(crm_ping, sandbox, secret="not-the-secret")
    assert result.returncode == 1
    assert "refused the credentials (HTTP 401)" in result.stderr
    assert "not-the-secret" not in result.stderr


@pytest.mark.sandbox
def test_forbidden_user_is_told_about_privileges(crm_ping, sandbox):
    sandbox.control(
        "config",
        {
            "rules": [
                {
                    "fault": "error",
                    "path": "WhoAmI",
                    "status": 403,
                    "code": "0x80040220",
                    "message": "The user does not hold the necessary privileges.",
                }
            ]
        },
    )
    try:
        result = ping_sandbox(crm_ping, sandbox)
    finally:
        sandbox.control("config", {"rules": []})
    assert result.returncode == 1
    assert "no permission for this (HTTP 403)" in result.stderr


@pytest.mark.sandbox
def test_environment_url_with_a_path_is_a_404(crm_ping, sandbox):
    result = ping_sandbox(crm_ping, sandbox, url=sandbox.url + "/crm/main.aspx")
    assert result.returncode == 1
    assert "answered 404" in result.stderr and "environment URL looks wrong" in result.stderr


@pytest.mark.sandbox
def test_wrong_token_url_path_is_reported(crm_ping, sandbox):
    result = crm_ping(
        "--url",
        sandbox.url,
        "--token-url",
        sandbox.url + "/nowhere/token",
        "--client-id",
        SANDBOX_CLIENT_ID,
    )
    assert result.returncode == 1
    assert "token URL" in result.stderr


def test_silent_server_times_out(crm_ping, silent_server):
    result = crm_ping(*without_crm_args(f"http://127.0.0.1:{silent_server}", "--timeout", "1"))
    assert result.returncode == 1
    assert "did not answer within 1 seconds" in result.stderr


@pytest.mark.django_db
def test_without_a_saved_connection_it_says_so(capsys):
    with pytest.raises(SystemExit) as exited:
        call_command("crm_ping")
    assert exited.value.code == 1
    assert "No CRM connection is saved yet" in capsys.readouterr().err


@pytest.mark.sandbox
@pytest.mark.django_db
def test_saved_connection_is_checked_by_default(sandbox, capsys):
    connection = CrmConnection(
        pk=CrmConnection.SINGLETON_ID,
        environment_url=sandbox.url,
        token_url=sandbox.token_url,
        client_id=SANDBOX_CLIENT_ID,
    )
    connection.client_secret = SANDBOX_CLIENT_SECRET
    connection.save()
    call_command("crm_ping")
    output = capsys.readouterr().out
    assert f"Connected to {sandbox.url}." in output
    assert "Base currency: USD (US Dollar)" in output
