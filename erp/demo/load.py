"""Loading the demo records (`erp.demo.generate`) into the ERP tables: `seed_demo`.

Rows are bulk-created as plain model instances with every field given, so nothing random
(and no test factory) takes part and two runs give the same database.
"""

import datetime
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from erp import demo, documents
from erp import models as models_
from erp.services import ErpError

# The tables whose records are numbered (`no`): demo numbers are a prefix and a counter.
NumberedModel = models_.Contact | models_.Customer | models_.Item | models_.Resource

# Demo sales prices are valid from this date; a fixed date keeps the demo data deterministic.
DEMO_PRICE_START = datetime.date(2026, 1, 1)
# Demo sales orders are dated, shipped and invoiced on fixed days for the same reason.
DEMO_ORDER_DATE = datetime.date(2026, 3, 2)
DEMO_SHIPMENT_DATE = datetime.date(2026, 3, 5)
DEMO_INVOICE_DATE = datetime.date(2026, 3, 6)


class DemoDataExists(ErpError):
    """seed_demo refuses to mix demo records into a database that already holds customers."""


@dataclass
class DemoSeedResult:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: bool = False


def _create_missing(
    model: type[models_.SyncedModel], rows: Sequence[Mapping[str, Any]], key: str = "code"
) -> int:
    existing = set(model.objects.values_list(key, flat=True))
    objs = [model(**row) for row in rows if row[key] not in existing]
    model.objects.bulk_create(objs)
    return len(objs)


def _next_index(model: type[NumberedModel], pattern: str) -> int:
    """Index after the highest demo number already stored (demo numbers are zero-padded)."""
    last = (
        model.objects.filter(no__regex=pattern).order_by("-no").values_list("no", flat=True).first()
    )
    return int("".join(ch for ch in last if ch.isdigit())) if last else 0


def _prefix_map(model: type[NumberedModel], prefix: str) -> dict[str, int]:
    # Numbers -> pks of the demo records just inserted (no `__in` list: SQLite caps the
    # number of query parameters).
    return dict(model.objects.filter(no__startswith=prefix).values_list("no", "pk"))


def _code_map(model: type[models_.SyncedModel], key: str = "code") -> dict[str, int]:
    return dict(model.objects.values_list(key, "pk"))


