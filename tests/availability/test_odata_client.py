"""A real OData client library (python-odata) reads our $metadata and queries the service."""

import uuid
from decimal import Decimal

import pytest
import requests
from odata import ODataService

from syncjobs.models import CRM_PRODUCT, ERP_ITEM, CrmCoupling
from tests.factories.erp import ItemFactory, UnitOfMeasureFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def service(live_server, make_service_user):
    session = requests.Session()
    session.auth = make_service_user()
    return ODataService(
        f"{live_server.url}/odata/", session=session, reflect_entities=True, quiet_progress=True
    )


def test_client_reflects_metadata_and_filters_orders_and_reads_values(service, items):
    product_id = uuid.uuid4()
    CrmCoupling.objects.create(
        erp_table=ERP_ITEM, erp_uuid=items[2].uuid, crm_entity=CRM_PRODUCT, crm_id=product_id
    )
    Availability = service.entities["ProductItemAvailability"]
    query = (
        service.query(Availability)
        .filter(Availability.Inventory > 1)
        .order_by(Availability.ItemNo.desc())
    )
    rows = query.all()
    assert [r.ItemNo for r in rows] == ["70000", "1200", "1000"]
    wheel = rows[1]
    assert wheel.Description == "Back Wheel"
    assert Decimal(str(wheel.Inventory)) == Decimal("12.5")
    assert str(wheel.CrmProductId) == str(product_id)


def test_client_gets_one_entity_by_key(service, items):
    Availability = service.entities["ProductItemAvailability"]
    item = service.query(Availability).get("1100")
    assert item.Description == "Front Wheel"


def test_client_follows_server_paging_to_the_last_row(service, db):
    uom = UnitOfMeasureFactory(code="PCS")
    created = {item.no for item in ItemFactory.create_batch(130, base_unit_of_measure=uom)}
    Availability = service.entities["ProductItemAvailability"]
    fetched = [row.ItemNo for row in service.query(Availability).all()]
    assert len(fetched) == 130
    assert set(fetched) == created
