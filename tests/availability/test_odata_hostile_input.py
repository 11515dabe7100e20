"""Issue #8: no input makes the item availability service answer 500. Every request below once
did (RecursionError, OverflowError, IntegrityError/DataError, ValueError); each must now be an
OData error body. They run on SQLite locally and on PostgreSQL in CI, where some of them used to
fail only there (NUL in a text, a text compared with a number)."""

import uuid
from collections.abc import Callable

import pytest
from django.http import HttpResponse
from django.test import Client

from accounts.models import FailedAttempt
from erp.models import Item
from syncjobs.models import CRM_PRODUCT, ERP_ITEM, CrmCoupling
from tests.availability.conftest import basic

SET = "/odata/ProductItemAvailability"
HUGE = "99999999999999999999"  # 20 digits: over the 64-bit range of every database we run on


def odata_error(response: HttpResponse, status: int) -> dict[str, str]:
    assert response.status_code == status, response.content
    assert response["OData-Version"] == "4.0"
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in error["message"]
    return error


@pytest.mark.django_db
@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("ItemNo", id="a property alone is not a condition"),
        pytest.param("not ItemNo", id="not of a text"),
        pytest.param("year(ItemNo) eq 2020", id="a date function on a text"),
        pytest.param("'a' eq 1", id="text compared with a number"),
        pytest.param(f"Inventory gt {'9' * 38}", id="38-digit number"),
        pytest.param("Inventory gt 1e400", id="decimal beyond the range"),
        pytest.param("Inventory gt ²", id="superscript digit"),
        pytest.param("Inventory gt \u0663", id="arabic-indic digit"),
        pytest.param("Description eq '\x00'", id="NUL in a string literal"),
        pytest.param(" or ".join(["ItemNo eq '1'"] * 3000), id="3000 chained or"),
        pytest.param("not " * 2000 + "Blocked", id="2000 not"),
        pytest.param("(" * 500 + "Blocked" + ")" * 500, id="500 parentheses"),
        pytest.param("ItemNo eq '" + "x" * 10_000 + "'", id="over-long filter"),
        pytest.param("length(ItemNo) eq 'a'", id="number function compared with a text"),
        pytest.param("ItemNo add 1 eq 2", id="arithmetic on a text"),
        pytest.param("Inventory div 0 gt 1", id="division by zero"),
        pytest.param("matchesPattern(ItemNo, '(')", id="regular expressions are not supported"),
    ],
)
def test_hostile_filters_are_400(service: Callable[..., HttpResponse], expression: str) -> None:
    error = odata_error(service(params={"$filter": expression}), 400)
    assert error["code"] == "BadRequest"
    odata_error(service(f"{SET}/$count", {"$filter": expression}), 400)


@pytest.mark.django_db
def test_null_on_the_left_compares_like_null_on_the_right(
    service: Callable[..., HttpResponse],
) -> None:
    # Valid OData (null may stand on either side), so an answer rather than an error.
    for expression, expected in [
        ("null eq ItemNo", 0),
        ("null ne ItemNo", 5),
        ("null eq CrmProductId", 5),
    ]:
        response = service(params={"$filter": expression, "$select": "ItemNo"})
        assert response.status_code == 200, response.content
        assert len(response.json()["value"]) == expected, expression
    odata_error(service(params={"$filter": "null eq null"}), 400)
    odata_error(service(params={"$filter": "null gt ItemNo"}), 400)


@pytest.mark.django_db
def test_ne_on_the_crm_product_id_counts_uncoupled_items_as_different(
    service: Callable[..., HttpResponse], items: list[Item]
) -> None:
    # Found by the property tests: odata-query's "ne" failed on this property (a 400).
    product_id = uuid.uuid4()
    CrmCoupling.objects.create(
        erp_table=ERP_ITEM, erp_uuid=items[1].uuid, crm_entity=CRM_PRODUCT, crm_id=product_id
    )
    response = service(params={"$filter": f"CrmProductId ne {product_id}"})
    assert response.status_code == 200, response.content
    assert [row["ItemNo"] for row in response.json()["value"]] == [
        "1000",
        "1200",
        "1300 A",
        "70000",
    ]
    response = service(params={"$filter": f"not (CrmProductId ne {product_id})"})
    assert [row["ItemNo"] for row in response.json()["value"]] == ["1100"]


@pytest.mark.django_db
def test_a_path_with_a_newline_is_an_odata_404(service: Callable[..., HttpResponse]) -> None:
    # Found by the property tests: Django's <path:> stops at a newline, so this was an HTML 404.
    odata_error(service("/odata/ProductItemAvailability('%0A')"), 404)
    odata_error(service("/odata/ProductItemAvailability('1000')%0A"), 404)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"$skip": HUGE}, id="huge $skip"),
        pytest.param({"$skiptoken": HUGE}, id="huge $skiptoken"),
        pytest.param({"$top": HUGE}, id="huge $top"),
        pytest.param({"$top": "\u00b2"}, id="superscript $top"),
        pytest.param({"$skip": "\u0663"}, id="arabic-indic $skip"),
        pytest.param({"$top": "1\x00"}, id="NUL in $top"),
        pytest.param({"$select": "ItemNo\x00"}, id="NUL in $select"),
        pytest.param({"$orderby": "ItemNo\x00"}, id="NUL in $orderby"),
        pytest.param({"$format": "json\x00"}, id="NUL in $format"),
        pytest.param({"custom\x00": "1"}, id="NUL in a parameter name"),
    ],
)
def test_hostile_query_options_are_400(
    service: Callable[..., HttpResponse], params: dict[str, str]
) -> None:
    assert odata_error(service(params=params), 400)["code"] == "BadRequest"


@pytest.mark.django_db
def test_offsets_at_the_end_of_the_range_are_an_empty_page(
    service: Callable[..., HttpResponse],
) -> None:
    # The largest values still in range are valid: there is just nothing that far.
    biggest = str(2**63 - 1)
    for params in (
        {"$skip": biggest},
        {"$skiptoken": biggest},
        {"$skip": biggest, "$top": biggest},
    ):
        response = service(params=params)
        assert response.status_code == 200, response.content
        assert response.json()["value"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["\u00b2", HUGE, "abc", "1\x00"])
def test_hostile_maxpagesize_is_400(service: Callable[..., HttpResponse], value: str) -> None:
    response = service(HTTP_PREFER=f"odata.maxpagesize={value}")
    assert odata_error(response, 400)["code"] == "BadRequest"


@pytest.mark.django_db
def test_nul_in_an_entity_key_is_400(service: Callable[..., HttpResponse]) -> None:
    odata_error(service(f"{SET}('%00')"), 400)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "key"),
    [
        pytest.param("crm\x00availability", "key", id="NUL in the user name"),
        pytest.param("crm-availability", "k\x00ey", id="NUL in the key"),
    ],
)
def test_nul_in_credentials_is_401_and_counts_as_a_failure(
    client: Client,
    make_service_user: Callable[..., tuple[str, str]],
    username: str,
    key: str,
) -> None:
    make_service_user()
    response = client.get(SET, HTTP_AUTHORIZATION=basic(username, key))
    assert odata_error(response, 401)["code"] == "Unauthorized"
    assert response["WWW-Authenticate"] == 'Basic realm="erpcrm"'
    assert FailedAttempt.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Basic \u00e9t\u00e9", "Basic ////", "Basic Og==x"])
def test_malformed_basic_credentials_are_401(client: Client, header: str) -> None:
    odata_error(client.get(SET, HTTP_AUTHORIZATION=header), 401)
