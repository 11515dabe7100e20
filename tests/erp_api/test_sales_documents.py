"""Sales documents through the REST API: an order created with its lines and priced, released,
shipped and invoiced by POST actions, lines changed only while open, refusals as clear 400s,
and the posted invoices read with their lines."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from erp import documents, models
from tests.factories import erp as f

pytestmark = pytest.mark.django_db

D = Decimal


def _order_body(customer: models.Customer, *lines: dict) -> dict:
    return {"customer": customer.no, "your_reference": "CRM-0001", "lines": list(lines)}


def test_an_order_is_created_with_lines_priced_from_the_price_group(writer: APIClient) -> None:
    eur = f.CurrencyFactory(code="EUR")
    group = f.CustomerPriceGroupFactory(code="RETAIL")
    customer = f.CustomerFactory(no="CU1", currency=eur, price_group=group)
    item = f.ItemFactory(no="1000", unit_price=D("100"))
    f.SalesPriceFactory(item=item, price_group=group, currency=eur, unit_price=D("77.50"))
    resource = f.ResourceFactory(no="LINA", unit_price=D("50"))

    response = writer.post(
        "/api/sales-orders/",
        _order_body(
            customer,
            {"item": "1000", "quantity": "2"},
            {
                "resource": "LINA",
                "quantity": "3",
                "unit_price": "60",
                "line_discount_percent": "10",
            },
        ),
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["no"] == "SO000001"
    assert (body["customer"], body["currency"], body["status"]) == ("CU1", "EUR", "open")
    assert [(line["type"], line["unit_price"], line["line_amount"]) for line in body["lines"]] == [
        ("item", "77.50", "155.00"),
        ("resource", "60.00", "162.00"),
    ]
    assert body["amount"] == "317.00"
    assert body["lines"][1]["resource"] == resource.no


def test_a_bad_line_refuses_the_whole_order_with_the_reason(writer: APIClient) -> None:
    customer = f.CustomerFactory()
    f.ItemFactory(no="BLOCKED", blocked=True)

    response = writer.post(
        "/api/sales-orders/",
        _order_body(customer, {"item": "BLOCKED", "quantity": "1"}),
        format="json",
    )

    assert response.status_code == 400
    assert "is blocked" in str(response.json())
    assert not models.SalesOrder.objects.exists()


def test_release_ship_and_invoice_through_the_api(writer: APIClient) -> None:
    item = f.ItemFactory(no="1000", inventory=D("10"), unit_price=D("20"))
    order = f.SalesOrderFactory(lines=[{"item": item, "quantity": D("4")}])
    url = f"/api/sales-orders/{order.pk}"

    refused = writer.post(f"{url}/ship/", {}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "non_field_errors": [f"Sales order {order.no} is open: release it before posting."]
    }

    released = writer.post(f"{url}/release/", format="json")
    assert released.status_code == 200 and released.json()["status"] == "released"

    shipped = writer.post(f"{url}/ship/", {"shipment_date": "2026-11-30"}, format="json")
    assert shipped.status_code == 200
    assert shipped.json()["shipped"] is True
    assert shipped.json()["lines"][0]["quantity_shipped"] == "4.00"
    assert shipped.json()["lines"][0]["shipment_date"] == "2026-11-30"
    item.refresh_from_db()
    assert item.inventory == D("6")

    invoiced = writer.post(f"{url}/invoice/", {"posting_date": "2026-12-01"}, format="json")
    assert invoiced.status_code == 201
    invoice = invoiced.json()
    assert (invoice["order"], invoice["posting_date"], invoice["amount"]) == (
        order.no,
        "2026-12-01",
        "80.00",
    )
    assert [(line["item"], line["quantity"]) for line in invoice["lines"]] == [("1000", "4.00")]
    assert writer.get(f"{url}/").json()["invoiced"] is True

    again = writer.post(f"{url}/invoice/", format="json")
    assert again.status_code == 400
    assert "post a shipment first" in again.json()["non_field_errors"][0]


def test_lines_are_added_changed_and_deleted_while_the_order_is_open(writer: APIClient) -> None:
    order = f.SalesOrderFactory()
    f.ItemFactory(no="1000", unit_price=D("10"))

    added = writer.post(
        "/api/sales-order-lines/", {"order": order.no, "item": "1000", "quantity": "2"}
    )
    assert added.status_code == 201, added.json()
    line_url = f"/api/sales-order-lines/{added.json()['id']}/"
    changed = writer.patch(line_url, {"quantity": "5"}, format="json")
    assert changed.status_code == 200 and changed.json()["line_amount"] == "50.00"

    documents.sales_order_release(order=order)
    refused = writer.patch(line_url, {"quantity": "6"}, format="json")
    assert refused.status_code == 400
    assert "reopen it before changing it" in str(refused.json())

    writer.post(f"/api/sales-orders/{order.pk}/reopen/")
    assert writer.delete(line_url).status_code == 204
    assert not order.lines.exists()


def test_status_and_amounts_cannot_be_written(writer: APIClient) -> None:
    order = f.SalesOrderLineFactory().order

    response = writer.patch(
        f"/api/sales-orders/{order.pk}/",
        {"status": "released", "amount": "1.00", "your_reference": "NEW"},
        format="json",
    )

    assert response.status_code == 200
    order.refresh_from_db()
    assert (order.status, order.your_reference) == ("open", "NEW")
    assert order.amount != D("1.00")


def test_orders_are_found_by_your_reference_and_customer(reader: APIClient) -> None:
    wanted = f.SalesOrderFactory(your_reference="CRM-42")
    f.SalesOrderFactory(your_reference="CRM-43")

    rows = reader.get("/api/sales-orders/", {"your_reference": "crm-42"}).json()["results"]
    by_customer = reader.get("/api/sales-orders/", {"customer": wanted.customer.no}).json()

    assert [r["no"] for r in rows] == [wanted.no]
    assert [r["no"] for r in by_customer["results"]] == [wanted.no]


def test_posted_invoices_are_read_only_with_their_lines(
    reader: APIClient, writer: APIClient
) -> None:
    invoice = f.invoiced_order()

    listed = reader.get("/api/posted-sales-invoices/", {"order": invoice.order_no}).json()
    lines = reader.get("/api/posted-sales-invoice-lines/", {"invoice": invoice.no}).json()

    assert [r["no"] for r in listed["results"]] == [invoice.no]
    assert len(listed["results"][0]["lines"]) == 1
    assert [r["invoice"] for r in lines["results"]] == [invoice.no]
    assert writer.delete(f"/api/posted-sales-invoices/{invoice.pk}/").status_code == 405
    assert writer.post("/api/posted-sales-invoices/", {}).status_code == 405


def test_readers_cannot_post_shipments(reader: APIClient) -> None:
    order = documents.sales_order_release(order=f.SalesOrderLineFactory().order)

    assert reader.post(f"/api/sales-orders/{order.pk}/ship/").status_code == 403
    assert not order.lines.filter(quantity_shipped__gt=0).exists()
