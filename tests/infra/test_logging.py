"""The redaction filter on the configured console handler, fed real log records."""

import io
import logging
from collections.abc import Iterator

import pytest

from core.logging import RedactSecretsFilter

# A logger of our own: application loggers' levels may be changed by other tests' commands.
LOGGER = "tests.infra.redaction"


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the configured console handler (settings.LOGGING) writes, captured."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactSecretsFilter) for f in h.filters)
    )
    stream = io.StringIO()
    old_stream = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(old_stream)


def test_client_secret_in_a_token_request_body_is_masked(console: io.StringIO) -> None:
    logging.getLogger(LOGGER).warning(
        "token request failed: %s",
        "grant_type=client_credentials&client_id=abc&client_secret=s3cr3t-Value&scope=x",
    )

    line = console.getvalue()
    assert "s3cr3t-Value" not in line
    assert "client_secret=***" in line
    assert "client_id=abc" in line


def test_bearer_token_in_a_header_dump_is_masked(console: io.StringIO) -> None:
    logging.getLogger(LOGGER).error(
        "request headers: %r", {"Authorization": "Bearer eyJhbGciOi.payload.sig"}
    )

    line = console.getvalue()
    assert "eyJhbGciOi" not in line
    assert "Bearer ***" in line


def test_password_in_an_exception_traceback_is_masked(console: io.StringIO) -> None:
    try:
        raise ValueError("login refused for body username=admin&password=Hunter-2-secret")
    except ValueError:
        logging.getLogger(LOGGER).exception("administrator sign-in failed")

    output = console.getvalue()
    assert "administrator sign-in failed" in output
    assert "ValueError" in output
    assert "Hunter-2-secret" not in output
    assert "password=***" in output


def test_ordinary_messages_pass_unchanged(console: io.StringIO) -> None:
    logging.getLogger(LOGGER).warning("synchronized %d of %d customers", 40, 41)

    assert "synchronized 40 of 41 customers" in console.getvalue()


def test_a_quoted_password_with_spaces_is_masked_whole(console: io.StringIO) -> None:
    logging.getLogger(LOGGER).warning('login payload {"password": "open sesame, please"}')

    line = console.getvalue()
    assert "sesame" not in line
    assert "please" not in line
    assert '"password": "***"' in line


def test_an_api_token_header_is_masked(console: io.StringIO) -> None:
    logging.getLogger(LOGGER).warning("headers: Authorization: Token 9f8e7d6c5b4a")

    assert "9f8e7d6c5b4a" not in console.getvalue()


def test_django_records_pass_through_the_redacting_handler(console: io.StringIO) -> None:
    logging.getLogger("django.request").error("bad request client_secret=leaked-value")

    line = console.getvalue()
    assert "leaked-value" not in line
    assert "client_secret=***" in line


def test_a_bare_bearer_token_is_masked(console: io.StringIO) -> None:
    logging.getLogger(LOGGER).warning("retrying with Bearer eyJ0eXAiOiJKV1Qi.eyJzdWIi.c2ln-_x=")

    line = console.getvalue()
    assert "eyJ0eXAi" not in line
    assert "c2ln" not in line
    assert "retrying with Bearer ***" in line


@pytest.mark.parametrize("name", ["token", "access_token", "client_secret", "password"])
def test_secret_keys_in_a_json_body_are_masked(console: io.StringIO, name: str) -> None:
    logging.getLogger(LOGGER).warning(
        'token response: {"%s": "sv-9x8y7z \\"quoted\\" tail", "expires_in": 3599}', name
    )

    line = console.getvalue()
    assert "sv-9x8y7z" not in line and "quoted" not in line and "tail" not in line
    assert f'"{name}": "***"' in line
    assert '"expires_in": 3599' in line


@pytest.mark.parametrize("name", ["token", "access_token", "client_secret", "password"])
def test_secret_keys_in_a_python_repr_are_masked(console: io.StringIO, name: str) -> None:
    logging.getLogger(LOGGER).warning("sent %r", {name: "sv-9x8y7z", "scope": "x/.default"})

    line = console.getvalue()
    assert "sv-9x8y7z" not in line
    assert f"'{name}': '***'" in line
    assert "'scope': 'x/.default'" in line


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgres://erpcrm:pg-Pass-7@postgres:5432/erpcrm", "postgres://erpcrm:***@postgres"),
        ("redis://:redis-Pass-7@redis:6379/0", "redis://:***@redis"),
        ("https://someone:web-Pass-7@crm.example.com/x", "https://someone:***@crm.example.com"),
    ],
)
def test_the_password_in_a_url_is_masked(console: io.StringIO, url: str, shown: str) -> None:
    logging.getLogger(LOGGER).error("cannot connect to %s", url)

    line = console.getvalue()
    assert "Pass-7" not in line
    assert shown in line


def test_a_url_without_credentials_passes_unchanged(console: io.StringIO) -> None:
    logging.getLogger(LOGGER).info("calling https://crm.example.com:443/api/data/v9.2/WhoAmI")

    assert "https://crm.example.com:443/api/data/v9.2/WhoAmI" in console.getvalue()


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        ("sign-in body username=ana&password=open sesame please&next=/", "&next=/"),
        ("setup failed password=open sesame please", "setup failed password=***"),
        ("setup failed password=open sesame please user=ana", "user=ana"),
        ("{'password': 'open sesame please'}", "'password': '***'"),
        ('{"password": "open sesame please"}', '"password": "***"'),
    ],
)
def test_a_password_with_spaces_is_masked_entirely(
    console: io.StringIO, message: str, kept: str
) -> None:
    logging.getLogger(LOGGER).warning(message)

    line = console.getvalue()
    assert "sesame" not in line
    assert "please" not in line
    assert kept in line
