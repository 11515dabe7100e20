"""Reading the ERP tables through the REST API: lists, filters, search, order, pages, schema."""

import re
from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from erp import models
from erp.api import MAX_PAGE_SIZE
from erp.tables import TABLES
from tests.factories import erp as f

FACTORY_FOR = {
    models.Salesperson: f.SalespersonFactory,
    models.Currency: f.CurrencyFactory,
    models.UnitOfMeasure: f.UnitOfMeasureFactory,
    models.PaymentTerms: f.PaymentTermsFactory,
    models.ShipmentMethod: f.ShipmentMethodFactory,
    models.ShippingAgent: f.ShippingAgentFactory,
    models.CustomerPriceGroup: f.CustomerPriceGroupFactory,
    models.Contact: f.ContactFactory,
    models.Customer: f.CustomerFactory,
    models.Item: f.ItemFactory,
    models.Resource: f.ResourceFactory,
    models.SalesPrice: f.SalesPriceFactory,
}


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.slug)
def test_every_table_lists_and_shows_its_records(reader: APIClient, table) -> None:
    record = FACTORY_FOR[table.model]()

    listed = reader.get(f"/api/{table.slug}/")
    shown = reader.get(f"/api/{table.slug}/{record.pk}/")

    assert listed.status_code == 200
    assert [row["uuid"] for row in listed.json()["results"]] == [str(record.uuid)]
    assert shown.status_code == 200
    assert shown.json()["modified_at"]


def test_related_records_are_shown_by_code_not_by_id(reader: APIClient) -> None:
    person = f.SalespersonFactory(code="JO")
    currency = f.CurrencyFactory(code="EUR")
    customer = f.CustomerFactory(salesperson=person, currency=currency)

    row = reader.get(f"/api/customers/{customer.pk}/").json()

    assert row["salesperson"] == "JO"
    assert row["currency"] == "EUR"
    assert row["no"] == customer.no


def test_customers_filter_by_country_salesperson_currency_and_city(reader: APIClient) -> None:
    jo = f.SalespersonFactory(code="JO")
    eur = f.CurrencyFactory(code="EUR")
    match = f.CustomerFactory(country_code="DE", salesperson=jo, currency=eur, city="Berlin")
    f.CustomerFactory(country_code="DE", salesperson=jo, currency=None, city="Berlin")
    f.CustomerFactory(country_code="FR", salesperson=jo, currency=eur, city="Berlin")
    f.CustomerFactory(country_code="DE", salesperson=None, currency=eur, city="Berlin")
    f.CustomerFactory(country_code="DE", salesperson=jo, currency=eur, city="Hamburg")

    rows = reader.get(
        "/api/customers/",
        {"country_code": "de", "salesperson": "JO", "currency": "EUR", "city": "berlin"},
    ).json()["results"]

    assert [r["no"] for r in rows] == [match.no]


def test_blocked_filter_and_none_selects_unblocked_customers(reader: APIClient) -> None:
    blocked = f.CustomerFactory(blocked="all")
    open_ = f.CustomerFactory(blocked="")

    all_rows = reader.get("/api/customers/", {"blocked": "all"}).json()["results"]
    open_rows = reader.get("/api/customers/", {"blocked": "_none"}).json()["results"]

    assert [r["no"] for r in all_rows] == [blocked.no]
    assert [r["no"] for r in open_rows] == [open_.no]


def test_modified_at_gte_returns_only_records_changed_since(reader: APIClient) -> None:
    old = f.CustomerFactory()
    models.Customer.objects.filter(pk=old.pk).update(name="Old")
    models.Customer.objects.filter(pk=old.pk).update(modified_at=timezone.now() - timedelta(days=2))
    since = timezone.now() - timedelta(days=1)
    recent = f.CustomerFactory()

    rows = reader.get("/api/customers/", {"modified_at__gte": since.isoformat()}).json()

    assert [r["no"] for r in rows["results"]] == [recent.no]


