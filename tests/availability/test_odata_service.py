import uuid
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from syncjobs.models import CRM_PRODUCT, ERP_ITEM, CrmCoupling
from tests.factories.erp import ItemFactory, UnitOfMeasureFactory

pytestmark = pytest.mark.django_db(transaction=True)

EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def item_nos(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["ItemNo"] for row in response.json()["value"]]


def test_service_document_lists_the_entity_set(odata):
    response = odata("")
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Content-Type"].startswith("application/json;odata.metadata=minimal")
    body = response.json()
    assert body["@odata.context"].endswith("/odata/$metadata")
    assert body["value"] == [
        {"name": "ProductItemAvailability", "kind": "EntitySet", "url": "ProductItemAvailability"}
    ]


def test_metadata_is_csdl_with_the_entity_type_and_set(odata):
    response = odata("$metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)  # noqa: S314 - our own service's output
    assert root.tag == f"{EDMX}Edmx" and root.get("Version") == "4.0"
    schema = root.find(f"{EDMX}DataServices/{EDM}Schema")
    entity_type = schema.find(f"{EDM}EntityType[@Name='ProductItemAvailability']")
    assert [k.get("Name") for k in entity_type.findall(f"{EDM}Key/{EDM}PropertyRef")] == ["ItemNo"]
    types = {p.get("Name"): p.get("Type") for p in entity_type.findall(f"{EDM}Property")}
    assert types == {
        "ItemNo": "Edm.String",
        "Description": "Edm.String",
        "BaseUnitOfMeasure": "Edm.String",
        "Inventory": "Edm.Decimal",
        "UnitPrice": "Edm.Decimal",
        "Blocked": "Edm.Boolean",
        "CrmProductId": "Edm.Guid",
    }
    entity_set = schema.find(f"{EDM}EntityContainer/{EDM}EntitySet")
    assert entity_set.get("Name") == "ProductItemAvailability"
    assert entity_set.get("EntityType") == f"{schema.get('Namespace')}.ProductItemAvailability"


def test_collection_returns_every_item_with_its_coupled_crm_product(odata, items):
    product_id = uuid.uuid4()
    CrmCoupling.objects.create(
        erp_table=ERP_ITEM, erp_uuid=items[0].uuid, crm_entity=CRM_PRODUCT, crm_id=product_id
    )
    body = odata("ProductItemAvailability").json()
    assert body["@odata.context"].endswith("/odata/$metadata#ProductItemAvailability")
    rows = {row["ItemNo"]: row for row in body["value"]}
    assert set(rows) == {"1000", "1100", "1200", "1300 A", "70000"}
    assert rows["1000"] == {
        "ItemNo": "1000",
        "Description": "Bicycle",
        "BaseUnitOfMeasure": "PCS",
        "Inventory": 5,
        "UnitPrice": 4000,
        "Blocked": False,
        "CrmProductId": str(product_id),
    }
    assert rows["1200"]["Inventory"] == 12.5
    assert rows["1100"]["CrmProductId"] is None
    assert rows["70000"]["Blocked"] is True


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("ItemNo eq '1100'", ["1100"]),
        ("ItemNo ne '1100'", ["1000", "1200", "1300 A", "70000"]),
        ("Inventory gt 5", ["1200", "70000"]),
        ("Inventory ge 5", ["1000", "1200", "70000"]),
        ("Inventory lt 5", ["1100", "1300 A"]),
        ("Inventory le 5", ["1000", "1100", "1300 A"]),
        ("Inventory gt 0 and UnitPrice lt 80", ["1200", "70000"]),
        ("ItemNo eq '1000' or BaseUnitOfMeasure eq 'BOX'", ["1000", "70000"]),
        ("not (Inventory gt 0)", ["1100"]),
        ("startswith(Description, 'Front')", ["1100"]),
        ("contains(Description, 'Wheel')", ["1100", "1200"]),
        ("Blocked eq true", ["70000"]),
        ("CrmProductId eq null", ["1000", "1100", "1200", "1300 A", "70000"]),
    ],
)
def test_filter_operators(odata, items, expression, expected):
    assert item_nos(odata("ProductItemAvailability", params={"$filter": expression})) == expected


def test_filter_on_the_crm_product_id(odata, items):
    product_id = uuid.uuid4()
    CrmCoupling.objects.create(
        erp_table=ERP_ITEM, erp_uuid=items[2].uuid, crm_entity=CRM_PRODUCT, crm_id=product_id
    )
    response = odata("ProductItemAvailability", params={"$filter": f"CrmProductId eq {product_id}"})
    assert item_nos(response) == ["1200"]


def test_select_returns_only_the_chosen_properties(odata, items):
    body = odata(
        "ProductItemAvailability", params={"$select": "ItemNo,Inventory", "$top": "1"}
    ).json()
    assert body["value"] == [{"ItemNo": "1000", "Inventory": 5}]
    assert body["@odata.context"].endswith("#ProductItemAvailability(ItemNo,Inventory)")


