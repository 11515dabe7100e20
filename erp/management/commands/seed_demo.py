"""`python manage.py seed_demo`: fill the ERP tables with deterministic, realistic demo data."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erp import demo
from erp.demo.load import DemoDataExists, demo_data_seed


class Command(BaseCommand):
    help = (
        "Create deterministic demo data: salespeople, currencies, units, payment terms, "
        "shipment methods, shipping agents, price groups, contacts, customers, items with "
        "sales prices per price group and currency, resources, and sales orders in every "
        "state (open, released, shipped, invoiced)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument(
            "--contacts", type=int, default=1000, help="Person contacts (plus their companies)."
        )
        parser.add_argument("--items", type=int, default=500)
        parser.add_argument("--resources", type=int, default=40)
        parser.add_argument(
            "--sales-orders",
            type=int,
            default=20,
            help="Sales orders (a quarter each open, released, shipped, and invoiced).",
        )
        parser.add_argument(
            "--salespeople",
            type=int,
            default=len(demo.SALESPEOPLE),
            help="The first 12 match the sandbox CRM's salespeople users.",
        )
        parser.add_argument(
            "--seed",
            default=demo.DEFAULT_SEED,
            help="Another seed gives other data; the sandbox CRM's overlap uses the default.",
        )
        parser.add_argument("--batch-size", type=int, default=5000)
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--if-empty", action="store_true", help="Do nothing when customers already exist."
        )
        group.add_argument(
            "--append", action="store_true", help="Add demo records to a non-empty database."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("customers", "contacts", "items", "resources", "salespeople", "sales_orders"):
            if options[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} cannot be negative.")
        try:
            result = demo_data_seed(
                customers=options["customers"],
                contacts=options["contacts"],
                items=options["items"],
                resources=options["resources"],
                salespeople=options["salespeople"],
                sales_orders=options["sales_orders"],
                seed=options["seed"],
                if_empty=options["if_empty"],
                append=options["append"],
                batch_size=options["batch_size"],
            )
        except DemoDataExists as exc:
            raise CommandError(exc.message) from exc
        if result.skipped:
            self.stdout.write("Customers already exist; --if-empty: nothing to do.")
            return
        summary = ", ".join(
            f"{count} {name.replace('_', ' ')}" for name, count in result.counts.items()
        )
        self.stdout.write(self.style.SUCCESS(f"Created {summary} in {result.seconds:.1f} s."))
