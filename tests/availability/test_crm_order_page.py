"""A salesperson in the sandbox CRM adds a product to an order line and sees the ERP's available
quantity, fetched with the key the setup wrote; with a replaced key the page says it was refused
(real chromium, the live ERP, the sandbox process)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import WebServiceKey
from accounts.services import webservice_key_generate
from sandbox import seed
from tests.availability.conftest import CrmWithErp

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.sandbox,
    pytest.mark.browser,
]


def test_adding_a_product_to_an_order_shows_the_erp_quantity(
    page: Page, crm_with_erp: CrmWithErp, sandbox: Any
) -> None:
    page.goto(f"{sandbox.url}/sales/")
    page.get_by_label("User name").fill(seed.ADMIN_USERNAME)
    page.get_by_label("Password").fill(seed.ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Name", exact=True).fill("Bikes for the spring")
    page.get_by_role("button", name="Create order").click()
    expect(page.get_by_role("heading", name="Order Bikes for the spring")).to_be_visible()

    page.get_by_label("Product", exact=True).select_option(label="Back Wheel (1200)")
    page.get_by_label("Quantity", exact=True).fill("3")
    page.get_by_role("button", name="Check availability").click()
    expect(page.locator("#available-quantity")).to_have_text("12.5")

    page.get_by_role("button", name="Add line").click()
    expect(page.locator("#line-added")).to_be_visible()
    expect(page.locator("#order-lines")).to_contain_text("Back Wheel")
    expect(page.locator("#available-quantity")).to_have_text("12.5")
    assert crm_with_erp.key not in page.content()

    webservice_key_generate(user=WebServiceKey.objects.get().user)
    page.get_by_label("Product", exact=True).select_option(label="Bicycle (1000)")
    page.get_by_role("button", name="Check availability").click()
    alert = page.locator("#availability")
    expect(alert).to_contain_text("refused the item availability web service key")
    expect(alert).to_contain_text("/connection/")
    assert crm_with_erp.key not in page.content()