@contextmanager
def _search_indexes_deferred() -> Iterator[None]:
    """On PostgreSQL, drop the search trigram indexes (migration 0002) for a bulk load and
    build them again afterwards: maintaining them row by row doubles the time of seeding
    100,000 customers, building them from scratch takes a few seconds. Runs inside the
    caller's transaction, so a failed load leaves the indexes as they were."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename LIKE 'erp%%' AND indexname LIKE '%%_trgm'"
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        # Django's foreign keys are deferred; PostgreSQL will not build an index on a table
        # with pending constraint checks, so run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for _name, definition in indexes:
            cursor.execute(definition)


def demo_data_seed(
    *,
    customers: int,
    contacts: int,
    items: int,
    resources: int,
    salespeople: int,
    sales_orders: int = 0,
    seed: str = demo.DEFAULT_SEED,
    if_empty: bool = False,
    append: bool = False,
    batch_size: int = 5000,
) -> DemoSeedResult:
    """Fill the ERP tables with deterministic demo data (see `erp.demo`).

    Refuses (`DemoDataExists`) when customers exist, unless `append` (add more records after
    the highest demo numbers) or `if_empty` (do nothing).
    """
    started = time.perf_counter()
    result = DemoSeedResult()
    existing = models_.Customer.objects.count()
    if existing and if_empty:
        result.skipped = True
        return result
    if existing and not append:
        raise DemoDataExists(
            _(
                "The database already holds %(count)d customers; seed_demo does not mix demo "
                "data into existing data. Use --append to add demo records anyway, or "
                "--if-empty to skip when data exists."
            )
            % {"count": existing}
        )
    counts = result.counts
    with transaction.atomic(), _search_indexes_deferred():
        counts["salespeople"] = _create_missing(
            models_.Salesperson, demo.demo_salespeople(salespeople)
        )
        counts["currencies"] = _create_missing(
            models_.Currency,
            [
                {"code": c, "symbol": s, "description": d, "exchange_rate": Decimal(r)}
                for c, s, d, r in demo.CURRENCIES
            ],
        )
        simple: dict[
            str, tuple[type[models_.CodeDescriptionModel], tuple[tuple[str, str], ...]]
        ] = {
            "units_of_measure": (
                models_.UnitOfMeasure,
                demo.UNITS_OF_MEASURE,
            ),
            "shipment_methods": (
                models_.ShipmentMethod,
                demo.SHIPMENT_METHODS,
            ),
            "shipping_agents": (
                models_.ShippingAgent,
                demo.SHIPPING_AGENTS,
            ),
        }
        for name, (model, rows) in simple.items():
            counts[name] = _create_missing(model, [{"code": c, "description": d} for c, d in rows])
        counts["payment_terms"] = _create_missing(
            models_.PaymentTerms,
            [{"code": c, "description": d, "due_days": n} for c, d, n in demo.PAYMENT_TERMS],
        )
        counts["customer_price_groups"] = _create_missing(
            models_.CustomerPriceGroup,
            [{"code": c, "description": d} for c, d, _factor in demo.PRICE_GROUPS],
        )
        counts.update(
            _seed_customers_and_contacts(
                customers=customers,
                contacts=contacts,
                salespeople=salespeople,
                seed=seed,
                batch_size=batch_size,
            )
        )
        counts.update(_seed_items(items=items, seed=seed, batch_size=batch_size))
        counts.update(_seed_resources(resources=resources, seed=seed, batch_size=batch_size))
        counts.update(_seed_sales_orders(sales_orders=sales_orders, seed=seed))
    result.seconds = time.perf_counter() - started
    return result


def _seed_customers_and_contacts(
    *, customers: int, contacts: int, salespeople: int, seed: str, batch_size: int
) -> dict[str, int]:
    customer_start = _next_index(models_.Customer, r"^C[0-9]{6}$")
    contact_start = _next_index(models_.Contact, r"^CP[0-9]{6}$")
    customer_rows = list(
        islice(demo.iter_customers(seed), customer_start, customer_start + customers)
    )
    by_no = {row["no"]: (customer_start + i, row) for i, row in enumerate(customer_rows)}
    person_rows = list(islice(demo.iter_contacts(seed), contact_start, contact_start + contacts))

    currencies = _code_map(models_.Currency)
    salespeople_map = _code_map(models_.Salesperson)
    terms_maps = {
        "payment_terms": _code_map(models_.PaymentTerms),
        "shipment_method": _code_map(models_.ShipmentMethod),
        "shipping_agent": _code_map(models_.ShippingAgent),
        "price_group": _code_map(models_.CustomerPriceGroup),
    }
    terms_of = {
        row["no"]: demo.customer_terms(seed, index, salespeople)
        for row, index in ((row, customer_start + i) for i, row in enumerate(customer_rows))
    }

    # A company contact for every customer that has a person contact in this run.
    companies = []
    for person in person_rows:
        if person["company_no"] not in by_no:
            continue
        index, customer = by_no[person["company_no"]]
        country = demo.COUNTRIES_BY_CODE[customer["country_code"]]
        terms = terms_of[customer["no"]]
        companies.append(
            models_.Contact(
                type=models_.Contact.Type.COMPANY,
                no=demo.company_contact_no(index),
                name=customer["name"],
                address=customer["address"],
                post_code=customer["post_code"],
                city=customer["city"],
                country_code=customer["country_code"],
                phone=customer["phone"],
                email=customer["email"],
                home_page=customer["home_page"],
                salesperson_id=salespeople_map.get(terms["salesperson"]),
                currency_id=currencies.get(country.currency),
            )
        )
    _bulk(models_.Contact, companies, batch_size)
    company_pks = _prefix_map(models_.Contact, "CC")

    people = []
    primary_of: dict[str, str] = {}
    for person in person_rows:
        customer_no = person["company_no"] if person["company_no"] in by_no else ""
        company_pk = None
        address: dict[str, str] = {}
        if customer_no:
            index, customer = by_no[customer_no]
            company_pk = company_pks[demo.company_contact_no(index)]
            primary_of[customer_no] = person["no"]
            address = {k: customer[k] for k in ("address", "post_code", "city", "country_code")}
        people.append(
            models_.Contact(
                type=models_.Contact.Type.PERSON,
                no=person["no"],
                first_name=person["first_name"],
                last_name=person["last_name"],
                name=f"{person['first_name']} {person['last_name']}",
                email=person["email"],
                phone=person["phone"],
                company_id=company_pk,
                address=address.get("address", ""),
                post_code=address.get("post_code", ""),
                city=address.get("city", ""),
                country_code=address.get("country_code", ""),
            )
        )
    _bulk(models_.Contact, people, batch_size)
    person_pks = _prefix_map(models_.Contact, "CP")

    objs = []
    for row in customer_rows:
        index, _row = by_no[row["no"]]
        terms = terms_of[row["no"]]
        country = demo.COUNTRIES_BY_CODE[row["country_code"]]
        primary = primary_of.get(row["no"])
        objs.append(
            models_.Customer(
                **row,
                salesperson_id=salespeople_map.get(terms["salesperson"]),
                currency_id=currencies.get(country.currency),
                payment_terms_id=terms_maps["payment_terms"][terms["payment_terms"]],
                shipment_method_id=terms_maps["shipment_method"][terms["shipment_method"]],
                shipping_agent_id=terms_maps["shipping_agent"][terms["shipping_agent"]],
                price_group_id=terms_maps["price_group"][terms["price_group"]],
                credit_limit=Decimal(terms["credit_limit"]),
                blocked=terms["blocked"],
                primary_contact_id=person_pks.get(primary) if primary else None,
                # The company contact made above for this customer is the customer itself.
                company_contact_id=company_pks.get(demo.company_contact_no(index)),
            )
        )
    _bulk(models_.Customer, objs, batch_size)
    return {"contacts": len(companies) + len(people), "customers": len(objs)}


def _seed_items(*, items: int, seed: str, batch_size: int) -> dict[str, int]:
    start = _next_index(models_.Item, r"^IT[0-9]{6}$")
    units = _code_map(models_.UnitOfMeasure)
    rows = list(islice(demo.iter_items(seed), start, start + items))
    objs = [
        models_.Item(
            no=row["no"],
            description=row["description"],
            base_unit_of_measure_id=units[row["base_unit_of_measure"]],
            unit_price=Decimal(row["unit_price"]),
            unit_cost=Decimal(row["unit_cost"]),
            inventory=Decimal(row["inventory"]),
            gross_weight=Decimal(row["gross_weight"]),
            unit_volume=Decimal(row["unit_volume"]),
            vendor_no=row["vendor_no"],
            vendor_item_no=row["vendor_item_no"],
            blocked=bool(row["blocked"]),
        )
        for row in rows
    ]
    _bulk(models_.Item, objs, batch_size)
    item_pks = _prefix_map(models_.Item, "IT")
    groups = _code_map(models_.CustomerPriceGroup)
    currencies = {
        c.code: c for c in models_.Currency.objects.filter(code__in=demo.PRICE_CURRENCIES)
    }
    prices = []
    for obj in objs:
        for group_code, _description, factor in demo.PRICE_GROUPS:
            for currency_code in demo.PRICE_CURRENCIES:
                currency = currencies.get(currency_code)
                rate = currency.exchange_rate if currency else Decimal("1")
                prices.append(
                    models_.SalesPrice(
                        item_id=item_pks[obj.no],
                        price_group_id=groups[group_code],
                        currency_id=currency.pk if currency else None,
                        unit_of_measure_id=obj.base_unit_of_measure_id,
                        unit_price=(obj.unit_price * Decimal(factor) * rate).quantize(
                            Decimal("0.01")
                        ),
                        starting_date=DEMO_PRICE_START,
                        minimum_quantity=Decimal("0"),
                    )
                )
    _bulk(models_.SalesPrice, prices, batch_size)
    return {"items": len(objs), "sales_prices": len(prices)}


def _seed_resources(*, resources: int, seed: str, batch_size: int) -> dict[str, int]:
    start = _next_index(models_.Resource, r"^R[0-9]{5}$")
    units = _code_map(models_.UnitOfMeasure)
    rows = list(islice(demo.iter_resources(seed), start, start + resources))
    objs = [
        models_.Resource(
            no=row["no"],
            name=row["name"],
            base_unit_of_measure_id=units[row["base_unit_of_measure"]],
            unit_price=Decimal(row["unit_price"]),
            unit_cost=Decimal(row["unit_cost"]),
            capacity=Decimal(row["capacity"]),
            blocked=bool(row["blocked"]),
        )
        for row in rows
    ]
    _bulk(models_.Resource, objs, batch_size)
    return {"resources": len(objs)}


def _bulk(model: type[models_.SyncedModel], objs: list[Any], batch_size: int) -> None:
    for start in range(0, len(objs), batch_size):
        model.objects.bulk_create(objs[start : start + batch_size])


def _seed_sales_orders(*, sales_orders: int, seed: str) -> dict[str, int]:
    """A few orders of demo customers through the document services (numbers, prices), in
    every state: open, released, shipped, and shipped and invoiced."""
    customers = list(
        models_.Customer.objects.filter(blocked="").order_by("no").values_list("pk", flat=True)
    )
    items = list(models_.Item.objects.filter(blocked=False).order_by("no"))
    if not sales_orders or not customers or not items:
        return {"sales_orders": 0, "posted_sales_invoices": 0}
    rng = demo.order_rng(seed)
    invoices = 0
    customer_by_pk = models_.Customer.objects.in_bulk(customers)
    for index in range(sales_orders):
        customer = customer_by_pk[rng.choice(customers)]
        lines = [
            {"item": item, "quantity": Decimal(rng.randint(1, 10))}
            for item in rng.sample(items, k=min(len(items), rng.randint(1, 3)))
        ]
        order = documents.sales_order_create(
            data={
                "customer": customer,
                "order_date": DEMO_ORDER_DATE,
                "your_reference": f"DEMO-{index + 1:04d}",
            },
            lines=lines,
        )
        state = index % 4  # 0 open, 1 released, 2 shipped, 3 invoiced
        if state >= 1:
            order = documents.sales_order_release(order=order)
        if state >= 2:
            documents.sales_order_ship(order=order, shipment_date=DEMO_SHIPMENT_DATE)
        if state == 3:
            documents.sales_order_invoice(order=order, posting_date=DEMO_INVOICE_DATE)
            invoices += 1
    return {"sales_orders": sales_orders, "posted_sales_invoices": invoices}
