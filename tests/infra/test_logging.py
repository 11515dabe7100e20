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
