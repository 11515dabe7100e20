"""`python manage.py salesorders pull|push`: the sales order integration now, for operators and
scripts.

- `pull`: the submitted CRM orders not taken over yet (or `--order ID ...`) become ERP sales
  orders; one line per order, created or failed with its reason; exit status 1 when one
  failed.
- `push`: order statuses and posted invoices to the CRM now; what was sent and what failed;
  exit status 1 when something failed.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from connection.interactive import crm_problem
from connection.selectors import crm_connection_get
from dataverse import errors as dv
from salesorders import pull, push


class Command(BaseCommand):
    help = (
        "Run the sales order integration now: pull (CRM orders to ERP orders), push (order "
        "statuses and posted invoices to the CRM)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        pull_parser = actions.add_parser(
            "pull",
            help="create ERP sales orders from the submitted CRM orders now",
        )
        pull_parser.add_argument(
            "--order",
            nargs="+",
            metavar="CRM_ORDER_ID",
            help="only these CRM orders (their ids), e.g. to retry failed ones",
        )

        actions.add_parser("push", help="send order statuses and posted invoices to the CRM now")

    def handle(self, *args: Any, **options: Any) -> None:
        handlers = {"pull": self._pull, "push": self._push}
        handlers[options["action"]](**options)

    def _pull(self, **options: Any) -> None:
        ids = None
        if options.get("order"):
            try:
                ids = [uuid.UUID(value) for value in options["order"]]
            except ValueError as exc:
                raise CommandError(f"Not a CRM order id: {exc}") from exc
        try:
            result = pull.crm_orders_pull(crm_order_ids=ids)
        except pull.PullUnavailable as exc:
            raise CommandError(exc.message) from exc
        except dv.DataverseError as exc:
            raise CommandError(crm_problem(exc).message) from exc
        for record in result.created:
            self.stdout.write(
                f"created  {record.crm_order_number or record.crm_order_id}"
                f"  ->  {record.erp_order_no}"
            )
        for record in result.failed:
            self.stdout.write(
                f"failed   {record.crm_order_number or record.crm_order_id}:  {record.reason}"
            )
        self.stdout.write(f"{len(result.created)} created, {len(result.failed)} failed.")
        if result.failed:
            raise CommandError(
                f"{len(result.failed)} CRM order(s) could not be created.", returncode=1
            )

    def _push(self, **options: Any) -> None:
        if crm_connection_get() is None:
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
            raise CommandError(
                _("Some orders or invoices could not be sent to the CRM."), returncode=1
            )
