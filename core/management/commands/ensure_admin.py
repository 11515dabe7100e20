"""Create the first administrator; `make run` calls it on every start.

Credentials come from DJANGO_ADMIN_USERNAME / DJANGO_ADMIN_PASSWORD / DJANGO_ADMIN_EMAIL. Without
a password a random one is generated and printed once, on creation; later runs never print it.
The password goes to the terminal only (stdout), never to a logger.
"""

import secrets
from typing import Any

import environ
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core import services

env = environ.Env()


class Command(BaseCommand):
    help = "Create the administrator user (superuser + Integration administrators) if missing."

    def handle(self, *args: Any, **options: Any) -> None:
        username = env("DJANGO_ADMIN_USERNAME", default="admin")
        email = env("DJANGO_ADMIN_EMAIL", default="admin@example.com")
        given_password = env("DJANGO_ADMIN_PASSWORD", default="")
        password = given_password or secrets.token_urlsafe(12)
        try:
            result = services.admin_ensure(username=username, email=email, password=password)
        except ValidationError as exc:
            raise CommandError(
                _("DJANGO_ADMIN_PASSWORD is not accepted: %(reasons)s")
                % {"reasons": " ".join(exc.messages)}
            ) from exc
        if not result.created:
            self.stdout.write(
                _(
                    "Administrator '%(username)s' exists; password unchanged "
                    "(reset it with: python manage.py changepassword %(username)s)."
                )
                % {"username": username}
            )
        elif given_password:
            self.stdout.write(
                self.style.SUCCESS(
                    _("Created administrator '%(username)s' with DJANGO_ADMIN_PASSWORD.")
                    % {"username": username}
                )
            )
        else:
            line = "=" * 72
            self.stdout.write(
                self.style.WARNING(
                    f"{line}\n"
                    + _(
                        "Created administrator '%(username)s' with password: %(password)s\n"
                        "This password is shown only this once. Write it down or change it."
                    )
                    % {"username": username, "password": password}
                    + f"\n{line}"
                )
            )
