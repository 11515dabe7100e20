"""Sales orders: prices from the customer's price group and currency, the release → ship →
invoice flow with its effect on inventory, and the refusals that leave everything as it was."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from erp import documents, models
from tests.factories import erp as f

pytestmark = pytest.mark.django_db

D = Decimal


def test_a_new_order_takes_number_currency_salesperson_and_addresses_from_the_customer() -> None:
    eur = f.CurrencyFactory(code="EUR")
    person = f.SalespersonFactory(code="JO")
    customer = f.CustomerFactory(
        name="Fabrikam", city="Atlanta", country_code="US", currency=eur, salesperson=person
    )

    first = f.SalesOrderFactory(customer=customer)
    second = f.SalesOrderFactory(customer=customer, ship_to_city="Boston")

    assert (first.no, second.no) == ("SO000001", "SO000002")
    assert first.currency == eur and first.salesperson == person
    assert first.status == models.SalesOrder.Status.OPEN
    assert (first.bill_to_name, first.bill_to_city, first.ship_to_city) == (
        "Fabrikam",
        "Atlanta",
        "Atlanta",
    )
    assert second.ship_to_city == "Boston" and second.bill_to_city == "Atlanta"


def test_the_unit_price_comes_from_the_price_group_in_the_order_currency() -> None:
    eur = f.CurrencyFactory(code="EUR", exchange_rate=D("0.9"))
    retail = f.CustomerPriceGroupFactory(code="RETAIL")
    item = f.ItemFactory(unit_price=D("100.00"))
    f.SalesPriceFactory(item=item, price_group=retail, currency=None, unit_price=D("95.00"))
    f.SalesPriceFactory(item=item, price_group=retail, currency=eur, unit_price=D("88.00"))
    # A better price from 10 pieces on.
    f.SalesPriceFactory(
        item=item, price_group=retail, currency=eur, unit_price=D("80.00"), minimum_quantity=10
    )
    local = f.SalesOrderFactory(customer=f.CustomerFactory(price_group=retail))
    in_eur = f.SalesOrderFactory(customer=f.CustomerFactory(price_group=retail, currency=eur))

    local_line = f.SalesOrderLineFactory(order=local, item=item, quantity=D("2"))
    eur_line = f.SalesOrderLineFactory(order=in_eur, item=item, quantity=D("2"))
    bulk_line = f.SalesOrderLineFactory(order=in_eur, item=item, quantity=D("10"))

    assert local_line.unit_price == D("95.00") and local_line.line_amount == D("190.00")
    assert eur_line.unit_price == D("88.00")
    assert bulk_line.unit_price == D("80.00")
    assert local_line.unit_of_measure == item.base_unit_of_measure
    assert local_line.description == item.description
    in_eur.refresh_from_db()
    assert in_eur.amount == D("976.00")


def test_without_a_group_price_the_item_price_is_converted_into_the_order_currency() -> None:
    eur = f.CurrencyFactory(code="EUR", exchange_rate=D("0.9"))
    item = f.ItemFactory(unit_price=D("100.00"))
    order = f.SalesOrderFactory(customer=f.CustomerFactory(currency=eur))

    line = f.SalesOrderLineFactory(order=order, item=item, quantity=D("1"))

    assert line.unit_price == D("90.00")


def test_an_expired_group_price_no_longer_applies() -> None:
    retail = f.CustomerPriceGroupFactory()
    item = f.ItemFactory(unit_price=D("100.00"))
    f.SalesPriceFactory(
        item=item,
        price_group=retail,
        unit_price=D("50.00"),
        ending_date=datetime.date.today() - datetime.timedelta(days=1),
    )
    order = f.SalesOrderFactory(customer=f.CustomerFactory(price_group=retail))

    assert f.SalesOrderLineFactory(order=order, item=item).unit_price == D("100.00")


def test_a_given_price_and_discount_are_kept_and_the_line_amount_follows() -> None:
    line = f.SalesOrderLineFactory(
        quantity=D("3"), unit_price=D("10.00"), line_discount_percent=D("10")
    )
    by_amount = f.SalesOrderLineFactory(
        order=line.order, quantity=D("4"), unit_price=D("25.00"), line_discount_amount=D("20")
    )

    assert (line.line_discount_amount, line.line_amount) == (D("3.00"), D("27.00"))
    assert (by_amount.line_discount_percent, by_amount.line_amount) == (D("20.00"), D("80.00"))
    line.order.refresh_from_db()
    assert line.order.amount == D("107.00")
    assert [line.line_no, by_amount.line_no] == [10000, 20000]


def test_resource_lines_take_the_resource_price_and_unit() -> None:
    resource = f.ResourceFactory(unit_price=D("85.00"))

    line = f.SalesOrderLineFactory(type="resource", item=None, resource=resource, quantity=D("8"))

    assert line.unit_price == D("85.00") and line.line_amount == D("680.00")
    assert line.unit_of_measure == resource.base_unit_of_measure


def test_release_ship_and_invoice_an_order() -> None:
    desk = f.ItemFactory(inventory=D("10"), unit_price=D("200.00"))
    consultant = f.ResourceFactory(unit_price=D("85.00"))
    order = f.SalesOrderFactory(
        your_reference="CRM-ORD-1",
        lines=[
            {"item": desk, "quantity": D("3"), "line_discount_percent": D("10")},
            {"type": "resource", "resource": consultant, "quantity": D("2")},
        ],
    )

    order = documents.sales_order_release(order=order)
    shipment = documents.sales_order_ship(order=order, shipment_date=datetime.date(2026, 11, 2))

    desk.refresh_from_db()
    assert desk.inventory == D("7")
    assert [q for _line, q in shipment.lines] == [D("3"), D("2")]
    lines = list(order.lines.order_by("line_no"))
    assert [line.quantity_shipped for line in lines] == [D("3"), D("2")]
    assert {line.shipment_date for line in lines} == {datetime.date(2026, 11, 2)}
    order.refresh_from_db()
    assert order.shipped and not order.invoiced

    invoice = documents.sales_order_invoice(order=order, posting_date=datetime.date(2026, 11, 3))

    order.refresh_from_db()
    assert order.invoiced
    assert invoice.no == "PSI000001"
    assert (invoice.order, invoice.order_no, invoice.your_reference) == (
        order,
        order.no,
        "CRM-ORD-1",
    )
    assert invoice.customer == order.customer
    assert invoice.posting_date == datetime.date(2026, 11, 3)
    posted = list(invoice.lines.order_by("line_no"))
    assert [(p.item, p.resource, p.quantity) for p in posted] == [
        (desk, None, D("3")),
        (None, consultant, D("2")),
    ]
    assert [p.line_amount for p in posted] == [D("540.00"), D("170.00")]
    assert invoice.amount == order.amount == D("710.00")
    assert [line.quantity_invoiced for line in order.lines.order_by("line_no")] == [D("3"), D("2")]


def test_shipping_reports_the_change_of_the_item_to_readers_of_changed_records() -> None:
    item = f.ItemFactory(inventory=D("5"))
    before = models.Item.objects.get(pk=item.pk).modified_at
    order = documents.sales_order_release(order=f.SalesOrderLineFactory(item=item).order)

    documents.sales_order_ship(order=order)

    assert models.Item.objects.get(pk=item.pk).modified_at > before


def test_shipping_more_than_on_hand_leaves_a_negative_inventory() -> None:
    item = f.ItemFactory(inventory=D("1"))
    order = documents.sales_order_release(
        order=f.SalesOrderLineFactory(item=item, quantity=D("3")).order
    )

    documents.sales_order_ship(order=order)

    item.refresh_from_db()
    assert item.inventory == D("-2")


def test_an_open_order_can_be_neither_shipped_nor_invoiced() -> None:
    item = f.ItemFactory(inventory=D("5"))
    order = f.SalesOrderLineFactory(item=item).order

    with pytest.raises(ValidationError, match="is open: release it before posting"):
        documents.sales_order_ship(order=order)
    with pytest.raises(ValidationError, match="is open: release it before posting"):
        documents.sales_order_invoice(order=order)
    item.refresh_from_db()
    assert item.inventory == D("5")


def test_nothing_to_ship_or_invoice_is_refused() -> None:
    order = documents.sales_order_release(order=f.SalesOrderLineFactory().order)

    with pytest.raises(ValidationError, match="post a shipment first"):
        documents.sales_order_invoice(order=order)
    documents.sales_order_ship(order=order)
    with pytest.raises(ValidationError, match="nothing left to ship"):
        documents.sales_order_ship(order=order)
    documents.sales_order_invoice(order=order)
    with pytest.raises(ValidationError, match="post a shipment first"):
        documents.sales_order_invoice(order=order)
    assert models.PostedSalesInvoice.objects.count() == 1


def test_an_order_without_lines_cannot_be_released() -> None:
    order = f.SalesOrderFactory()

    with pytest.raises(ValidationError, match="has no lines"):
        documents.sales_order_release(order=order)


def test_a_released_order_cannot_be_changed_until_reopened() -> None:
    line = f.SalesOrderLineFactory(quantity=D("2"))
    order = documents.sales_order_release(order=line.order)

    with pytest.raises(ValidationError, match="reopen it before changing it"):
        documents.sales_order_line_update(line=line, data={"quantity": D("5")})
    with pytest.raises(ValidationError, match="reopen it before changing it"):
        documents.sales_order_line_add(order=order, data={"item": f.ItemFactory(), "quantity": 1})
    with pytest.raises(ValidationError, match="reopen it before changing it"):
        documents.sales_order_update(order=order, data={"your_reference": "X"})

    order = documents.sales_order_reopen(order=order)
    changed = documents.sales_order_line_update(line=line, data={"quantity": D("5")})
    assert changed.quantity == D("5")
    assert changed.line_amount == changed.unit_price * 5


def test_shipped_quantities_cannot_be_taken_back() -> None:
    line = f.SalesOrderLineFactory(quantity=D("4"))
    order = documents.sales_order_release(order=line.order)
    documents.sales_order_ship(order=order)
    order = documents.sales_order_reopen(order=order)

    with pytest.raises(ValidationError, match="less than the quantity already shipped"):
        documents.sales_order_line_update(line=line, data={"quantity": D("3")})
    with pytest.raises(ValidationError, match="has been shipped and cannot be deleted"):
        documents.sales_order_line_delete(line=line)
    with pytest.raises(ValidationError, match="has shipped lines and cannot be deleted"):
        documents.sales_order_delete(order=order)
    # More can still be ordered and shipped.
    documents.sales_order_line_update(line=line, data={"quantity": D("6")})
    order = documents.sales_order_release(order=order)
    shipment = documents.sales_order_ship(order=order)
    assert [q for _line, q in shipment.lines] == [D("2")]


def test_blocked_customers_and_items_are_refused() -> None:
    with pytest.raises(ValidationError, match="is blocked"):
        f.SalesOrderFactory(customer=f.CustomerFactory(blocked="all"))
    with pytest.raises(ValidationError, match="is blocked"):
        f.SalesOrderLineFactory(item=f.ItemFactory(blocked=True))

    customer = f.CustomerFactory()
    order = documents.sales_order_release(
        order=f.SalesOrderLineFactory(order__customer=customer).order
    )
    models.Customer.objects.filter(pk=customer.pk).update(blocked="ship")
    with pytest.raises(ValidationError, match="is blocked"):
        documents.sales_order_ship(order=order)


def test_a_bad_line_rolls_back_the_whole_order() -> None:
    item = f.ItemFactory()

    with pytest.raises(ValidationError) as caught:
        f.SalesOrderFactory(
            lines=[{"item": item, "quantity": D("1")}, {"item": item, "quantity": D("0")}]
        )

    assert "lines[1]" in caught.value.message_dict
    assert not models.SalesOrder.objects.exists()
    assert not models.SalesOrderLine.objects.exists()


def test_another_unit_without_a_price_asks_for_one() -> None:
    box = f.UnitOfMeasureFactory(code="BOX")

    with pytest.raises(ValidationError, match="has no sales price for the unit BOX"):
        f.SalesOrderLineFactory(unit_of_measure=box)

    line = f.SalesOrderLineFactory(unit_of_measure=box, unit_price=D("30"))
    assert line.unit_price == D("30")


def test_partial_invoices_bill_only_what_was_shipped_since() -> None:
    line = f.SalesOrderLineFactory(quantity=D("2"), unit_price=D("10"))
    order = documents.sales_order_release(order=line.order)
    documents.sales_order_ship(order=order)
    first = documents.sales_order_invoice(order=order)
    order = documents.sales_order_reopen(order=order)
    documents.sales_order_line_update(line=line, data={"quantity": D("5"), "unit_price": D("10")})
    order = documents.sales_order_release(order=order)
    documents.sales_order_ship(order=order)

    second = documents.sales_order_invoice(order=order)

    assert (first.amount, second.amount) == (D("20.00"), D("30.00"))
    assert second.no == "PSI000002"
    order.refresh_from_db()
    assert order.invoiced


def test_posting_bumps_modified_at_of_the_order_and_its_lines() -> None:
    line = f.SalesOrderLineFactory()
    order = documents.sales_order_release(order=line.order)
    before_order = models.SalesOrder.objects.get(pk=order.pk).modified_at
    before_line = models.SalesOrderLine.objects.get(pk=line.pk).modified_at

    documents.sales_order_ship(order=order)

    assert models.SalesOrder.objects.get(pk=order.pk).modified_at > before_order
    assert models.SalesOrderLine.objects.get(pk=line.pk).modified_at > before_line