def test_orderby_sorts_descending_and_by_several_properties(odata, items):
    response = odata("ProductItemAvailability", params={"$orderby": "Inventory desc"})
    assert item_nos(response) == ["70000", "1200", "1000", "1300 A", "1100"]
    response = odata(
        "ProductItemAvailability", params={"$orderby": "BaseUnitOfMeasure asc,ItemNo desc"}
    )
    assert item_nos(response) == ["70000", "1300 A", "1200", "1100", "1000"]


def test_top_and_skip_window_the_result(odata, items):
    response = odata("ProductItemAvailability", params={"$skip": "1", "$top": "2"})
    assert item_nos(response) == ["1100", "1200"]


def test_count_option_and_count_segment_honour_the_filter(odata, items):
    body = odata(
        "ProductItemAvailability",
        params={"$count": "true", "$top": "1", "$filter": "Inventory gt 0"},
    ).json()
    assert body["@odata.count"] == 4
    assert len(body["value"]) == 1
    response = odata("ProductItemAvailability/$count", params={"$filter": "Inventory gt 0"})
    assert response.status_code == 200
    assert response.text == "4"


def test_paging_follows_next_links_to_the_end_without_duplicates(odata, db):
    uom = UnitOfMeasureFactory(code="PCS")
    expected = sorted(
        ItemFactory.create_batch(7, base_unit_of_measure=uom, inventory=Decimal("1")),
        key=lambda i: i.no,
    )
    seen: list[str] = []
    response = odata(
        "ProductItemAvailability",
        headers={"Prefer": "odata.maxpagesize=3"},
        params={"$count": "true"},
    )
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=3"
    pages = 0
    while True:
        body = response.json()
        assert len(body["value"]) <= 3
        seen += [row["ItemNo"] for row in body["value"]]
        pages += 1
        if "@odata.nextLink" not in body:
            break
        assert "$skiptoken=" in body["@odata.nextLink"]
        response = odata.session.get(
            body["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=3"}, timeout=10
        )
        assert response.status_code == 200
    assert pages == 3
    assert seen == [item.no for item in expected]


def test_server_pages_at_most_one_hundred_rows(odata, db):
    uom = UnitOfMeasureFactory(code="PCS")
    ItemFactory.create_batch(105, base_unit_of_measure=uom)
    body = odata("ProductItemAvailability", params={"$select": "ItemNo"}).json()
    assert len(body["value"]) == 100
    rest = odata.session.get(body["@odata.nextLink"], timeout=10).json()
    assert len(rest["value"]) == 5
    assert "@odata.nextLink" not in rest


def test_paging_stops_at_top(odata, items):
    body = odata(
        "ProductItemAvailability", params={"$top": "3"}, headers={"Prefer": "odata.maxpagesize=2"}
    ).json()
    assert [r["ItemNo"] for r in body["value"]] == ["1000", "1100"]
    rest = odata.session.get(
        body["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=2"}, timeout=10
    ).json()
    assert [r["ItemNo"] for r in rest["value"]] == ["1200"]
    assert "@odata.nextLink" not in rest


def test_single_entity_by_key(odata, items):
    body = odata("ProductItemAvailability('1200')").json()
    assert body["ItemNo"] == "1200"
    assert body["Inventory"] == 12.5
    assert body["@odata.context"].endswith("#ProductItemAvailability/$entity")
    assert (
        odata("ProductItemAvailability(ItemNo='1300 A')").json()["Description"] == "Chair O'Brien"
    )


def odata_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["OData-Version"] == "4.0"
    error = response.json()["error"]
    assert error["code"] and error["message"]
    return error


def test_unknown_key_is_404_with_an_odata_error(odata, items):
    error = odata_error(odata("ProductItemAvailability('NOPE')"), 404)
    assert "NOPE" in error["message"]


def test_unknown_entity_set_is_404(odata):
    odata_error(odata("Customers"), 404)


@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        ({"$filter": "Colour eq 'red'"}, "Colour"),
        ({"$filter": "ItemNo eq"}, "$filter"),
        ({"$filter": "Inventory gt 'lots'"}, "$filter"),
        ({"$select": "ItemNo,Secret"}, "Secret"),
        ({"$orderby": "Secret desc"}, "Secret"),
        ({"$top": "-1"}, "$top"),
        ({"$expand": "Lines"}, "$expand"),
    ],
)
def test_bad_query_options_are_400_with_a_message(odata, items, params, mentions):
    error = odata_error(odata("ProductItemAvailability", params=params), 400)
    assert mentions in error["message"]


def test_the_service_is_read_only(odata, items):
    response = odata.session.post(
        odata.base + "ProductItemAvailability", json={"ItemNo": "X"}, timeout=10
    )
    assert odata_error(response, 405)
