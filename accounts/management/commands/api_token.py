"""`manage.py api_token USERNAME [--expires YYYY-MM-DD | --revoke]`: a REST API token.

Replaces DRF's `drf_create_token`: the key is printed once and only its hash is stored. Only the
key goes to stdout, so it can be piped; everything else goes to stderr.
"""

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.services import api_token_expiry, api_token_issue, api_token_revoke


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--expires must be a date like 2027-12-31, not {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Issue a new REST API token for a user (the old one stops working) and print it, "
        "or revoke the user's token."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--expires", type=str, default=None, help="last day the token works (YYYY-MM-DD)"
        )
        group.add_argument("--revoke", action="store_true", help="revoke the user's token")

    def handle(
        self, *args: Any, username: str, expires: str | None, revoke: bool, **options: Any
    ) -> None:
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if revoke:
            revoked = api_token_revoke(user=user)
            self.stderr.write("Token revoked." if revoked else f"{username} had no token.")
            return
        expires_on = _date(expires) if expires else None
        if expires_on is not None and expires_on < timezone.localdate():
            raise CommandError("The expiration date must be today or later.")
        key = api_token_issue(user=user, expires_at=api_token_expiry(expires_on=expires_on))
        self.stdout.write(key)
