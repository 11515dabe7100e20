"""`python manage.py salesorders pull|push`: the sales order integration now, for operators and
scripts.

- `pull`: the submitted CRM orders not taken over yet (or `--order ID ...`) become ERP sales
  orders; one line per order, created or failed with its reason; exit status 1 when one
  failed.
- `push`: order statuses and posted invoices to the CRM (the push half of the integration adds
  it here: one `_push` method and its subparser).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connection.interactive import crm_problem
from dataverse import errors as dv
from salesorders import pull


class Command(BaseCommand):
    help = "Run the sales order integration now: pull (CRM orders to ERP orders)."

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

    def handle(self, *args: Any, **options: Any) -> None:
        handlers = {"pull": self._pull}
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
