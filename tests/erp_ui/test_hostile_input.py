"""List pages and card forms answer hostile input with a message, never with a 500."""

from django.test import Client

from erp.query_input import MAX_QUERY_LENGTH
from tests.factories.erp import CustomerFactory, SalespersonFactory

LONG = "x" * 60_000


def test_a_search_longer_than_the_limit_is_refused_with_a_message(sales_client: Client) -> None:
    CustomerFactory(no="CU000001", name="Still Listed")

    response = sales_client.get("/erp/customers/", {"q": LONG})

    html = response.content.decode()
    assert response.status_code == 200
    assert f"at most {MAX_QUERY_LENGTH} characters" in html
    # The rest of the page is still there: the list, unfiltered.
    assert "Still Listed" in html


def test_a_search_at_the_limit_still_searches(sales_client: Client) -> None:
    CustomerFactory(no="CU000001", name="Fabrikam")

    response = sales_client.get("/erp/customers/", {"q": "f" * MAX_QUERY_LENGTH})

    assert response.status_code == 200
    assert "characters" not in response.content.decode()
    assert "Fabrikam" not in response.content.decode()


def test_a_nul_character_in_the_search_is_refused_with_a_message(sales_client: Client) -> None:
    CustomerFactory(no="CU000001", name="Still Listed")

    response = sales_client.get("/erp/customers/", {"q": "ab\x00c"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "NUL character" in html
    assert "Still Listed" in html


def test_a_nul_character_or_a_long_value_in_a_filter_is_refused(sales_client: Client) -> None:
    CustomerFactory(no="CU000001", name="Still Listed", country_code="DE")

    nul = sales_client.get("/erp/customers/", {"country_code": "D\x00E"})
    long = sales_client.get("/erp/customers/", {"country_code": LONG})

    for response in (nul, long):
        assert response.status_code == 200
        assert "Country" in response.content.decode()
        assert "Still Listed" in response.content.decode()
    assert "NUL character" in nul.content.decode()
    assert f"at most {MAX_QUERY_LENGTH} characters" in long.content.decode()


def test_a_huge_or_odd_number_in_a_reference_filter_finds_nothing(sales_client: Client) -> None:
    CustomerFactory(no="CU000001", name="Has A Salesperson", salesperson=SalespersonFactory())

    huge = sales_client.get("/erp/customers/", {"salesperson": "9" * 30})
    # "²" is a digit to str.isdigit() but not to int().
    superscript = sales_client.get("/erp/customers/", {"salesperson": "²"})

    for response in (huge, superscript):
        assert response.status_code == 200
        assert "Has A Salesperson" not in response.content.decode()


def test_a_huge_number_in_a_card_reference_is_a_form_error(sales_client: Client) -> None:
    response = sales_client.post(
        "/erp/contacts/new/",
        {"no": "CT1", "name": "Someone", "type": "person", "salesperson": "9" * 30},
    )

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_a_nul_character_in_a_typed_reference_is_a_form_error(sales_client: Client) -> None:
    response = sales_client.post(
        "/erp/contacts/new/",
        {"no": "CT1", "name": "Someone", "type": "person", "company": "C\x00T"},
    )

    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
