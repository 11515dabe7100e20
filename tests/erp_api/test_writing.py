"""Creating, changing and deleting ERP records through the REST API."""

from datetime import date

from rest_framework.test import APIClient

from erp import models
from tests.factories import erp as f


def test_create_customer_with_related_records_given_by_code(writer: APIClient) -> None:
    f.SalespersonFactory(code="JO")
    f.CurrencyFactory(code="EUR")
    f.PaymentTermsFactory(code="30 DAYS")

    response = writer.post(
        "/api/customers/",
        {
            "no": "C100",
            "name": "Klein Büromöbel GmbH",
            "city": "Nürnberg",
            "country_code": "DE",
            "salesperson": "JO",
            "currency": "EUR",
            "payment_terms": "30 DAYS",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    customer = models.Customer.objects.get(no="C100")
    assert customer.salesperson.code == "JO"
    assert customer.currency.code == "EUR"
    assert customer.modified_at is not None
    assert response.json()["uuid"] == str(customer.uuid)


def test_bad_fields_are_all_reported_as_json_and_nothing_is_saved(writer: APIClient) -> None:
    response = writer.post(
        "/api/customers/",
        {"no": "lower case", "name": "", "email": "not-an-address", "currency": "XXX"},
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"no", "name", "email", "currency"}
    assert "upper-case" in errors["no"][0]
    assert "XXX" in errors["currency"][0]
    assert not models.Customer.objects.exists()


def test_duplicate_number_is_refused_with_a_clear_message(writer: APIClient) -> None:
    f.CustomerFactory(no="C1")

    response = writer.post("/api/customers/", {"no": "C1", "name": "Twin"}, format="json")

    assert response.status_code == 400
    assert "already exists" in response.json()["no"][0]


def test_person_contact_needs_a_name_and_gets_its_full_name_built(writer: APIClient) -> None:
    nameless = writer.post("/api/contacts/", {"no": "P1", "type": "person"}, format="json")
    named = writer.post(
        "/api/contacts/",
        {"no": "P2", "type": "person", "first_name": "Lena", "last_name": "Schulz"},
        format="json",
    )

    assert nameless.status_code == 400
    assert "first or last name" in nameless.json()["last_name"][0]
    assert named.status_code == 201
    assert named.json()["name"] == "Lena Schulz"


def test_person_can_only_belong_to_a_company_contact(writer: APIClient) -> None:
    f.ContactFactory(no="PERSON1")
    f.CompanyContactFactory(no="FIRM1")
    payload = {"type": "person", "first_name": "Ann", "last_name": "Lee"}

    wrong = writer.post(
        "/api/contacts/", {**payload, "no": "P3", "company": "PERSON1"}, format="json"
    )
    right = writer.post(
        "/api/contacts/", {**payload, "no": "P4", "company": "FIRM1"}, format="json"
    )

    assert wrong.status_code == 400
    assert "PERSON1" in wrong.json()["company"][0]
    assert right.status_code == 201


def test_a_customer_is_linked_to_its_company_contact_by_number(writer: APIClient) -> None:
    f.ContactFactory(no="PERSON2")
    f.CompanyContactFactory(no="FIRM2")
    payload = {"name": "Fabrikam", "country_code": "US"}

    wrong = writer.post(
        "/api/customers/", {**payload, "no": "C201", "company_contact": "PERSON2"}, format="json"
    )
    right = writer.post(
        "/api/customers/", {**payload, "no": "C202", "company_contact": "FIRM2"}, format="json"
    )

    assert wrong.status_code == 400 and "company_contact" in wrong.json()
    assert right.status_code == 201 and right.json()["company_contact"] == "FIRM2"
    customer = models.Customer.objects.get(no="C202")
    assert customer.company_contact is not None and customer.company_contact.no == "FIRM2"


def test_sales_price_ending_before_it_starts_is_refused(writer: APIClient) -> None:
    item = f.ItemFactory()
    group = f.CustomerPriceGroupFactory()

    response = writer.post(
        "/api/sales-prices/",
        {
            "item": item.no,
            "price_group": group.code,
            "unit_of_measure": item.base_unit_of_measure.code,
            "unit_price": "10.00",
            "starting_date": "2026-02-01",
            "ending_date": "2026-01-01",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "before the starting date" in response.json()["ending_date"][0]


def test_second_identical_sales_price_line_is_refused(writer: APIClient) -> None:
    price = f.SalesPriceFactory(starting_date=date(2026, 1, 1))
    payload = {
        "item": price.item.no,
        "price_group": price.price_group.code,
        "unit_of_measure": price.unit_of_measure.code,
        "unit_price": "99.00",
        "starting_date": "2026-01-01",
        "minimum_quantity": "0",
    }

    response = writer.post("/api/sales-prices/", payload, format="json")

    assert response.status_code == 400
    assert "already exists" in str(response.json())
    assert models.SalesPrice.objects.count() == 1


def test_patch_changes_only_the_given_fields_and_bumps_modified_at(writer: APIClient) -> None:
    customer = f.CustomerFactory(name="Before", city="Kiel")
    before = customer.modified_at

    response = writer.patch(f"/api/customers/{customer.pk}/", {"name": "After"}, format="json")

    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.name, customer.city) == ("After", "Kiel")
    assert customer.modified_at > before


def test_put_replaces_the_record(writer: APIClient) -> None:
    unit = f.UnitOfMeasureFactory(code="BOX", description="Box")

    response = writer.put(
        f"/api/units-of-measure/{unit.pk}/",
        {"code": "CRATE", "description": "Crate"},
        format="json",
    )

    assert response.status_code == 200
    unit.refresh_from_db()
    assert (unit.code, unit.description) == ("CRATE", "Crate")


def test_uuid_cannot_be_changed_through_the_api(writer: APIClient) -> None:
    customer = f.CustomerFactory()
    original = customer.uuid

    response = writer.patch(
        f"/api/customers/{customer.pk}/",
        {"uuid": "00000000-0000-0000-0000-000000000001", "name": "Renamed"},
        format="json",
    )

    assert response.status_code == 400
    assert "cannot be changed" in response.json()["uuid"][0]
    customer.refresh_from_db()
    assert customer.uuid == original
    assert customer.name != "Renamed"


def test_deleting_a_currency_in_use_answers_409_naming_the_customers(writer: APIClient) -> None:
    currency = f.CurrencyFactory(code="EUR")
    f.CustomerFactory(no="C7", currency=currency)

    response = writer.delete(f"/api/currencies/{currency.pk}/")

    assert response.status_code == 409
    assert "EUR" in response.json()["detail"]
    assert "C7" in response.json()["detail"]
    assert models.Currency.objects.filter(pk=currency.pk).exists()


def test_deleting_an_unused_record_works(writer: APIClient) -> None:
    agent = f.ShippingAgentFactory()

    response = writer.delete(f"/api/shipping-agents/{agent.pk}/")

    assert response.status_code == 204
    assert not models.ShippingAgent.objects.filter(pk=agent.pk).exists()
