"""Check a CRM connection: WhoAmI and the organization's base currency, or one clear sentence."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from connection.clients import client_get
from connection.errors import crm_answer_text
from connection.selectors import crm_connection_settings
from dataverse import errors
from dataverse.client import ConnectionSettings


def failure_sentence(exc: errors.DataverseError, settings: ConnectionSettings) -> str:
    """One sentence a person can act on, for each way a connection check fails."""
    if isinstance(exc, errors.ConnectionFailed):
        host = exc.host or urlsplit(settings.environment_url).hostname or ""
        if exc.reason == "dns":
            return _(
                "The host name %(host)s could not be resolved: check the environment URL "
                "and the token URL."
            ) % {"host": host}
        if exc.reason == "refused":
            return _(
                "%(host)s refused the connection: check the URL and port, and that the CRM "
                "is reachable from this server."
            ) % {"host": host}
        if exc.reason == "tls":
            return _(
                "The secure (TLS) connection to %(host)s failed: check that the URL uses the "
                "right scheme (https) and that the server's certificate is trusted."
            ) % {"host": host}
        if exc.reason == "timeout":
            return _(
                "%(host)s did not answer within %(seconds)s seconds: check the URL, proxies "
                "and firewalls."
            ) % {"host": host, "seconds": f"{settings.read_timeout:g}"}
        return _("Could not connect to %(host)s: %(message)s") % {
            "host": host,
            "message": exc.message,
        }
    if isinstance(exc, errors.AuthenticationFailed):
        if exc.status == 404:
            return _("The token URL %(url)s does not exist (HTTP 404): check the token URL.") % {
                "url": settings.token_url
            }
        return _(
            "The CRM refused the credentials (HTTP %(status)s): check the client id and "
            "secret and that an application user exists for them. (%(message)s)"
        ) % {"status": exc.status, "message": exc.message}
    if isinstance(exc, errors.Forbidden):
        return _(
            "The CRM user has no permission for this (HTTP 403): give the application user "
            "its security role. (%(message)s)"
        ) % {"message": exc.message}
    if isinstance(exc, errors.NotFound):
        return _(
            "The CRM answered 404 at %(url)s: the environment URL looks wrong (it must be the "
            "organization's address without a path, e.g. https://contoso.crm.dynamics.com)."
        ) % {"url": settings.api_root}
    if isinstance(exc, errors.Throttled):
        return _("The CRM is throttling this user; try again in %(seconds)s seconds.") % {
            "seconds": f"{exc.retry_after:g}"
        }
    if isinstance(exc, errors.AddressNotAllowed):
        return _(
            "%(host)s resolves to %(address)s, a private, loopback or reserved address: this "
            "installation connects only to public addresses (CRM_ALLOW_PRIVATE_ADDRESSES)."
        ) % {"host": exc.host, "address": exc.address}  # an operator's command: say which
    return crm_answer_text(exc, environment_url=settings.environment_url)


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Translated when the parser is built, not at import (argparse cannot take lazy text).
        self.help = _(
            "Check the CRM connection (the saved one, or --url/--token-url/--client-id with the "
            "secret in the CRM_CLIENT_SECRET environment variable)."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", help=_("Environment URL, e.g. https://contoso.crm.dynamics.com")
        )
        parser.add_argument("--token-url", help=_("OAuth 2.0 token endpoint URL"))
        parser.add_argument("--client-id", help=_("Application (client) id"))
        parser.add_argument(
            "--timeout", type=float, default=15.0, help=_("Seconds to wait for each answer")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        logger = logging.getLogger("dataverse")
        previous_level = logger.level
        if options["verbosity"] < 2:
            # The failure sentence below says it all; request logs only with -v 2. The level is
            # put back afterwards: call_command() runs inside a longer-lived process.
            logger.setLevel(logging.ERROR)
        try:
            self._check(options)
        finally:
            logger.setLevel(previous_level)

    def _check(self, options: dict[str, Any]) -> None:
        settings = self._settings(options)
        settings = dataclasses.replace(
            settings,
            connect_timeout=options["timeout"],
            read_timeout=options["timeout"],
            max_attempts=1,  # a check answers quickly; it does not retry
            max_throttle_retries=0,
        )
        client = client_get(settings=settings)
        try:
            who = client.whoami()
            currency = client.organization_base_currency()
        except errors.DataverseError as exc:
            self.stderr.write(failure_sentence(exc, settings))
            sys.exit(1)
        self.stdout.write(
            _("Connected to %(url)s.") % {"url": settings.base_url}
            + "\n"
            + _("User id: %(id)s") % {"id": who.user_id}
            + "\n"
            + _("Organization id: %(id)s") % {"id": who.organization_id}
            + "\n"
            + _("Base currency: %(code)s (%(name)s)")
            % {"code": currency.iso_code, "name": currency.name}
        )

    def _settings(self, options: dict[str, Any]) -> ConnectionSettings:
        given = [options.get("url"), options.get("token_url"), options.get("client_id")]
        if any(given):
            if not all(given):
                self.stderr.write(_("Give --url, --token-url and --client-id together."))
                sys.exit(2)
            secret = os.environ.get("CRM_CLIENT_SECRET", "")
            if not secret:
                self.stderr.write(
                    _("Set the client secret in the CRM_CLIENT_SECRET environment variable.")
                )
                sys.exit(2)
            return ConnectionSettings(
                environment_url=options["url"],
                token_url=options["token_url"],
                client_id=options["client_id"],
                client_secret=secret,
            )
        saved = crm_connection_settings()
        if saved is None:
            self.stderr.write(
                _(
                    "No CRM connection is saved yet: set one up at /setup/connection/ or give "
                    "--url, --token-url and --client-id."
                )
            )
            sys.exit(1)
        return saved
