"""seed_demo: deterministic, realistic, and careful with existing data."""

import io
import os
import shutil
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from erp import demo, models

BASE_DIR = Path(__file__).resolve().parents[2]
SMALL = {"customers": 60, "contacts": 30, "items": 12, "resources": 5, "salespeople": 6}


def _seed(**options: object) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **{**SMALL, **options})
    return out.getvalue()


def test_seed_demo_creates_what_it_says(db: None) -> None:
    output = _seed()

    assert "60 customers" in output
    assert models.Customer.objects.count() == 60
    assert models.Item.objects.count() == 12
    assert models.Resource.objects.count() == 5
    assert models.Salesperson.objects.count() == 6
    # 30 people plus a company contact for each one who works for a customer.
    people = models.Contact.objects.filter(type=models.Contact.Type.PERSON)
    assert people.count() == 30
    assert models.Contact.objects.filter(type=models.Contact.Type.COMPANY).count() == (
        people.filter(company__isnull=False).count()
    )
    used_currencies = set(
        models.Customer.objects.exclude(currency=None).values_list("currency__code", flat=True)
    )
    assert len(used_currencies) >= 3
    assert models.Customer.objects.filter(currency=None).exists()  # local-currency customers
    assert models.Currency.objects.exclude(exchange_rate=Decimal("1")).count() >= 3
    assert len(set(models.Customer.objects.values_list("country_code", flat=True))) >= 4


def test_every_item_has_a_price_per_price_group_and_currency(db: None) -> None:
    _seed()

    groups = models.CustomerPriceGroup.objects.count()
    assert groups >= 3
    expected = groups * len(demo.PRICE_CURRENCIES)
    for item in models.Item.objects.all():
        prices = item.sales_prices.all()
        assert prices.count() == expected
        local_retail = prices.get(price_group__code="RETAIL", currency=None)
        eur_retail = prices.get(price_group__code="RETAIL", currency__code="EUR")
        assert local_retail.unit_price == item.unit_price
        assert eur_retail.unit_price == (
            item.unit_price * eur_retail.currency.exchange_rate
        ).quantize(Decimal("0.01"))


def test_seeded_records_pass_model_validation(db: None) -> None:
    _seed()

    for model in (models.Customer, models.Contact, models.Item, models.SalesPrice):
        for record in model.objects.all()[:40]:
            record.full_clean()


def test_primary_contacts_work_for_their_customer(db: None) -> None:
    _seed()

    customers = models.Customer.objects.exclude(primary_contact=None).select_related(
        "primary_contact__company"
    )
    assert customers.count() > 10
    for customer in customers:
        assert customer.primary_contact.company.name == customer.name
        assert customer.contact_name == customer.primary_contact.name


def test_each_customer_is_linked_to_its_own_company_contact(db: None) -> None:
    _seed()
    _seed(append=True, customers=10, contacts=10, items=0, resources=0)

    companies = models.Contact.objects.filter(type=models.Contact.Type.COMPANY)
    linked = models.Customer.objects.exclude(company_contact=None).select_related("company_contact")
    assert companies.count() > 10
    # Every company contact the loader made is the company contact of exactly its customer.
    assert linked.count() == companies.count()
    for customer in linked:
        index = int(customer.no[1:]) - 1
        assert customer.no == demo.customer_no(index)
        assert customer.company_contact.no == demo.company_contact_no(index)
        assert customer.company_contact.name == customer.name
    # The people of the company are the customer's contacts.
    for customer in linked.exclude(primary_contact=None):
        assert customer.primary_contact.company_id == customer.company_contact_id


def test_overlap_data_is_exactly_what_seed_demo_creates(db: None) -> None:
    _seed()

    for row in demo.overlap_customers(40):
        stored = models.Customer.objects.values(*row).get(no=row["no"])
        assert stored == row
    for row in demo.overlap_contacts(30):
        contact = models.Contact.objects.select_related("company").get(no=row["no"])
        assert (contact.first_name, contact.last_name, contact.email, contact.phone) == (
            row["first_name"],
            row["last_name"],
            row["email"],
            row["phone"],
        )
        if row["company_no"]:
            customer = models.Customer.objects.get(no=row["company_no"])
            assert customer.primary_contact_id == contact.pk
    names = set(models.Salesperson.objects.values_list("name", flat=True))
    assert {p["name"] for p in demo.demo_salespeople(6)} == names


def test_seed_demo_refuses_a_database_with_customers(db: None) -> None:
    _seed()

    with pytest.raises(CommandError, match="already holds 60 customers"):
        _seed()

    assert models.Customer.objects.count() == 60


def test_if_empty_does_nothing_when_customers_exist(db: None) -> None:
    _seed()

    output = _seed(if_empty=True)

    assert "nothing to do" in output
    assert models.Customer.objects.count() == 60


def test_append_continues_the_numbering(db: None) -> None:
    _seed()

    _seed(append=True, customers=10, contacts=0, items=2, resources=0)

    assert models.Customer.objects.count() == 70
    assert models.Customer.objects.order_by("-no").first().no == demo.customer_no(69)
    assert models.Item.objects.count() == 14
    # Reference tables are not duplicated.
    assert models.Currency.objects.count() == len(demo.CURRENCIES)


def test_different_seed_gives_different_data() -> None:
    assert demo.overlap_customers(5) == demo.overlap_customers(5)
    first = list(demo.iter_customers("other-seed").__next__().values())
    assert first != list(demo.overlap_customers(1)[0].values())


def _dump(path: Path) -> dict[str, list[tuple]]:
    """Every ERP row, without the columns that are unique per run (uuid, modified_at)."""
    con = sqlite3.connect(path)
    tables = [
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'erp_%'"
        )
    ]
    dump = {}
    for table in tables:
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        keep = [c for c in cols if c not in ("uuid", "modified_at")]
        dump[table] = con.execute(f"SELECT {', '.join(keep)} FROM {table} ORDER BY id").fetchall()  # noqa: S608
    con.close()
    return dump


def test_two_runs_into_two_databases_give_the_same_data(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "erpcrm.settings.test"

    def manage(db: Path, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env={**env, "DATABASE_URL": f"sqlite:///{db}"},
            check=True,
            capture_output=True,
        )

    first, second = tmp_path / "first.sqlite3", tmp_path / "second.sqlite3"
    manage(first, "migrate", "--verbosity", "0")
    shutil.copy(first, second)
    counts = [f"--{k}={v}" for k, v in SMALL.items()]
    manage(first, "seed_demo", *counts)
    manage(second, "seed_demo", *counts)

    one, two = _dump(first), _dump(second)
    assert len(one["erp_customer"]) == 60
    assert len(one["erp_salesprice"]) > 0
    assert one == two


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's")
def test_search_indexes_survive_seeding_on_postgresql(db: None) -> None:
    _seed()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'erp_customer' "
            "AND indexname LIKE '%%_trgm'"
        )
        names = {row[0] for row in cursor.fetchall()}
    assert "erp_customer_name_trgm" in names
    assert "erp_customer_city_trgm" in names


def test_seed_demo_creates_sales_orders_in_every_state(db: None) -> None:
    output = _seed(sales_orders=8)

    assert "8 sales orders" in output and "2 posted sales invoices" in output
    orders = models.SalesOrder.objects.all()
    assert orders.count() == 8
    assert orders.filter(status="open").count() == 2
    assert orders.filter(shipped=True, invoiced=False).count() == 2
    assert orders.filter(invoiced=True).count() == 2
    assert all(order.amount > 0 for order in orders)
    assert models.PostedSalesInvoice.objects.count() == 2
