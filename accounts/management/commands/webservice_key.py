"""`manage.py webservice_key USERNAME [--expires YYYY-MM-DD]`: a new web service access key.

Only the key goes to stdout, so it can be piped; everything else goes to stderr.
"""

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.services import webservice_key_expiry, webservice_key_generate


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--expires must be a date like 2027-12-31, not {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Generate a new web service access key for a user (the old key stops working) and print it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--expires", type=str, default=None, help="last day the key works (YYYY-MM-DD)"
        )

    def handle(self, *args: Any, username: str, expires: str | None, **options: Any) -> None:
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        expires_on = _date(expires) if expires else None
        if expires_on is not None and expires_on < timezone.localdate():
            raise CommandError("The expiration date must be today or later.")
        key = webservice_key_generate(
            user=user, expires_at=webservice_key_expiry(expires_on=expires_on)
        )
        self.stdout.write(key)
