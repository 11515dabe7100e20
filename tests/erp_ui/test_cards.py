from django.test import Client

from erp.models import Currency, Customer, SalesPrice, UnitOfMeasure
from erp.tables import TABLES
from tests.factories.erp import (
    CompanyContactFactory,
    ContactFactory,
    CurrencyFactory,
    CustomerFactory,
    ItemFactory,
    PaymentTermsFactory,
    ResourceFactory,
    SalespersonFactory,
    SalesPriceFactory,
    ShipmentMethodFactory,
    ShippingAgentFactory,
    UnitOfMeasureFactory,
)


def test_card_shows_the_record_with_edit_and_delete_buttons(sales_client: Client) -> None:
    customer = CustomerFactory(name="Fabrikam Inc.", city="Atlanta")

    html = sales_client.get(f"/erp/customers/{customer.pk}/").content.decode()

    assert "Fabrikam Inc." in html and "Atlanta" in html
    assert f"/erp/customers/{customer.pk}/edit/" in html
    assert f"/erp/customers/{customer.pk}/delete/" in html


def test_creating_a_customer_saves_it_and_opens_its_card(sales_client: Client) -> None:
    eur = CurrencyFactory(code="EUR")

    response = sales_client.post(
        "/erp/customers/new/",
        {
            "no": "cu-100",
            "name": "New Customer",
            "currency": eur.pk,
            "credit_limit": "500",
            "email": "buyer@example.com",
            "country_code": "de",
        },
        follow=True,
    )

    customer = Customer.objects.get(no="CU-100")
    assert customer.currency == eur
    assert customer.country_code == "DE"
    assert response.redirect_chain[-1][0] == f"/erp/customers/{customer.pk}/"
    assert "was created" in response.content.decode()


