"""The sales order pages: create an order, add and change lines on its card, release, ship and
invoice with the card's buttons, and read the posted invoice."""

from decimal import Decimal

from django.test import Client

from erp import documents, models
from tests.factories import erp as f

D = Decimal


def _line(prefix: str, **values: str) -> dict[str, str]:
    defaults = {"type": "item", "no": "", "description": "", "quantity": "1", "unit_of_measure": ""}
    defaults |= {"unit_price": "", "line_discount_percent": ""}
    return {f"{prefix}-{name}": value for name, value in (defaults | values).items()}


def _messages(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.context["messages"]]


def test_a_new_order_opens_its_card_with_the_customer_defaults(sales_client: Client) -> None:
    customer = f.CustomerFactory(no="CU000001", name="Fabrikam", city="Atlanta")

    response = sales_client.post(
        "/erp/sales-orders/new/",
        {"customer": "cu000001", "your_reference": "PO-77", "order_date": "2026-11-30"},
        follow=True,
    )

    order = models.SalesOrder.objects.get()
    assert response.redirect_chain[-1][0] == f"/erp/sales-orders/{order.pk}/"
    assert (order.customer, order.your_reference, order.ship_to_city) == (
        customer,
        "PO-77",
        "Atlanta",
    )
    html = response.content.decode()
    assert "SO000001 was created." in html and "Fabrikam" in html and "Release" in html


def test_an_unknown_customer_is_named_and_nothing_is_created(sales_client: Client) -> None:
    response = sales_client.post("/erp/sales-orders/new/", {"customer": "NOPE"})

    assert response.status_code == 400
    assert "There is no customer with this number." in response.content.decode()
    assert not models.SalesOrder.objects.exists()


def test_lines_are_added_and_changed_on_the_card(sales_client: Client) -> None:
    order = f.SalesOrderFactory()
    f.ItemFactory(no="1000", unit_price=D("40.00"))
    url = f"/erp/sales-orders/{order.pk}/"

    response = sales_client.post(
        f"{url}lines/new/", _line("new", no="1000", quantity="3"), follow=True
    )
    line = order.lines.get()
    assert "Line 10000 was added." in _messages(response)
    assert (line.quantity, line.unit_price, line.line_amount) == (D("3"), D("40.00"), D("120.00"))

    edit = _line(
        f"line-{line.pk}", no="1000", quantity="5", unit_price="40", line_discount_percent="50"
    )
    response = sales_client.post(f"{url}lines/{line.pk}/edit/", edit, follow=True)
    line.refresh_from_db()
    assert "Line 10000 was saved." in _messages(response)
    assert line.line_amount == D("100.00")
    assert 'value="100.00"' in response.content.decode() or "100.00" in response.content.decode()


