"""`python manage.py sync MAPPING [--direction to-crm|from-crm] [--full] [--dry-run]`."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from syncjobs import services
from syncjobs.models import (
    JOB_COUNTERS,
    Direction,
    IntegrationTableMapping,
    JobRun,
    RecordChange,
    SyncError,
)

DIRECTIONS = {"to-crm": Direction.TO_CRM, "from-crm": Direction.FROM_CRM}
COUNTERS = JOB_COUNTERS


def _value(value: Any) -> str:
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Command(BaseCommand):
    help = (
        "Synchronize one integration table mapping now and print what the run did; with "
        "--dry-run, what it would do (nothing is written on either side). Exits with status 1 "
        "when records failed or are in conflict."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "mapping", help="mapping name, e.g. CUSTOMER (see the Synchronization page)"
        )
        parser.add_argument("--direction", choices=sorted(DIRECTIONS))
        parser.add_argument(
            "--full", action="store_true", help="read every record, not only changes"
        )
        parser.add_argument("--dry-run", action="store_true", help="report, write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["mapping"]
        mapping = IntegrationTableMapping.objects.filter(name__iexact=name).first()
        if mapping is None:
            known = ", ".join(IntegrationTableMapping.objects.values_list("name", flat=True))
            raise CommandError(f"No mapping named {name!r}. Mappings: {known or 'none yet'}.")
        direction = DIRECTIONS.get(options["direction"] or "")
        try:
            result = services.mapping_synchronize(
                mapping=mapping,
                direction=direction,
                full=options["full"],
                dry_run=options["dry_run"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        failed = False
        for job in result.jobs:
            self._job(job, dry_run=options["dry_run"])
            failed = failed or job.status != JobRun.Status.SUCCEEDED
        if failed:
            raise CommandError("Some records were not synchronized (see above).", returncode=1)

    def _job(self, job: JobRun, *, dry_run: bool) -> None:
        direction = Direction(job.direction).label if job.direction else "-"
        self.stdout.write(f"{job.job_name} {direction}: {job.get_status_display()}: {job.message}")
        self.stdout.write("  " + "  ".join(f"{name} {getattr(job, name)}" for name in COUNTERS))
        for error in SyncError.objects.filter(job=job).order_by("id")[:50]:
            self.stdout.write(f"  ! {error.source}: {error.message}")
        if not dry_run:
            return
        changes = RecordChange.objects.filter(job=job).order_by("id")
        if not changes.exists():
            return
        self.stdout.write(f"  {'action':<9} {'record':<40} {'field':<28} {'old':<40} new")
        for change in changes.iterator():
            fields = change.fields or [{}]
            for position, entry in enumerate(fields):
                field = entry.get("crm_field") or entry.get("erp_field") or entry.get("message", "")
                self.stdout.write(
                    "  "
                    + f"{change.action if position == 0 else '':<9} "
                    + f"{change.record[:40] if position == 0 else '':<40} "
                    + f"{_value(field):<28} {_value(entry.get('old')):<40} "
                    + _value(entry.get("new"))
                )