def test_bad_input_shows_errors_keeps_typed_values_and_saves_nothing(sales_client: Client) -> None:
    customer = CustomerFactory(no="CU000001", name="Original", email="ok@example.com")

    response = sales_client.post(
        f"/erp/customers/{customer.pk}/edit/",
        {
            "no": "CU000001",
            "name": "Changed name",
            "email": "not-an-email",
            "home_page": "no url",
            "credit_limit": "-5",
        },
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "Enter a valid email address." in html
    assert "Enter a valid URL." in html
    assert "Ensure this value is greater than or equal to 0." in html
    assert "Please correct the errors below." in html
    assert 'value="Changed name"' in html and 'value="not-an-email"' in html
    assert "Edit customer CU000001 – Original" in html
    customer.refresh_from_db()
    assert customer.name == "Original"
    assert customer.email == "ok@example.com"


def test_required_fields_are_reported_next_to_the_field(sales_client: Client) -> None:
    response = sales_client.post("/erp/customers/new/", {"no": "", "name": ""})

    html = response.content.decode()
    assert html.count("This field is required.") >= 2
    assert 'id="id_name_error"' in html
    assert 'aria-describedby="id_name_error"' in html
    assert not Customer.objects.exists()


def test_duplicate_number_gets_a_friendly_message(sales_client: Client) -> None:
    CustomerFactory(no="CU000001")

    response = sales_client.post(
        "/erp/customers/new/", {"no": "cu000001", "name": "Twin", "credit_limit": "0"}
    )

    assert "This No. is already used by another record. Choose another one." in (
        response.content.decode()
    )
    assert Customer.objects.count() == 1


def test_model_rules_apply_on_the_card(sales_client: Client) -> None:
    response = sales_client.post(
        "/erp/currencies/new/", {"code": "eu1", "description": "Euro", "exchange_rate": "1"}
    )
    assert "Enter a three-letter ISO 4217 code" in response.content.decode()
    assert not Currency.objects.filter(description="Euro").exists()

    price = SalesPriceFactory()
    response = sales_client.post(
        f"/erp/sales-prices/{price.pk}/edit/",
        {
            "item": price.item.no,
            "price_group": price.price_group.pk,
            "unit_of_measure": price.unit_of_measure.pk,
            "unit_price": "10",
            "minimum_quantity": "0",
            "starting_date": "2026-02-01",
            "ending_date": "2026-01-01",
        },
    )
    assert "The ending date is before the starting date." in response.content.decode()


def test_references_to_big_tables_are_typed_as_numbers(sales_client: Client) -> None:
    company = CompanyContactFactory(no="CT000777")
    customer = CustomerFactory(no="CU000001")

    edit_url = f"/erp/customers/{customer.pk}/edit/"
    data = {"no": "CU000001", "name": "X", "credit_limit": "0", "primary_contact": "ct000777"}
    sales_client.post(edit_url, data)
    customer.refresh_from_db()
    assert customer.primary_contact == company
    assert 'value="CT000777"' in sales_client.get(edit_url).content.decode()

    response = sales_client.post(edit_url, {**data, "primary_contact": "CT999999"})
    assert "There is no contact with this number." in response.content.decode()


def test_item_card_edits_the_base_unit(sales_client: Client) -> None:
    item = ItemFactory(no="IT000001")
    box = UnitOfMeasureFactory(code="BOX")

    sales_client.post(
        f"/erp/items/{item.pk}/edit/",
        {
            "no": "IT000001",
            "description": "Desk",
            "base_unit_of_measure": box.pk,
            "unit_price": "1",
            "unit_cost": "1",
            "inventory": "0",
            "gross_weight": "0",
            "unit_volume": "0",
        },
    )

    item.refresh_from_db()
    assert item.base_unit_of_measure == box
    assert item.description == "Desk"


def test_deleting_an_unused_record_asks_then_deletes(sales_client: Client) -> None:
    unit = UnitOfMeasureFactory(code="BOX")

    confirm = sales_client.get(f"/erp/units-of-measure/{unit.pk}/delete/").content.decode()
    assert "Do you really want to delete" in confirm
    assert UnitOfMeasure.objects.filter(pk=unit.pk).exists()

    response = sales_client.post(f"/erp/units-of-measure/{unit.pk}/delete/", follow=True)
    assert not UnitOfMeasure.objects.filter(pk=unit.pk).exists()
    assert "was deleted" in response.content.decode()


def test_deleting_a_currency_in_use_says_who_uses_it_and_deletes_nothing(
    sales_client: Client,
) -> None:
    eur = CurrencyFactory(code="EUR")
    CustomerFactory(no="CU000001", currency=eur)
    CustomerFactory(no="CU000002", currency=eur)
    SalesPriceFactory(currency=eur)

    response = sales_client.post(f"/erp/currencies/{eur.pk}/delete/")

    html = response.content.decode()
    assert response.status_code == 409
    assert "EUR cannot be deleted because other records use this currency." in html
    assert (
        f'Customers: <a href="/erp/customers/?currency={eur.pk}">2 records</a> (CU000001, CU000002)'
        in html
    )
    assert f'Sales prices: <a href="/erp/sales-prices/?currency={eur.pk}">1 record</a> (' in html
    assert Currency.objects.filter(pk=eur.pk).exists()
    assert SalesPrice.objects.count() == 1


def test_every_table_has_working_card_edit_and_delete_pages(sales_client: Client) -> None:
    price = SalesPriceFactory(currency=CurrencyFactory())
    person = ContactFactory(company=CompanyContactFactory(), salesperson=SalespersonFactory())
    records = {
        "salespeople": person.salesperson,
        "currencies": price.currency,
        "units-of-measure": price.unit_of_measure,
        "payment-terms": PaymentTermsFactory(),
        "shipment-methods": ShipmentMethodFactory(),
        "shipping-agents": ShippingAgentFactory(),
        "customer-price-groups": price.price_group,
        "customers": CustomerFactory(),
        "contacts": person,
        "items": price.item,
        "resources": ResourceFactory(),
        "sales-prices": price,
    }
    assert set(records) == {t.slug for t in TABLES}
    for slug, record in records.items():
        for suffix in ("", "edit/", "delete/"):
            response = sales_client.get(f"/erp/{slug}/{record.pk}/{suffix}")
            assert response.status_code == 200, (slug, suffix)
        list_html = sales_client.get(f"/erp/{slug}/").content.decode()
        assert f"/erp/{slug}/{record.pk}/" in list_html, slug
        assert sales_client.get(f"/erp/{slug}/new/").status_code == 200, slug


def test_a_contact_can_only_belong_to_a_company_contact(sales_client: Client) -> None:
    person = ContactFactory(no="CT000001")
    CompanyContactFactory(no="CT000002")
    data = {"no": "CT000003", "type": "person", "first_name": "Ana", "last_name": "Ruiz"}

    response = sales_client.post("/erp/contacts/new/", {**data, "company": "CT000001"})
    assert "There is no contact with this number." in response.content.decode()

    sales_client.post("/erp/contacts/new/", {**data, "company": "CT000002"})
    created = person.__class__.objects.get(no="CT000003")
    assert created.company.no == "CT000002"
    assert created.name == "Ana Ruiz"


def test_the_customer_card_sets_its_company_contact_by_number(sales_client: Client) -> None:
    CompanyContactFactory(no="FIRM9")
    ContactFactory(no="PERSON9")

    person = sales_client.post(
        "/erp/customers/new/",
        {"no": "CU-9", "name": "Firm", "credit_limit": "0", "company_contact": "PERSON9"},
    )
    company = sales_client.post(
        "/erp/customers/new/",
        {"no": "CU-10", "name": "Firm", "credit_limit": "0", "company_contact": "firm9"},
    )

    assert person.status_code == 400
    assert company.status_code == 302
    customer = Customer.objects.get(no="CU-10")
    assert customer.company_contact is not None and customer.company_contact.no == "FIRM9"
    html = sales_client.get(f"/erp/customers/{customer.pk}/").content.decode()
    assert "FIRM9" in html