def test_a_bad_line_is_explained_and_not_added(sales_client: Client) -> None:
    order = f.SalesOrderFactory()

    response = sales_client.post(
        f"/erp/sales-orders/{order.pk}/lines/new/", _line("new", no="NOSUCH", quantity="0")
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "The line was not added." in html
    assert "There is no item with this number." in html
    assert not order.lines.exists()


def test_release_ship_and_invoice_from_the_card(sales_client: Client) -> None:
    item = f.ItemFactory(inventory=D("10"))
    order = f.SalesOrderLineFactory(item=item, quantity=D("4")).order
    url = f"/erp/sales-orders/{order.pk}/"

    refused = sales_client.post(f"{url}ship/", follow=True)
    assert f"Sales order {order.no} is open: release it before posting." in _messages(refused)

    released = sales_client.post(f"{url}release/", follow=True)
    assert f"Sales order {order.no} was released." in _messages(released)
    html = released.content.decode()
    assert "Post shipment" in html and "Add line" not in html

    shipped = sales_client.post(f"{url}ship/", follow=True)
    assert f"The shipment of sales order {order.no} was posted (1 line)." in _messages(shipped)
    item.refresh_from_db()
    assert item.inventory == D("6")

    invoiced = sales_client.post(f"{url}invoice/", follow=True)
    invoice = models.PostedSalesInvoice.objects.get()
    assert (
        f"Posted sales invoice {invoice.no} was created for sales order {order.no}."
        in _messages(invoiced)
    )
    assert f"/erp/posted-sales-invoices/{invoice.pk}/" in invoiced.content.decode()

    again = sales_client.post(f"{url}ship/", follow=True)
    assert f"Sales order {order.no} has nothing left to ship." in _messages(again)


def test_posted_invoices_are_listed_and_shown_but_not_editable(sales_client: Client) -> None:
    invoice = f.invoiced_order()

    listed = sales_client.get("/erp/posted-sales-invoices/").content.decode()
    card = sales_client.get(f"/erp/posted-sales-invoices/{invoice.pk}/").content.decode()

    assert f"/erp/posted-sales-invoices/{invoice.pk}/" in listed
    assert "/erp/posted-sales-invoices/new/" not in listed
    assert invoice.lines.get().description in card
    assert f"/erp/sales-orders/{invoice.order.pk}/" in card
    assert "/edit/" not in card
    assert sales_client.post(f"/erp/posted-sales-invoices/{invoice.pk}/").status_code == 405


def test_the_documents_are_in_the_navigation_and_lists(sales_client: Client) -> None:
    order = f.SalesOrderFactory(your_reference="FIND-ME")

    html = sales_client.get("/erp/sales-orders/", {"q": "find-me"}).content.decode()

    assert f"/erp/sales-orders/{order.pk}/" in html
    assert 'href="/erp/sales-orders/"' in html and 'href="/erp/posted-sales-invoices/"' in html


def test_readers_see_orders_but_cannot_act(support_client: Client) -> None:
    order = documents.sales_order_release(order=f.SalesOrderLineFactory().order)

    card = support_client.get(f"/erp/sales-orders/{order.pk}/").content.decode()

    assert "Post shipment" not in card
    assert support_client.post(f"/erp/sales-orders/{order.pk}/ship/").status_code == 403
    assert not order.lines.filter(quantity_shipped__gt=0).exists()


def test_a_released_order_cannot_be_edited_and_a_shipped_one_not_deleted(
    sales_client: Client,
) -> None:
    order = documents.sales_order_release(order=f.SalesOrderLineFactory().order)

    edit = sales_client.get(f"/erp/sales-orders/{order.pk}/edit/", follow=True)
    assert "reopen it before changing it" in " ".join(_messages(edit))

    documents.sales_order_ship(order=order)
    deleted = sales_client.post(f"/erp/sales-orders/{order.pk}/delete/", follow=True)
    assert "has shipped lines and cannot be deleted" in " ".join(_messages(deleted))
    assert models.SalesOrder.objects.filter(pk=order.pk).exists()


def test_the_order_card_and_its_refusals_are_spanish(sales_client: Client) -> None:
    order = f.SalesOrderLineFactory(quantity=D("1.5")).order
    sales_client.post("/i18n/setlang/", {"language": "es", "next": "/"})

    card = sales_client.get(f"/erp/sales-orders/{order.pk}/").content.decode()
    refused = sales_client.post(f"/erp/sales-orders/{order.pk}/invoice/", follow=True)

    assert f"Pedido de venta {order.no}" in card
    assert "Lanzar" in card and "Añadir línea" in card and "% de descuento de línea" in card
    assert "%%" not in card
    assert f"El pedido de venta {order.no} está abierto: láncelo antes de registrar." in _messages(
        refused
    )


def test_another_item_on_a_line_brings_its_own_description_and_price(sales_client: Client) -> None:
    desk = f.ItemFactory(no="DESK", description="ATHENS Desk", unit_price=D("250.00"))
    f.ItemFactory(no="LAMP", description="ROME Lamp", unit_price=D("30.00"))
    line = f.SalesOrderLineFactory(item=desk, quantity=D("2"))
    # The row as shown, with the number typed over.
    edit = _line(
        f"line-{line.pk}",
        no="lamp",
        description="ATHENS Desk",
        quantity="2",
        unit_of_measure=line.unit_of_measure.code,
        unit_price="250.00",
        line_discount_percent="0",
    )

    sales_client.post(f"/erp/sales-orders/{line.order.pk}/lines/{line.pk}/edit/", edit)

    line.refresh_from_db()
    assert (line.item.no, line.description, line.unit_price) == ("LAMP", "ROME Lamp", D("30.00"))
