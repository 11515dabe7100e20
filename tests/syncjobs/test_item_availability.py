"""The item availability job writes coupled items' inventory to the live sandbox's products."""

import uuid
from decimal import Decimal

import pytest

from connection import selectors as connection_selectors
from connection.models import CrmConnection
from dataverse.client import DataverseClient
from sandbox import seed
from syncjobs import tasks
from syncjobs.models import CRM_PRODUCT, ERP_ITEM, CrmCoupling, JobRun
from tests.factories.erp import ItemFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


@pytest.fixture
def published(saved_connection):
    """The saved connection with item availability published to the CRM."""
    CrmConnection.objects.filter(pk=saved_connection.pk).update(availability_enabled=True)
    return saved_connection


def test_the_job_pushes_nothing_while_availability_is_not_published(saved_connection) -> None:
    client = DataverseClient(connection_selectors.crm_connection_settings())
    _item, product = _coupled_item(client, inventory="7")

    tasks.item_availability()

    run = JobRun.objects.latest("started_at")
    assert run.status == JobRun.Status.SKIPPED
    assert "not published" in run.message
    assert _quantity(client, product) == 0


def _coupled_item(client: DataverseClient, *, inventory: str):
    item = ItemFactory(inventory=Decimal(inventory))
    product_id = client.create(
        "products",
        {
            "name": item.description,
            "productnumber": item.no,
            "quantitydecimal": 2,
            "defaultuomscheduleid@odata.bind": f"/uomschedules({seed.UNIT_GROUP_ID})",
            "defaultuomid@odata.bind": f"/uoms({seed.UNIT_PIECE_ID})",
        },
    )
    CrmCoupling.objects.create(
        erp_table=ERP_ITEM, erp_uuid=item.uuid, crm_entity=CRM_PRODUCT, crm_id=product_id
    )
    return item, product_id


def _quantity(client: DataverseClient, product_id: uuid.UUID) -> float:
    return float(
        client.get("products", product_id, select=["quantityonhand"])["quantityonhand"] or 0
    )


def test_inventory_of_changed_coupled_items_reaches_the_crm(published) -> None:
    client = DataverseClient(connection_selectors.crm_connection_settings())
    item, in_stock = _coupled_item(client, inventory="7")
    _negative, short = _coupled_item(client, inventory="-3")

    tasks.item_availability()
    run = JobRun.objects.get()
    assert (run.status, run.modified) == (JobRun.Status.SUCCEEDED, 2)
    assert _quantity(client, in_stock) == 7.0
    assert _quantity(client, short) == 0.0

    tasks.item_availability()
    assert JobRun.objects.first().modified == 0

    item.inventory = Decimal("12")
    item.save()
    tasks.item_availability()
    assert JobRun.objects.first().modified == 1
    assert _quantity(client, in_stock) == 12.0


def test_a_privilege_error_disables_the_integration_with_a_reason(published, sandbox) -> None:
    client = DataverseClient(connection_selectors.crm_connection_settings())
    _coupled_item(client, inventory="5")
    sandbox.control(
        "config",
        {"rules": [{"method": "PATCH", "path": "products", "count": -1, "status": 403,
                    "code": "0x80040220",
                    "message": "Principal user is missing prvWriteProduct privilege."}]},
    )  # fmt: skip
    try:
        tasks.item_availability()
    finally:
        sandbox.control("config", {"rules": []})
    run = JobRun.objects.get()
    assert run.status == JobRun.Status.FAILED
    connection = CrmConnection.objects.get()
    assert not connection.is_enabled
    assert "prvWriteProduct" in connection.disable_reason


def test_the_job_does_nothing_while_the_integration_is_disabled(saved_connection) -> None:
    CrmConnection.objects.update(is_enabled=False)
    tasks.item_availability()
    assert JobRun.objects.get().status == JobRun.Status.SKIPPED


def test_a_crm_outage_stops_the_run_at_the_first_item(published, sandbox) -> None:
    client = DataverseClient(connection_selectors.crm_connection_settings())
    for _ in range(3):
        _coupled_item(client, inventory="5")
    sandbox.control(
        "config",
        {"rules": [{"method": "PATCH", "path": "products", "count": -1, "fault": "throttle",
                    "retry_after": 0}]},
    )  # fmt: skip
    try:
        tasks.item_availability()
    finally:
        sandbox.control("config", {"rules": []})
    run = JobRun.objects.get()
    assert run.status == JobRun.Status.FAILED
    assert (run.failed, run.modified) == (1, 0)
    assert CrmConnection.objects.get().is_enabled
