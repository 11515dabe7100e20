"""List pages go by keyset: First / Previous / Next / Last reach the right rows in every sort,
with ties and blanks, and the count of a long list is an estimate on PostgreSQL."""

import base64
import json
import re
from decimal import Decimal
from html import unescape

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from erp import selectors, views
from erp.models import Customer, Item, Salesperson
from tests.factories.erp import (
    CurrencyFactory,
    CustomerFactory,
    ItemFactory,
    SalespersonFactory,
)

PER_PAGE = 4


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "PAGE_SIZE", PER_PAGE)


def numbers(html: str, prefix: str = "CU") -> list[str]:
    return re.findall(rf'class="record-link"[^>]*>({prefix}\d+)<', html)


def link(html: str, label: str) -> str | None:
    found = re.search(rf'<a href="(\?[^"]*)"[^>]*>{label}</a>', html)
    return unescape(found.group(1)) if found else None


def walk(client: Client, url: str, start: str, label: str, prefix: str = "CU") -> list[list[str]]:
    """The pages met from `start` following the `label` link until there is none."""
    pages = []
    query: str | None = start
    while query is not None:
        html = client.get(f"{url}{query}").content.decode()
        pages.append(numbers(html, prefix))
        query = link(html, label)
        assert len(pages) < 50, "the links go round in circles"
    return pages


@pytest.fixture
def customers_with_ties_and_blanks(db: None) -> None:
    """18 customers: names repeat, a third have no salesperson; two do not match "acme"."""
    reps = [SalespersonFactory(code="B"), SalespersonFactory(code="A"), None]
    for n in range(18):
        CustomerFactory(
            no=f"CU{(n * 7) % 18:06d}",  # numbers out of creation (pk) order
            name=f"Acme {'XYZ'[n % 3]}",
            salesperson=reps[n % 3],
        )
    CustomerFactory(no="CU000100", name="Other A", salesperson=reps[0])
    CustomerFactory(no="CU000101", name="Other B", salesperson=None)


def expected_order(sort: str) -> list[str]:
    rows = list(Customer.objects.filter(name__icontains="acme").select_related("salesperson"))
    name = sort.lstrip("-")
    if name == "name":
        rows.sort(key=lambda c: (c.name, c.pk))
    elif name == "salesperson":
        # Blanks after every value ascending, before every value descending.
        rows.sort(
            key=lambda c: (c.salesperson is None, c.salesperson.code if c.salesperson else "", c.pk)
        )
    else:
        rows.sort(key=lambda c: (c.no, c.pk))
    if sort.startswith("-"):
        rows.reverse()
    return [c.no for c in rows]


@pytest.mark.parametrize("sort", ["", "-no", "name", "-name", "salesperson", "-salesperson"])
def test_next_and_previous_walk_every_row_once_in_order(
    sales_client: Client, customers_with_ties_and_blanks: None, sort: str
) -> None:
    expected = expected_order(sort)
    base = f"?q=acme&sort={sort}"

    forward = walk(sales_client, "/erp/customers/", base, "Next")
    backward = walk(sales_client, "/erp/customers/", f"{base}&page=last", "Previous")

    assert [n for page in forward for n in page] == expected
    assert [n for page in reversed(backward) for n in page] == expected
    # 18 rows by 4: the last page holds the 2 left over, so both walks meet the same pages.
    assert backward == forward[::-1]
    assert [len(page) for page in forward] == [4, 4, 4, 4, 2]


def test_first_and_last_links_reach_the_ends(
    sales_client: Client, customers_with_ties_and_blanks: None
) -> None:
    expected = expected_order("-name")
    first = sales_client.get("/erp/customers/", {"q": "acme", "sort": "-name"}).content.decode()
    second = sales_client.get(f"/erp/customers/{link(first, 'Next')}").content.decode()
    last = sales_client.get(f"/erp/customers/{link(second, 'Last')}").content.decode()
    back = sales_client.get(f"/erp/customers/{link(last, 'First')}").content.decode()

    assert numbers(second) == expected[4:8]
    assert numbers(last) == expected[16:]
    assert "showing 17–18" in last
    assert link(last, "Next") is None and link(last, "Last") is None
    assert numbers(back) == numbers(first) == expected[:4]
    assert link(back, "Previous") is None


def test_decimal_sort_with_ties_pages_the_same_on_every_database(sales_client: Client) -> None:
    for n in range(10):
        ItemFactory(no=f"IT{n:06d}", unit_price=Decimal(["1.50", "10.00", "2.25"][n % 3]))
    expected = list(Item.objects.order_by("-unit_price", "-pk").values_list("no", flat=True))

    pages = walk(sales_client, "/erp/items/", "?sort=-unit_price", "Next", prefix="IT")

    assert [n for page in pages for n in page] == expected


