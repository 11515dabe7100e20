"""`manage.py crm_ping` run as a real process against real endpoints and real failures."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import free_port

from .conftest import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

BASE_DIR = Path(__file__).resolve().parents[2]


def ping(*args: str, secret: str = SANDBOX_CLIENT_SECRET) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "erpcrm.settings.test",
        "CRM_CLIENT_SECRET": secret,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "crm_ping", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ping_sandbox(sandbox, *extra: str, url: str | None = None, **kwargs):
    return ping(
        "--url",
        url or sandbox.url,
        "--token-url",
        sandbox.token_url,
        "--client-id",
        SANDBOX_CLIENT_ID,
        *extra,
        **kwargs,
    )


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
def test_ping_prints_user_organization_and_base_currency(sandbox):
    result = ping_sandbox(sandbox)
    assert result.returncode == 0, result.stderr
    assert "User id: b1a7c0de-" in result.stdout or "User id: " in result.stdout
    assert "Organization id: " in result.stdout
    assert "Base currency: USD (US Dollar)" in result.stdout
    assert SANDBOX_CLIENT_SECRET not in result.stdout + result.stderr


def test_unknown_host_says_it_could_not_be_resolved():
    result = ping(
        "--url",
        "https://crm.example.invalid",
        "--token-url",
        "https://crm.example.invalid/t/oauth2/v2.0/token",
        "--client-id",
        "x",
    )
    assert result.returncode == 1
    assert "The host name crm.example.invalid could not be resolved" in result.stderr
    assert "Traceback" not in result.stderr


def test_closed_port_says_connection_refused():
    port = free_port()
    result = ping(
        "--url",
        f"http://127.0.0.1:{port}",
        "--token-url",
        f"http://127.0.0.1:{port}/t/oauth2/v2.0/token",
        "--client-id",
        "x",
    )
    assert result.returncode == 1
    assert "refused the connection" in result.stderr


@pytest.fixture
def self_signed_server(tmp_path) -> Iterator[int]:
    """A local HTTPS server whose certificate nobody trusts."""
    import datetime
    import ssl
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_untrusted_certificate_is_a_tls_failure(self_signed_server):
    url = f"https://127.0.0.1:{self_signed_server}"
    result = ping(
        "--url",
        url,
        "--token-url",
        url + "/t/oauth2/v2.0/token",
        "--client-id",
        "x",
        "--timeout",
        "5",
    )
    assert result.returncode == 1
    assert "secure (TLS) connection to 127.0.0.1 failed" in result.stderr


@pytest.mark.sandbox
def test_wrong_secret_shows_its_own_message(sandbox):
    result = ping_sandbox(sandbox, secret="not-the-secret")
    assert result.returncode == 1
    assert "refused the credentials (HTTP 401)" in result.stderr
    assert "not-the-secret" not in result.stderr


@pytest.mark.sandbox
def test_forbidden_user_is_told_about_privileges(sandbox):
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
        result = ping_sandbox(sandbox)
    finally:
        sandbox.control("config", {"rules": []})
    assert result.returncode == 1
    assert "no permission for this (HTTP 403)" in result.stderr


@pytest.mark.sandbox
def test_environment_url_with_a_path_is_a_404(sandbox):
    result = ping_sandbox(sandbox, url=sandbox.url + "/crm/main.aspx")
    assert result.returncode == 1
    assert "answered 404" in result.stderr and "environment URL looks wrong" in result.stderr


@pytest.mark.sandbox
def test_wrong_token_url_path_is_reported(sandbox):
    result = ping(
        "--url",
        sandbox.url,
        "--token-url",
        sandbox.url + "/nowhere/token",
        "--client-id",
        SANDBOX_CLIENT_ID,
    )
    assert result.returncode == 1
    assert "token URL" in result.stderr


def test_silent_server_times_out(silent_server):
    url = f"http://127.0.0.1:{silent_server}"
    result = ping(
        "--url",
        url,
        "--token-url",
        url + "/t/oauth2/v2.0/token",
        "--client-id",
        "x",
        "--timeout",
        "1",
    )
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
    from setup_wizard.models import CrmConnection

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