def test_search_finds_customers_by_name_or_city(reader: APIClient) -> None:
    by_name = f.CustomerFactory(name="Nordlicht Büromöbel GmbH", city="Kiel")
    by_city = f.CustomerFactory(name="Acme Inc.", city="Nordhausen")
    f.CustomerFactory(name="Other Ltd.", city="Leeds")

    rows = reader.get("/api/customers/", {"search": "nord"}).json()["results"]

    assert {r["no"] for r in rows} == {by_name.no, by_city.no}


def test_ordering_by_name_descending(reader: APIClient) -> None:
    for name in ("Beta", "Alpha", "Gamma"):
        f.CustomerFactory(name=name)

    rows = reader.get("/api/customers/", {"ordering": "-name"}).json()["results"]

    assert [r["name"] for r in rows] == ["Gamma", "Beta", "Alpha"]


def test_ordering_by_related_code(reader: APIClient) -> None:
    f.CustomerFactory(name="Second", salesperson=f.SalespersonFactory(code="ZZ"))
    f.CustomerFactory(name="First", salesperson=f.SalespersonFactory(code="AA"))

    rows = reader.get("/api/customers/", {"ordering": "salesperson__code"}).json()["results"]

    assert [r["name"] for r in rows] == ["First", "Second"]


def test_pages_follow_page_size_and_link_to_the_next(reader: APIClient) -> None:
    customers = f.CustomerFactory.create_batch(5)

    first = reader.get("/api/customers/", {"page_size": 2}).json()
    last = reader.get("/api/customers/", {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert "page=2" in first["next"]
    assert [r["no"] for r in last["results"]] == [customers[-1].no]
    assert last["next"] is None


def test_page_size_is_capped(reader: APIClient) -> None:
    models.Customer.objects.bulk_create(
        f.CustomerFactory.build_batch(MAX_PAGE_SIZE + 5, salesperson=None)
    )

    page = reader.get("/api/customers/", {"page_size": MAX_PAGE_SIZE * 10}).json()

    assert page["count"] == MAX_PAGE_SIZE + 5
    assert len(page["results"]) == MAX_PAGE_SIZE


def test_schema_is_valid_openapi_with_every_table(reader: APIClient) -> None:
    response = reader.get("/api/schema/", {"format": "json"})

    schema = response.json()
    validate_schema(schema)
    for table in TABLES:
        assert f"/api/{table.slug}/" in schema["paths"]
        assert f"/api/{table.slug}/{{id}}/" in schema["paths"]


def test_docs_page_loads_swagger_from_our_own_static_files(reader: APIClient) -> None:
    html = reader.get("/api/docs/").content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    # Works offline: nothing is fetched from another host.
    assert "://" not in html.replace("http://testserver", "")
    for asset in assets:
        assert asset.startswith("/static/")
        assert finders.find(asset.removeprefix("/static/")), asset


def test_sales_prices_filter_by_item_number_and_price_group(reader: APIClient) -> None:
    item = f.ItemFactory(no="1896-S")
    retail = f.CustomerPriceGroupFactory(code="RETAIL")
    wanted = f.SalesPriceFactory(item=item, price_group=retail)
    f.SalesPriceFactory(item=item)
    f.SalesPriceFactory(price_group=retail)

    rows = reader.get("/api/sales-prices/", {"item": "1896-s", "price_group": "RETAIL"}).json()

    assert [r["uuid"] for r in rows["results"]] == [str(wanted.uuid)]
    assert rows["results"][0]["item"] == "1896-S"


def test_contacts_filter_by_company_or_none(reader: APIClient) -> None:
    firm = f.CompanyContactFactory(no="FIRM")
    employee = f.ContactFactory(no="EMP", company=firm)
    freelancer = f.ContactFactory(no="FREE")

    of_firm = reader.get("/api/contacts/", {"company": "FIRM"}).json()["results"]
    people = reader.get("/api/contacts/", {"company": "_none", "type": "person"}).json()

    assert [r["no"] for r in of_firm] == [employee.no]
    assert [r["no"] for r in people["results"]] == [freelancer.no]
