"""Encryption of secrets at rest (Fernet, several keys for rotation).

`settings.FIELD_ENCRYPTION_KEYS` lists url-safe base64 Fernet keys, newest first. Encrypting
always uses the newest key; decrypting tries every key, so an old key keeps working until
`manage.py rotate_encryption_key` has re-encrypted everything and the old key is removed.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class DecryptionFailed(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in getattr(settings, "FIELD_ENCRYPTION_KEYS", []) if k and k.strip()]
    if not keys:
        raise ImproperlyConfigured(
            _(
                "FIELD_ENCRYPTION_KEYS is not set. Generate a key with "
                '`python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"` '
                "and put it in the FIELD_ENCRYPTION_KEYS environment variable (comma-separated, "
                "newest first)."
            )
        )
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            _(
                "FIELD_ENCRYPTION_KEYS holds a value that is not a valid Fernet key (32 url-safe "
                "base64-encoded bytes)."
            )
        ) from exc


def encrypt(plaintext: str) -> str:
    if plaintext == "":
        return ""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if token == "":
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed(
            "a stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt `token` with the newest key (MultiFernet.rotate)."""
    if token == "":
        return ""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed(
            "a stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS"
        ) from exc
