"""`manage.py runsandbox`: serve the Dataverse-compatible sandbox CRM with waitress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import waitress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from waitress.channel import HTTPChannel
from waitress.task import WSGITask

from sandbox.app import SandboxApp
from sandbox.control import Settings


def keep_alive_on_204() -> None:
    """Waitress 3.0 closes the connection after every 204/304 (no Content-Length to send);
    Dataverse clients create records one request at a time and expect keep-alive."""

    class KeepAliveTask(WSGITask):
        _building = False

        def build_response_header(self) -> bytes:
            self._building = True
            try:
                return super().build_response_header()  # type: ignore[no-any-return]
            finally:
                self._building = False

        def set_close_on_finish(self) -> None:
            if (
                self._building
                and not self.has_body
                and self.version == "1.1"
                and self.request.headers.get("CONNECTION", "").lower() != "close"
            ):
                return
            super().set_close_on_finish()

    HTTPChannel.task_class = KeepAliveTask


class Command(BaseCommand):
    help = "Run the sandbox CRM (Dataverse Web API subset) as a threaded WSGI server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.SANDBOX_HOST)
        parser.add_argument("--port", type=int, default=settings.SANDBOX_PORT)
        parser.add_argument("--db", default=settings.SANDBOX_DB_PATH)
        parser.add_argument("--reset", action="store_true", help="wipe and reseed the database")
        parser.add_argument("--threads", type=int, default=16)
        parser.add_argument("--token-lifetime", type=int, default=3599, help="seconds")
        parser.add_argument(
            "--rate-limit", default="", help="service protection limit as N/SECONDS, e.g. 6000/300"
        )
        parser.add_argument("--error-rate", type=float, default=0.0)
        parser.add_argument("--error-status", type=int, default=503)
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--commit-then-fail-rate", type=float, default=0.0)
        parser.add_argument(
            "--config", default="", help="JSON object with the same keys as POST /_sandbox/config"
        )
        parser.add_argument(
            "--erp-hosts",
            default=settings.SANDBOX_ERP_HOSTS,
            help="comma-separated hosts the item availability lookup may call",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = Settings(
            token_lifetime_seconds=options["token_lifetime"],
            error_rate=options["error_rate"],
            error_status=options["error_status"],
            latency_ms=options["latency_ms"],
            commit_then_fail_rate=options["commit_then_fail_rate"],
            erp_hosts=options["erp_hosts"],
        )
        if options["rate_limit"]:
            count, _, window = options["rate_limit"].partition("/")
            config.rate_limit_requests = int(count)
            config.rate_limit_window_seconds = float(window or 300)
        if options["config"]:
            config.update(json.loads(options["config"]))
        db = Path(options["db"])
        db.parent.mkdir(parents=True, exist_ok=True)
        app = SandboxApp(str(db), config, reset=options["reset"])
        self.stdout.write(
            f"Sandbox CRM on http://{options['host']}:{options['port']} (database {db})"
        )
        keep_alive_on_204()
        waitress.serve(
            app,
            host=options["host"],
            port=options["port"],
            threads=options["threads"],
            ident="sandbox-crm",
            connection_limit=200,
            channel_timeout=120,
            _quiet=True,
        )
