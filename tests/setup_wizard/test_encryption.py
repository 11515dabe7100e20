"""Secrets at rest: encrypted with the newest key, readable with older keys, rotatable."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from connection import crypto
from connection.models import CrmConnection

pytestmark = pytest.mark.django_db


def _connection(secret: str) -> CrmConnection:
    connection = CrmConnection(
        pk=1,
        environment_url="https://contoso.crm.dynamics.com",
        token_url="https://login.example/t",
        client_id="x",
    )
    connection.client_secret = secret
    connection.availability_key = "ws-key-123"
    connection.save()
    return connection


def test_no_key_configured_is_a_clear_configuration_error(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is not set"):
        crypto.encrypt("secret")


def test_secret_is_stored_encrypted_not_in_clear_text() -> None:
    _connection("s3cr3t-value")
    stored = CrmConnection.objects.values_list("client_secret_encrypted", flat=True).get()
    assert "s3cr3t-value" not in stored
    assert CrmConnection.objects.get().client_secret == "s3cr3t-value"


def test_rotate_encryption_key_lets_the_old_key_be_removed(settings) -> None:
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    _connection("s3cr3t-value")
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    # Both keys configured: the old ciphertext still reads.
    assert CrmConnection.objects.get().client_secret == "s3cr3t-value"
    out = io.StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "2 secret(s)" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    connection = CrmConnection.objects.get()
    assert connection.client_secret == "s3cr3t-value"
    assert connection.availability_key == "ws-key-123"


def test_rotation_without_the_old_key_fails_clearly(settings) -> None:
    _connection("s3cr3t-value")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_encryption_key", stdout=io.StringIO())
