""" "Create in ERP" on the CRM orders page, in Chromium against the live sandbox: a salesperson
creates a submitted CRM order in the ERP, follows the link to the new ERP order, and sees a
failed order's reason and Retry."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import SALESPERSON
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def log_in(page: Page) -> None:
    user = UserFactory(roles=[SALESPERSON])
    page.goto("/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()


def test_create_in_erp_turns_a_submitted_crm_order_into_an_erp_order(
    page: Page, order_world
) -> None:
    world = order_world
    world.submit(
        "ORD-B001",
        [{"product": world.crm_id(world.item), "quantity": 2, "priceperunit": 1999.5}],
        name="Spring campaign",
    )
    world.submit("ORD-B002", [{"productdescription": "Engraving", "quantity": 1}])
    log_in(page)
    page.get_by_role("link", name="CRM orders", exact=True).click()
    expect(page.get_by_role("heading", name="Sales orders - Dynamics 365 Sales")).to_be_visible()

    row = page.locator("#crm-orders tr", has_text="ORD-B001")
    expect(row).to_contain_text("Adatum Corporation")
    row.get_by_role("button", name="Create in ERP").click()

    expect(page.get_by_role("status")).to_contain_text(
        re.compile(r"CRM order ORD-B001 is ERP sales order SO\d+\.")
    )
    row = page.locator("#crm-orders tr", has_text="ORD-B001")
    expect(row.get_by_role("button", name="Create in ERP")).to_have_count(0)

    page.locator("#crm-orders tr", has_text="ORD-B002").get_by_role(
        "button", name="Create in ERP"
    ).click()
    failed = page.locator("#failed-orders tr", has_text="ORD-B002")
    expect(failed).to_contain_text("Line 1 is a write-in product (Engraving)")
    expect(failed.get_by_role("button", name="Retry")).to_be_visible()

    page.locator("#crm-orders tr", has_text="ORD-B001").get_by_role(
        "link", name=re.compile(r"SO\d+")
    ).click()
    expect(page.get_by_role("heading", name=re.compile(r"SO\d+"))).to_be_visible()
    expect(page.get_by_text("Spring campaign").first).to_be_visible()
    expect(page.get_by_text("3,999.00").or_(page.get_by_text("3999.00")).first).to_be_visible()
