import re

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import Page, expect

from accounts import roles
from erp.models import Customer
from tests.factories.erp import CurrencyFactory, CustomerFactory, SalespersonFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-pass-123"


def log_in(page: Page, username: str) -> None:
    page.goto("/erp/customers/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def salesperson_user() -> User:
    user = User.objects.create_user("sally", password=PASSWORD, first_name="Sally")
    user.groups.add(Group.objects.get_or_create(name=roles.SALESPERSON)[0])
    return user


def test_salesperson_finds_edits_and_fixes_a_customer(page: Page, salesperson_user: User) -> None:
    rep = SalespersonFactory(code="JO", name="Jim Olive")
    usd = CurrencyFactory(code="USD")
    for n in range(60):
        CustomerFactory(no=f"CU{n:06d}", salesperson=rep if n % 2 else None, currency=usd)
    CustomerFactory(no="CU900001", name="Trey Research", city="Zurich", salesperson=rep)

    log_in(page, "sally")
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    page.screenshot(path="/tmp/customers.png", full_page=True)

    page.get_by_label("Search").fill("trey")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.data tbody tr")).to_have_count(1)
    page.get_by_role("link", name="CU900001", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("Trey Research"))).to_be_visible()

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("E-mail").fill("trey at research")
    page.locator("#id_name").fill("Trey Research Renamed")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator(".field-errors")).to_contain_text("Enter a valid email address.")
    expect(page.get_by_label("E-mail")).to_have_value("trey at research")
    expect(page.locator("#id_name")).to_have_value("Trey Research Renamed")
    assert Customer.objects.get(no="CU900001").name == "Trey Research"
    page.screenshot(path="/tmp/customer-edit.png", full_page=True)

    page.get_by_label("E-mail").fill("trey@research.example")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".message-success")).to_be_visible()
    assert Customer.objects.get(no="CU900001").email == "trey@research.example"


def test_language_switch_to_spanish_works_before_and_after_login(
    page: Page, salesperson_user: User
) -> None:
    page.goto("/login/")
    page.get_by_label("Language").select_option("es")
    expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()

    page.get_by_label("Nombre de usuario").fill("sally")
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.goto("/erp/customers/")
    expect(page.get_by_role("heading", name="Clientes")).to_be_visible()
    expect(page.get_by_role("button", name="Aplicar")).to_be_visible()
    page.screenshot(path="/tmp/customers-es.png")

    page.get_by_label("Idioma").select_option("en")
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()


def test_administrator_navigates_by_menu_and_cannot_delete_a_used_currency(page: Page) -> None:
    User.objects.create_superuser("root", password=PASSWORD)
    eur = CurrencyFactory(code="EUR", description="Euro")
    CustomerFactory(no="CU000001", currency=eur)

    log_in(page, "root")
    page.get_by_role("link", name="Home").click()
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Connection")).to_be_visible()
    expect(nav.get_by_role("link", name="Synchronization", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Coupling", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Full synchronization")).to_be_visible()
    page.screenshot(path="/tmp/home.png", full_page=True)

    nav.get_by_text("ERP tables").click()
    nav.get_by_role("link", name="Currencies").click()
    page.get_by_role("link", name="EUR", exact=True).click()
    page.get_by_role("link", name="Delete").click()

    expect(page.get_by_role("alert")).to_contain_text("other records use this currency")
    expect(page.get_by_role("alert")).to_contain_text("Customers: 1 record (CU000001)")
    expect(page.get_by_role("button", name="Yes, delete")).to_have_count(0)
