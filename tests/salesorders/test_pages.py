"""The page "Sales orders - Dynamics 365 Sales" (/salesorders/crm/) against the live sandbox:
the submitted CRM orders read live, "Create in ERP", the failed ones with their reason and
Retry, who may do what, and the write-in product setup."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.roles import INTEGRATION_ADMIN, SALESPERSON, SUPPORT
from connection.models import CrmConnection
from erp.models import SalesOrder
from salesorders.models import CrmOrderImport, SalesOrderSetup
from tests.factories.accounts import UserFactory
from tests.factories.erp import ItemFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]

PAGE = "/salesorders/crm/"


def _client(*roles: str) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=list(roles)))
    return client


def test_a_salesperson_creates_a_listed_crm_order_in_the_erp(order_world) -> None:
    world = order_world
    order = world.submit(
        "ORD-9001",
        [{"product": world.crm_id(world.item), "quantity": 1, "priceperunit": 99}],
        name="Web shop order",
    )
    client = _client(SALESPERSON)

    listing = client.get(PAGE).content.decode()
    assert "ORD-9001" in listing and "Web shop order" in listing
    assert "Adatum Corporation" in listing and "Create in ERP</button>" in listing

    response = client.post(
        "/salesorders/crm/create/", {"crm_order": order, "next": PAGE}, follow=True
    )
    erp = SalesOrder.objects.get(your_reference="ORD-9001")
    page = response.content.decode()
    assert f"CRM order ORD-9001 is ERP sales order {erp.no}." in page
    assert f'href="/erp/sales-orders/{erp.pk}/"' in page
    assert "Create in ERP</button>" not in page

    # The ERP order deleted since: the page says so and offers to create it again.
    erp.lines.all().delete()
    erp.delete()
    again = client.get(PAGE).content.decode()
    assert "Deleted" in again and "Create in ERP</button>" in again


def test_a_failed_order_shows_its_reason_and_goes_on_retry(order_world) -> None:
    world = order_world
    order = world.submit(
        "ORD-9002",
        [{"productdescription": "Installation", "quantity": 1, "priceperunit": 150}],
    )
    client = _client(SALESPERSON)
    response = client.post("/salesorders/crm/create/", {"crm_order": order}, follow=True)
    page = response.content.decode()
    assert "CRM order ORD-9002 was not created: Line 1 is a write-in product" in page
    assert 'id="failed-orders"' in page and "Retry" in page
    assert not SalesOrder.objects.exists()

    # An administrator sets up the write-in item; the salesperson retries.
    admin = _client(INTEGRATION_ADMIN)
    service = ItemFactory(no="SERVICE", description="Services")
    unknown = admin.post("/salesorders/setup/", {"write_in_type": "item", "write_in_no": "NOPE"})
    assert "There is no item NOPE." in unknown.content.decode()
    saved = admin.post("/salesorders/setup/", {"write_in_type": "item", "write_in_no": service.no})
    assert saved.status_code == 302, saved.content.decode()
    assert SalesOrderSetup.objects.get().write_in_item == service
    client.post("/salesorders/crm/create/", {"crm_order": order})
    record = CrmOrderImport.objects.get(crm_order_id=order)
    assert (record.status, record.attempts) == (CrmOrderImport.Status.CREATED, 2)
    assert "Every CRM order tried so far was created." in client.get(PAGE).content.decode()


def test_support_reads_and_cannot_create_and_only_administrators_set_up(order_world) -> None:
    world = order_world
    order = world.submit("ORD-9003", [{"product": world.crm_id(world.item), "quantity": 1}])
    support = _client(SUPPORT)
    page = support.get(PAGE).content.decode()
    assert "ORD-9003" in page and "Create in ERP</button>" not in page
    assert support.post("/salesorders/crm/create/", {"crm_order": order}).status_code == 403
    assert (
        support.post("/salesorders/crm/create-selected/", {"crm_order": order}).status_code == 403
    )
    assert _client(SALESPERSON).get("/salesorders/setup/").status_code == 403
    assert Client().get(PAGE).status_code == 302  # to the sign-in page
    assert not SalesOrder.objects.exists()


def test_the_page_says_when_orders_cannot_be_created_and_speaks_spanish(order_world) -> None:
    CrmConnection.objects.update(sales_order_integration=False)
    client = _client(SALESPERSON)
    client.post("/i18n/setlang/", {"language": "es", "next": "/"})
    page = client.get(PAGE).content.decode()
    assert "Pedidos de venta - Dynamics 365 Sales" in page
    assert "La integración de pedidos de venta está desactivada" in page
    assert "Crear en el ERP</button>" not in page
