"""Re-encrypt every stored secret with the newest key in FIELD_ENCRYPTION_KEYS.

Procedure: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old one after it), restart,
run this command, then remove the old key and restart again.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from connection import services
from connection.crypto import DecryptionFailed


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the newest key in FIELD_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = services.encryption_keys_rotate()
        except DecryptionFailed as exc:
            raise CommandError(
                f"{exc}. Keep every key that may still be in use in FIELD_ENCRYPTION_KEYS "
                "(newest first)."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(f"{count} secret(s) re-encrypted with the newest key.")
        )
