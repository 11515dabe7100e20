import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from erp.models import Customer
from erp.tables import TABLES
from tests.factories.erp import (
    CompanyContactFactory,
    ContactFactory,
    CurrencyFactory,
    CustomerFactory,
    ItemFactory,
    SalespersonFactory,
    SalesPriceFactory,
    UnitOfMeasureFactory,
)


def row_numbers(html: str, prefix: str = "CU") -> list[str]:
    return re.findall(rf'class="record-link"[^>]*>({prefix}\d+)<', html)


def test_every_table_has_a_list_page_with_its_records(sales_client: Client) -> None:
    CustomerFactory(no="CU000001", name="Listed Customer")
    for table in TABLES:
        response = sales_client.get(reverse(f"erp:{table.slug}-list"))
        assert response.status_code == 200, table.slug
    response = sales_client.get(reverse("erp:customers-list"))
    assert "Listed Customer" in response.content.decode()


def test_search_finds_customers_by_name_city_or_email(sales_client: Client) -> None:
    CustomerFactory(no="CU000001", name="Fabrikam Inc.", city="Atlanta")
    CustomerFactory(no="CU000002", name="Contoso Ltd.", city="Zurich")
    CustomerFactory(no="CU000003", name="Adatum", city="Lisbon", email="buyer@zurich-mail.example")

    html = sales_client.get("/erp/customers/", {"q": "zurich"}).content.decode()

    assert row_numbers(html) == ["CU000002", "CU000003"]
    assert 'value="zurich"' in html


def test_clicking_a_column_header_sorts_and_again_reverses(sales_client: Client) -> None:
    CustomerFactory(no="CU000001", name="Beta")
    CustomerFactory(no="CU000002", name="Alpha")
    CustomerFactory(no="CU000003", name="Gamma")

    html = sales_client.get("/erp/customers/", {"sort": "name"}).content.decode()
    assert row_numbers(html) == ["CU000002", "CU000001", "CU000003"]
    # The header of the sorted column now links to the descending order.
    assert "?sort=-name" in html

    html = sales_client.get("/erp/customers/", {"sort": "-name"}).content.decode()
    assert row_numbers(html) == ["CU000003", "CU000001", "CU000002"]


def test_sorting_by_an_unknown_field_is_ignored(sales_client: Client) -> None:
    CustomerFactory(no="CU000002", name="A")
    CustomerFactory(no="CU000001", name="B")

    response = sales_client.get("/erp/customers/", {"sort": "uuid"})

    assert response.status_code == 200
    assert row_numbers(response.content.decode()) == ["CU000001", "CU000002"]


def test_filters_narrow_customers_by_blocked_salesperson_currency_and_country(
    sales_client: Client,
) -> None:
    rep = SalespersonFactory(code="JO")
    eur = CurrencyFactory(code="EUR")
    CustomerFactory(no="CU000001", salesperson=rep, currency=eur, country_code="DE")
    CustomerFactory(no="CU000002", salesperson=rep, blocked=Customer.Blocked.ALL, country_code="DE")
    CustomerFactory(no="CU000003", currency=eur, country_code="US")

    def numbers(**params: str) -> list[str]:
        return row_numbers(sales_client.get("/erp/customers/", params).content.decode())

    assert numbers(blocked="all") == ["CU000002"]
    assert numbers(blocked="_none") == ["CU000001", "CU000003"]
    assert numbers(salesperson=str(rep.pk)) == ["CU000001", "CU000002"]
    assert numbers(currency=str(eur.pk)) == ["CU000001", "CU000003"]
    assert numbers(currency="_none") == ["CU000002"]
    assert numbers(country_code="de", salesperson=str(rep.pk)) == ["CU000001", "CU000002"]
    assert numbers(salesperson="not-a-number") == []


def test_items_filter_by_blocked_and_base_unit(sales_client: Client) -> None:
    pcs = UnitOfMeasureFactory(code="PCS")
    box = UnitOfMeasureFactory(code="BOX")
    ItemFactory(no="IT000001", base_unit_of_measure=pcs)
    ItemFactory(no="IT000002", base_unit_of_measure=box, blocked=True)

    def numbers(**params: str) -> list[str]:
        html = sales_client.get("/erp/items/", params).content.decode()
        return row_numbers(html, "IT")

    assert numbers(blocked="true") == ["IT000002"]
    assert numbers(blocked="false") == ["IT000001"]
    assert numbers(base_unit_of_measure=str(pcs.pk)) == ["IT000001"]


def test_list_pages_by_fifty_with_total_count_and_page_links(sales_client: Client) -> None:
    CustomerFactory.create_batch(120)

    first = sales_client.get("/erp/customers/").content.decode()
    # Page numbers are no longer linked (pages go by cursor) but old links still work.
    third = sales_client.get("/erp/customers/", {"page": "3"}).content.decode()

    assert len(row_numbers(first)) == 50
    assert "120 records" in first
    assert re.search(r'href="\?cursor=[\w-]+" rel="next"', first)
    assert 'href="?page=last"' in first
    assert len(row_numbers(third)) == 20
    assert "showing 101–120" in third
    assert not set(row_numbers(first)) & set(row_numbers(third))


def test_a_later_page_continues_the_sort_order_of_the_first(sales_client: Client) -> None:
    CustomerFactory.create_batch(130)
    expected = list(Customer.objects.order_by("-name", "-pk").values_list("no", flat=True))

    pages = [
        row_numbers(
            sales_client.get("/erp/customers/", {"sort": "-name", "page": n}).content.decode()
        )
        for n in ("1", "2", "3")
    ]

    assert pages[0] + pages[1] + pages[2] == expected


def test_page_links_keep_search_and_sort(sales_client: Client) -> None:
    CustomerFactory.create_batch(60, name="Northwind")

    html = sales_client.get("/erp/customers/", {"q": "north", "sort": "-no"}).content.decode()

    assert re.search(r'href="\?q=north&amp;sort=-no&amp;cursor=[\w-]+" rel="next"', html)
    assert 'href="?q=north&amp;sort=-no&amp;page=last"' in html


def test_list_query_count_does_not_grow_with_rows(
    sales_client: Client, django_assert_max_num_queries
) -> None:
    rep = SalespersonFactory()
    CustomerFactory.create_batch(50, salesperson=rep, currency=CurrencyFactory())

    with django_assert_max_num_queries(12):
        response = sales_client.get("/erp/customers/")

    assert len(row_numbers(response.content.decode())) == 50
    assert rep.code in response.content.decode()


def test_out_of_range_or_invalid_page_numbers_show_a_real_page(sales_client: Client) -> None:
    CustomerFactory.create_batch(55)

    last = sales_client.get("/erp/customers/", {"page": "999"})
    first = sales_client.get("/erp/customers/", {"page": "abc"})

    assert len(row_numbers(last.content.decode())) == 5
    assert len(row_numbers(first.content.decode())) == 50


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_lists_with_references_do_not_query_per_row(sales_client: Client) -> None:
    company = CompanyContactFactory()
    ContactFactory(company=company, salesperson=SalespersonFactory())
    SalesPriceFactory(currency=CurrencyFactory())
    few = {
        url: count_queries(sales_client, url) for url in ("/erp/contacts/", "/erp/sales-prices/")
    }

    for _ in range(20):
        ContactFactory(company=CompanyContactFactory(), salesperson=SalespersonFactory())
        SalesPriceFactory(currency=CurrencyFactory())

    for url, before in few.items():
        assert count_queries(sales_client, url) == before, url
