"""`python manage.py fullsync [--wait] [--only MAPPING ...]`: start the full synchronization."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from syncjobs import fullsync
from syncjobs.models import FullSyncRun

FINAL = (FullSyncRun.Status.FINISHED, FullSyncRun.Status.ERROR)


def _row(line: dict[str, Any]) -> str:
    total = "?" if line["total"] is None else str(line["total"])
    status = line["status_label"]
    message = f"  {line['message']}" if line["message"] else ""
    return f"{line['name']:<20} {status:<12} {line['done']:>8} / {total:<8}{message}"


class Command(BaseCommand):
    help = (
        "Start the full synchronization of every mapping in scope (or only the ones named) on "
        "the Celery workers, in the order of their dependencies. Refused while one is running. "
        "With --wait, print a line per mapping as its status changes and exit with status 1 "
        "when the run ends in error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only", nargs="+", metavar="MAPPING", help="only these mappings (e.g. CUSTOMER)"
        )
        parser.add_argument(
            "--wait", action="store_true", help="wait for the end, printing the progress"
        )
        parser.add_argument(
            "--interval", type=float, default=2.0, help="seconds between two looks (--wait)"
        )
        parser.add_argument(
            "--timeout", type=float, default=0, help="give up waiting after this many seconds"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = fullsync.fullsync_prepare(only=options["only"])
            run = fullsync.fullsync_start(run=run)
        except fullsync.FullSyncError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Full synchronization {run.pk} started: {run.lines.count()} mapping(s).")
        if not options["wait"]:
            return
        printed: dict[str, tuple[Any, ...]] = {}
        deadline = time.monotonic() + options["timeout"] if options["timeout"] else None
        while True:
            status = fullsync.fullsync_status(run=run)
            for line in status["lines"]:
                key = (line["status"], line["done"], line["total"], line["message"])
                if printed.get(line["name"]) != key:
                    printed[line["name"]] = key
                    self.stdout.write(_row(line))
            if status["run"]["status"] in FINAL:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise CommandError("Gave up waiting; the full synchronization goes on.")
            time.sleep(options["interval"])
        self.stdout.write("")
        for line in status["lines"]:
            self.stdout.write(_row(line))
        if status["run"]["status"] == FullSyncRun.Status.ERROR:
            raise CommandError(f"The full synchronization {run.pk} ended in error.")
        self.stdout.write(f"The full synchronization {run.pk} finished.")
