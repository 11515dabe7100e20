import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from erp.models import Item, PostedSalesInvoice
from tests.browser.test_erp_pages import log_in, salesperson_user  # noqa: F401 - a fixture
from tests.factories.erp import CustomerFactory, ItemFactory, SalesOrderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_salesperson_adds_a_line_releases_ships_and_invoices_an_order(
    page: Page,
    salesperson_user: User,  # noqa: F811 - the fixture imported above
) -> None:
    ItemFactory(no="1896-S", description="ATHENS Desk", unit_price=Decimal("250.00"), inventory=10)
    order = SalesOrderFactory(customer=CustomerFactory(name="Trey Research"))

    log_in(page, "sally")
    page.get_by_text("ERP tables").click()
    page.get_by_role("link", name="Sales orders").click()
    page.get_by_role("link", name=order.no, exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(f"Sales order {order.no}"))).to_be_visible()

    new_line = page.locator("tr.new-line")
    new_line.get_by_label("No.").fill("1896-s")
    new_line.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Add line").click()
    expect(page.locator(".message-success")).to_contain_text("Line 10000 was added.")
    row = page.locator('tr[data-line="10000"]')
    expect(row.get_by_label("Description")).to_have_value("ATHENS Desk")
    expect(row).to_contain_text("750.00")
    page.screenshot(path="/tmp/salesdocs-order-open.png", full_page=True)

    page.get_by_role("button", name="Release").click()
    expect(page.locator(".message-success")).to_contain_text(
        f"Sales order {order.no} was released."
    )
    page.get_by_role("button", name="Post shipment").click()
    expect(page.locator(".message-success")).to_contain_text("was posted (1 line).")
    assert Item.objects.get(no="1896-S").inventory == Decimal("7")
    page.screenshot(path="/tmp/salesdocs-order-shipped.png", full_page=True)

    page.get_by_role("button", name="Post shipment").click()
    expect(page.locator(".message-error")).to_contain_text("has nothing left to ship")

    page.get_by_role("button", name="Post invoice").click()
    invoice = PostedSalesInvoice.objects.get()
    expect(page.locator(".message-success")).to_contain_text(f"Posted sales invoice {invoice.no}")
    page.get_by_role("link", name=invoice.no).click()
    expect(page.get_by_role("heading", name=re.compile(invoice.no))).to_be_visible()
    expect(page.locator("table.data")).to_contain_text("ATHENS Desk")
