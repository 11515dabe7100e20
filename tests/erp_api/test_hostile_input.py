"""The REST API answers hostile input with 400 in DRF's error shape, never with a 500."""

import datetime
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from erp.query_input import MAX_QUERY_LENGTH
from tests.factories import erp as f

LONG = "x" * 60_000


def test_a_search_longer_than_the_limit_is_a_400(reader: APIClient) -> None:
    response = reader.get("/api/customers/", {"search": LONG})

    assert response.status_code == 400
    assert f"at most {MAX_QUERY_LENGTH} characters" in response.json()["search"][0]


def test_a_search_at_the_limit_is_answered(reader: APIClient) -> None:
    f.CustomerFactory(name="Fabrikam")

    response = reader.get("/api/customers/", {"search": "f" * MAX_QUERY_LENGTH})

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"search": "ab\x00c"},
        {"country_code": "D\x00E"},
        {"salesperson": "J\x00O"},
        {"blocked": "al\x00l"},
    ],
    ids=["search", "text-filter", "reference-filter", "choice-filter"],
)
def test_a_nul_character_in_a_query_value_is_a_400(reader: APIClient, params: dict) -> None:
    response = reader.get("/api/customers/", params)

    assert response.status_code == 400
    [name] = params
    assert "NUL character" in response.json()[name][0]


def test_a_filter_value_longer_than_the_limit_is_a_400(reader: APIClient) -> None:
    response = reader.get("/api/customers/", {"city": LONG})

    assert response.status_code == 400
    assert "city" in response.json()


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-10:00", "0001-01-01T00:00:00+10:00"], ids=["late", "early"]
)
def test_a_date_the_database_cannot_hold_is_a_400(reader: APIClient, value: str) -> None:
    response = reader.get("/api/customers/", {"modified_at__gte": value})

    assert response.status_code == 400
    assert "modified_at__gte" in response.json()


def test_a_time_zone_offset_postgresql_does_not_know_is_still_understood(
    reader: APIClient,
) -> None:
    customer = f.CustomerFactory()
    # +22:30 is valid ISO 8601 and Python, but beyond PostgreSQL's ±15:59 (a 500 there).
    after = (customer.modified_at + timedelta(minutes=1)).astimezone(
        datetime.timezone(timedelta(hours=22, minutes=30))
    )

    response = reader.get("/api/customers/", {"modified_at__lt": after.isoformat()})

    assert response.status_code == 200
    assert [row["no"] for row in response.json()["results"]] == [customer.no]


def test_a_record_number_beyond_the_database_range_is_a_404(reader: APIClient) -> None:
    response = reader.get(f"/api/customers/{'9' * 30}/")

    assert response.status_code == 404


def test_a_json_body_nested_too_deep_is_a_400(writer: APIClient) -> None:
    response = writer.generic(
        "POST", "/api/customers/", "[" * 100_000, content_type="application/json"
    )

    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_a_json_body_of_normal_depth_is_still_parsed(writer: APIClient) -> None:
    response = writer.generic(
        "POST",
        "/api/customers/",
        '{"no": "N1", "name": "Nested [{\\"ok\\"}] in a string"}',
        content_type="application/json",
    )

    assert response.status_code == 201


def test_a_nul_character_in_a_written_reference_is_a_400(writer: APIClient) -> None:
    response = writer.post(
        "/api/customers/", {"no": "N1", "name": "N", "salesperson": "J\x00O"}, format="json"
    )

    assert response.status_code == 400
    assert "salesperson" in response.json()
