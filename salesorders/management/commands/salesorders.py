"""`manage.py salesorders push`: send the ERP's order statuses and posted invoices to the CRM
now, print what was sent and what failed, exit non-zero when something failed.

Subcommands: one `add_parser` and one handler each (`pull` turns submitted CRM orders into ERP
orders; it lives with its own services)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from connection.selectors import crm_connection_get
from salesorders import push


class Command(BaseCommand):
    help = "Sales orders between the ERP and the CRM: push sends order statuses and invoices."

    def add_arguments(self, parser: ArgumentParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True)
        commands.add_parser("push", help="Send order statuses and posted invoices to the CRM now.")

    def handle(self, *args: Any, **options: Any) -> None:
        handlers = {"push": self.handle_push}
        handlers[options["subcommand"]]()

    def handle_push(self) -> None:
        connection = crm_connection_get()
        if connection is None:
            raise CommandError(_("No CRM connection is set up: run the setup first."))
        failed = False
        statuses = push.order_status_run()
        self.stdout.write(
            _("Order statuses: %(sent)s order(s) updated, %(failed)s failed.")
            % {"sent": len(statuses.sent), "failed": len(statuses.failed)}
        )
        for line in statuses.sent:
            self.stdout.write("  " + _("sent: %(order)s") % {"order": line})
        for line in statuses.failed:
            self.stdout.write("  " + _("failed: %(order)s") % {"order": line})
        failed = failed or bool(statuses.failed) or statuses.run.status == "failed"
        if statuses.run.status == "skipped":
            self.stdout.write(f"  {statuses.run.message}")
        invoices = push.posted_invoices_push()
        if invoices.result is None:
            self.stdout.write(_("Posted invoices: %(message)s") % {"message": invoices.message})
            failed = True
        else:
            for name, counts in push.job_counts(invoices.result.jobs).items():
                self.stdout.write(
                    _(
                        "%(name)s: %(inserted)s created, %(modified)s updated, "
                        "%(failed)s failed (%(status)s)."
                    )
                    % {"name": name, **counts}
                )
            for job in invoices.result.jobs:
                if job.status in ("failed", "skipped") and job.message:
                    self.stdout.write(f"  {job.job_name}: {job.message}")
            for line in invoices.errors:
                self.stdout.write("  " + _("failed: %(order)s") % {"order": line})
            failed = failed or invoices.failed
        if failed:
            raise CommandError(_("Some orders or invoices could not be sent to the CRM."))