def encoded(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        "W1tb",
        encoded({"sort": "name"}),
        encoded(["name", "n", ["Acme X", 5]]),  # made for another sort
        encoded(["", "n", ["CU000001"]]),  # a key missing
        encoded(["", "n", ["CU000001", "abc"]]),  # a pk that is no number
        encoded(["", "x", ["CU000001", 1]]),  # no direction
        encoded(["", "n", [None, 1]]),  # a blank for a column that is never blank
        "A" * 5000,
    ],
)
def test_a_malformed_or_stale_cursor_shows_the_first_page(
    sales_client: Client, customers_with_ties_and_blanks: None, cursor: str
) -> None:
    response = sales_client.get("/erp/customers/", {"q": "acme", "cursor": cursor})

    assert response.status_code == 200
    assert numbers(response.content.decode()) == expected_order("")[:4]


def test_a_cursor_after_rows_deleted_since_shows_the_last_page(
    sales_client: Client, customers_with_ties_and_blanks: None
) -> None:
    first = sales_client.get("/erp/customers/", {"q": "acme"}).content.decode()
    Customer.objects.filter(name__icontains="acme").exclude(no__in=numbers(first)).delete()

    html = sales_client.get(f"/erp/customers/{link(first, 'Next')}").content.decode()

    assert numbers(html) == numbers(first)


def test_sqlite_counts_exactly_above_the_estimate_limit(
    sales_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL estimates long lists")
    monkeypatch.setattr(selectors, "EXACT_COUNT_LIMIT", 5)
    CustomerFactory.create_batch(12)

    html = sales_client.get("/erp/customers/").content.decode()

    assert "12 records" in html
    assert "estimated" not in html


def test_postgresql_shows_the_planner_estimate_above_the_limit(
    sales_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL estimates; SQLite counts exactly")
    monkeypatch.setattr(selectors, "EXACT_COUNT_LIMIT", 5)
    cache.clear()
    CustomerFactory.create_batch(30, name="Northwind")
    CustomerFactory(name="Fabrikam")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE erp_customer")

    whole = sales_client.get("/erp/customers/").content.decode()
    searched = sales_client.get("/erp/customers/", {"q": "northwind"}).content.decode()
    few = sales_client.get("/erp/customers/", {"q": "fabrikam"}).content.decode()
    last = sales_client.get("/erp/customers/", {"page": "last"}).content.decode()

    assert re.search(r"about \d+ records \(estimated\)", whole)
    assert re.search(r"about \d+ records \(estimated\)", searched)
    assert "1 record" in few and "estimated" not in few
    # Without an exact count the last page is a full page, its position unknown.
    assert len(numbers(last)) == PER_PAGE
    assert "showing" not in last
    cache.clear()


@pytest.mark.parametrize("sort", ["currency", "-currency"])
def test_a_foreign_key_sort_pages_through_groups_of_every_size(
    sales_client: Client, sort: str
) -> None:
    """Sorted by a foreign key the list is read one related record at a time: a currency
    with one customer, one with none, one with many and the blanks all page in the currency
    code's order, forwards and backwards, whichever page a group starts or ends on."""
    currencies = [CurrencyFactory(code=code) for code in ("XEB", "XEA", "XEC", "XED")]
    counts = {"XEB": 6, "XEA": 1, "XEC": 0, "XED": 4}
    n = 0
    for currency in currencies:
        for _ in range(counts[currency.code]):
            CustomerFactory(no=f"CU{(n * 5) % 17:06d}", currency=currency)
            n += 1
    for _ in range(17 - n):
        CustomerFactory(no=f"CU{(n * 5) % 17:06d}", currency=None)
        n += 1
    rows = sorted(
        Customer.objects.select_related("currency"),
        key=lambda c: (c.currency is None, c.currency.code if c.currency else "", c.pk),
    )
    if sort.startswith("-"):
        rows.reverse()
    expected = [c.no for c in rows]

    forward = walk(sales_client, "/erp/customers/", f"?sort={sort}", "Next")
    backward = walk(sales_client, "/erp/customers/", f"?sort={sort}&page=last", "Previous")

    assert [no for page in forward for no in page] == expected
    assert [no for page in reversed(backward) for no in page] == expected
    assert [len(page) for page in forward] == [4, 4, 4, 4, 1]


def test_a_next_link_still_pages_after_its_salesperson_was_renamed(
    sales_client: Client, customers_with_ties_and_blanks: None
) -> None:
    """A link made before the salesperson of its boundary row got another code goes on from
    where that code now belongs: no error, no row of another page twice."""
    first = sales_client.get("/erp/customers/", {"q": "acme", "sort": "salesperson"})
    Salesperson.objects.filter(code="A").update(code="C")

    html = sales_client.get(f"/erp/customers/{link(first.content.decode(), 'Next')}")

    assert html.status_code == 200
    # The boundary was among A's rows; A (now C) sorts after B now: the next page is B's.
    expected = [
        c.no
        for c in Customer.objects.filter(name__icontains="acme", salesperson__code="B").order_by(
            "pk"
        )
    ]
    assert numbers(html.content.decode()) == expected[:PER_PAGE]
