"""Submitted CRM orders become ERP sales orders by the reference's rules, against the live
sandbox (bc-integration.md §7.1): the customer, lines and prices; a failing order leaves nothing
in the ERP and is listed with its reason; fixed, it goes on retry."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from connection.models import CrmConnection
from erp.models import LineType, SalesOrder
from salesorders import pull
from salesorders.models import CrmOrderImport, SalesOrderSetup
from syncjobs.models import CrmCoupling
from tests.factories.erp import ItemFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


def _record(order: str) -> CrmOrderImport:
    return CrmOrderImport.objects.get(crm_order_id=order)


def test_a_submitted_order_becomes_an_erp_order_with_its_customer_lines_and_prices(
    order_world,
) -> None:
    world = order_world
    order = world.submit(
        "ORD-1001",
        [
            {
                "product": world.crm_id(world.item),
                "quantity": 2,
                "priceperunit": 3500,
                "manualdiscountamount": 100,
            },
            {"product": world.crm_id(world.resource), "quantity": 3, "priceperunit": 90},
        ],
        name="PO 4711 from Adatum",
        shipto_name="Adatum Warehouse",
        shipto_line1="1 Dock Road",
        shipto_city="Savannah",
        shipto_postalcode="31401",
        shipto_country="us",
        requestdeliveryby="2026-12-24",
    )

    result = pull.crm_orders_pull()

    assert [str(r.crm_order_id) for r in result.created] == [order]
    assert result.failed == []
    erp = SalesOrder.objects.get(your_reference="ORD-1001")
    assert erp.customer == world.customer
    assert erp.external_document_no == "PO 4711 from Adatum"
    assert erp.status == SalesOrder.Status.OPEN
    assert erp.currency is None  # the CRM's base currency is the local one
    assert str(erp.requested_delivery_date) == "2026-12-24"
    # The ship-to address came from the CRM order; the bill-to one is the customer's.
    assert (erp.ship_to_name, erp.ship_to_address, erp.ship_to_city, erp.ship_to_country_code) == (
        "Adatum Warehouse",
        "1 Dock Road",
        "Savannah",
        "US",
    )
    assert (erp.bill_to_name, erp.bill_to_city) == ("Adatum Corporation", "Atlanta")
    bike, lift = erp.lines.order_by("line_no")
    assert (bike.line_no, bike.type, bike.item, bike.quantity) == (
        10000,
        LineType.ITEM,
        world.item,
        Decimal("2"),
    )
    # The CRM's price wins over the ERP's (4000), the discount is the CRM's amount.
    assert (bike.unit_price, bike.line_discount_amount, bike.line_amount) == (
        Decimal("3500"),
        Decimal("100"),
        Decimal("6900"),
    )
    assert (lift.type, lift.resource, lift.unit_price, lift.line_amount) == (
        LineType.RESOURCE,
        world.resource,
        Decimal("90"),
        Decimal("270"),
    )
    assert erp.amount == Decimal("7170")

    # Coupled, and taken over in the CRM (still submitted there).
    assert world.coupled(order)
    row = world.order_row(order)
    assert row["lastbackofficesubmit"] == timezone.localdate().isoformat()
    assert (row["statecode"], row["statuscode"]) == (1, 3)
    record = _record(order)
    assert (record.status, record.erp_order, record.attempts) == (
        CrmOrderImport.Status.CREATED,
        erp,
        1,
    )
    assert record.taken_over_by == "Integration user"

    # Taken over: the next pull leaves it alone, and asking again changes nothing.
    assert pull.crm_orders_pull().created == []
    again = pull.crm_orders_pull(crm_order_ids=[record.crm_order_id])
    assert [r.erp_order for r in again.created] == [erp]
    assert SalesOrder.objects.count() == 1


def test_an_order_for_a_contact_goes_to_the_customer_of_its_parent_account(order_world) -> None:
    world = order_world
    contact = world.salesperson.create(
        "contacts",
        {
            "firstname": "Ana",
            "lastname": "Trujillo",
            "parentcustomerid_account@odata.bind": f"/accounts({world.account})",
        },
    )
    order = world.submit(
        "ORD-2001",
        [{"product": world.crm_id(world.item), "quantity": 1, "priceperunit": 4000}],
        customer=f"/contacts({contact})",
    )
    [record] = pull.crm_orders_pull().created
    assert str(record.crm_order_id) == order
    assert record.erp_order.customer == world.customer


def test_each_order_that_cannot_be_converted_is_rolled_back_and_listed(order_world) -> None:
    world = order_world
    item_line = {"product": world.crm_id(world.item), "quantity": 1, "priceperunit": 10}
    stranger = world.salesperson.create("accounts", {"name": "Not Coupled Ltd"})
    orphan = world.salesperson.create("contacts", {"firstname": "No", "lastname": "Account"})
    blocked = ItemFactory(no="BLOCKED", description="Old model", blocked=True)
    blocked_product = world.product("Old model")
    # Coupled before it was blocked, as a person does on the coupling pages.
    CrmCoupling.objects.create(
        erp_table="erp.item", erp_uuid=blocked.uuid, crm_entity="product", crm_id=blocked_product
    )
    orders = {
        "account": world.submit("ORD-3001", [item_line], customer=f"/accounts({stranger})"),
        "contact": world.submit("ORD-3002", [item_line], customer=f"/contacts({orphan})"),
        "product": world.submit(
            "ORD-3003",
            [item_line, {"product": world.product("Unknown gadget"), "quantity": 1}],
        ),
        "blocked": world.submit("ORD-3004", [{"product": blocked_product, "quantity": 1}]),
        "write-in": world.submit(
            "ORD-3005",
            [item_line, {"productdescription": "Gift wrapping", "quantity": 1, "priceperunit": 5}],
        ),
        "taken": world.submit("ORD-3006", [item_line]),
        "invalid": world.submit("ORD-3008", [item_line], shipto_country="Germany"),
        "quantity": world.submit("ORD-3009", [{**item_line, "quantity": 0}]),
    }
    # Another back office took ORD-3006 over already.
    taken = orders["taken"]
    for body in ({"statecode": 0, "statuscode": 1}, {"lastbackofficesubmit": "2026-01-02"}):
        assert world.salesperson.patch(f"salesorders({taken})", json=body).status_code == 204
    assert world.salesperson.patch(
        f"salesorders({taken})", json={"statecode": 1, "statuscode": 3}
    ).ok
    good = world.submit("ORD-3007", [item_line])

    result = pull.crm_orders_pull(crm_order_ids=[*orders.values(), good])

    assert [r.crm_order_number for r in result.created] == ["ORD-3007"]
    reasons = {kind: _record(order).reason for kind, order in orders.items()}
    assert "Not Coupled Ltd is not coupled to an ERP customer" in reasons["account"]
    assert "has no parent account" in reasons["contact"]
    assert "Unknown gadget on line 2 is not coupled" in reasons["product"]
    assert "is blocked" in reasons["blocked"] and "Old model" in reasons["blocked"]
    assert "Line 2 is a write-in product (Gift wrapping)" in reasons["write-in"]
    assert "already taken over" in reasons["taken"] and "2026-01-02" in reasons["taken"]
    assert reasons["invalid"].startswith(
        "ship-to country/region code: Enter a two-letter ISO 3166 code, for example DE."
    )
    assert reasons["quantity"] == "Line 1: Enter a quantity greater than 0."
    # Nothing of them in the ERP, nothing coupled, nothing marked in the CRM (but ORD-3006's
    # own earlier mark).
    assert list(SalesOrder.objects.values_list("your_reference", flat=True)) == ["ORD-3007"]
    for kind, order in orders.items():
        assert _record(order).status == CrmOrderImport.Status.FAILED
        assert not world.coupled(order)
        if kind != "taken":
            assert world.order_row(order)["lastbackofficesubmit"] is None


def test_a_write_in_line_becomes_the_write_in_item_and_a_failed_order_goes_on_retry(
    order_world,
) -> None:
    world = order_world
    order = world.submit(
        "ORD-4001",
        [
            {"product": world.crm_id(world.item), "quantity": 1, "priceperunit": 4000},
            {"productdescription": "Gift wrapping, red", "quantity": 2, "priceperunit": 7.5},
        ],
    )
    [failed] = pull.crm_orders_pull().failed
    assert failed.attempts == 1 and "write-in" in failed.reason
    assert not SalesOrder.objects.exists()

    wrap = ItemFactory(no="WRAP", description="Write-in product", unit_price=Decimal("1"))
    pull.sales_order_setup_save(
        write_in_type=SalesOrderSetup.WriteInType.ITEM, write_in_item=wrap, write_in_resource=None
    )
    [record] = pull.crm_orders_pull(crm_order_ids=[failed.crm_order_id]).created
    assert (record.attempts, record.reason) == (2, "")
    _bike, write_in = record.erp_order.lines.order_by("line_no")
    assert (write_in.item, write_in.description, write_in.quantity, write_in.unit_price) == (
        wrap,
        "Gift wrapping, red",
        Decimal("2"),
        Decimal("7.5"),
    )
    assert world.order_row(order)["lastbackofficesubmit"] == timezone.localdate().isoformat()


def test_an_order_whose_erp_order_was_deleted_can_be_created_again(order_world) -> None:
    world = order_world
    order = world.submit(
        "ORD-5001", [{"product": world.crm_id(world.item), "quantity": 1, "priceperunit": 1}]
    )
    [first] = pull.crm_orders_pull().created
    first.erp_order.lines.all().delete()
    first.erp_order.delete()
    [again] = pull.crm_orders_pull(crm_order_ids=[first.crm_order_id]).created
    assert again.erp_order is not None and again.erp_order_no != first.erp_order_no
    assert world.coupled(order)


def test_nothing_is_pulled_while_sales_order_integration_is_off(order_world) -> None:
    order = order_world.submit(
        "ORD-6001", [{"product": order_world.crm_id(order_world.item), "quantity": 1}]
    )
    CrmConnection.objects.update(sales_order_integration=False)
    with pytest.raises(pull.PullUnavailable, match="Sales order integration is off"):
        pull.crm_orders_pull()
    assert not CrmOrderImport.objects.exists()
    assert order_world.order_row(order)["lastbackofficesubmit"] is None
