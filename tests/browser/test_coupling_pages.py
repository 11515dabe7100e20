"""The coupling pages in Chromium against the live sandbox: couple through the preview,
create on either side, resolve a conflict per field, uncouple, retry from the errors page and
couple salespeople to CRM users by e-mail."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import SALESPERSON
from coupling import services
from erp.models import Customer
from sandbox import seed
from syncjobs.models import CrmCoupling
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory
from tests.factories.erp import CustomerFactory, SalespersonFactory

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def _token() -> str:
    return uuid.uuid4().hex[:8].upper()


def _account(sync_setup, **values) -> uuid.UUID:
    return uuid.UUID(sync_setup.crm.create("accounts", {"customertypecode": 3, **values}))


def log_in(page: Page) -> None:
    user = UserFactory(roles=[SALESPERSON])
    page.goto("/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()


@pytest.fixture
def customers(sync_setup, crm_salesperson):
    return sync_setup.mapping("CUSTOMER")


def test_couple_a_customer_through_the_preview_and_take_the_crm_data(
    page: Page, sync_setup, customers
) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Shop {token}", salesperson=None)
    crm_id = _account(sync_setup, name=f"Account {token}")
    log_in(page)
    page.get_by_role("link", name="Coupling with CRM records").click()
    page.get_by_role("link", name="CUSTOMER", exact=True).click()
    page.locator("#id_q").fill(f"Shop {token}")
    page.locator("#erp-side").locator("..").get_by_role("button", name="Apply").click()
    page.get_by_role("link", name="Set up coupling").first.click()
    page.get_by_label("Search the CRM").fill(f"Account {token}")  # search as you type
    page.locator("#crm-results").get_by_role("link", name=f"Account {token}").click()
    expect(page.locator("#coupling-preview")).to_contain_text(f"ERP becomes “Account {token}”")
    page.get_by_label("Use the CRM data (take it into the ERP)").check()
    page.get_by_role("button", name="Couple").click()
    expect(page.locator(".messages")).to_contain_text("is coupled to the CRM record")
    customer.refresh_from_db()
    assert customer.name == f"Account {token}"
    assert CrmCoupling.objects.get(erp_uuid=customer.uuid).crm_id == crm_id


def test_create_an_account_from_a_customer_and_a_customer_from_an_account(
    page: Page, sync_setup, customers
) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Fresh {token}", salesperson=None)
    crm_id = _account(sync_setup, name=f"Only in CRM {token}")
    log_in(page)
    page.goto(f"/coupling/{customers.pk}/?q=Fresh+{token}&crm_q=Only+in+CRM+{token}")
    page.locator(f'tr[data-erp="{customer.uuid}"]').get_by_role(
        "button", name="Create in CRM"
    ).click()
    expect(page.locator(f'tr[data-erp="{customer.uuid}"]')).to_contain_text("Coupled")
    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    assert sync_setup.crm.row("accounts", str(coupling.crm_id))["name"] == f"Fresh {token}"

    page.locator(f'tr[data-crm="{crm_id}"]').get_by_role("button", name="Create in ERP").click()
    expect(page.locator(".messages")).to_contain_text("created in the ERP")
    created = Customer.objects.get(name=f"Only in CRM {token}")
    assert CrmCoupling.objects.get(crm_id=crm_id).erp_uuid == created.uuid


def test_resolve_a_conflict_per_field_then_uncouple(page: Page, sync_setup, customers) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Both {token}", phone="+1 100", salesperson=None)
    crm_id = _account(sync_setup, name=f"Both {token}", telephone1="+1 100")
    result = services.couple(mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="erp")
    coupling = result.coupling
    coupling.conflict = True
    coupling.conflict_fields = [
        {"key": "name>name", "erp_field": "name", "crm_field": "name", "base": f"Both {token}",
         "erp": f"ERP name {token}", "crm": f"CRM name {token}"},
    ]  # fmt: skip
    coupling.save()
    log_in(page)
    page.goto(f"/coupling/{customers.pk}/?q=Both+{token}")
    row = page.locator(f'tr[data-erp="{customer.uuid}"]')
    expect(row).to_contain_text("Conflict")
    row.get_by_role("link", name="Resolve").click()
    page.get_by_label(f"CRM name {token}").check()
    page.get_by_role("button", name="Keep the chosen values").click()
    expect(page.locator(".messages")).to_contain_text("conflict is resolved")
    coupling.refresh_from_db()
    assert not coupling.conflict

    page.locator(f'tr[data-erp="{customer.uuid}"]').get_by_role("button", name="Uncouple").click()
    expect(page.locator(f'tr[data-erp="{customer.uuid}"]')).to_contain_text("Not coupled")
    assert not CrmCoupling.objects.filter(erp_uuid=customer.uuid).exists()


def test_retry_a_failed_record_from_the_errors_page(page: Page, sync_setup, customers) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Stuck {token}", salesperson=None)
    crm_id = _account(sync_setup, name=f"Stuck {token}")
    coupling = CrmCoupling.objects.create(
        erp_table="erp.customer", erp_uuid=customer.uuid, crm_entity="account", crm_id=crm_id,
        skipped=True, last_result_to_crm="failure", last_error=f"Broken {token}",
    )  # fmt: skip
    log_in(page)
    page.goto("/coupling/errors/?state=skipped")
    row = page.locator(f'tr[data-coupling="{coupling.pk}"]')
    expect(row).to_contain_text(f"Broken {token}")
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="Retry selected").click()
    expect(page.locator(".messages")).to_contain_text("retried")
    coupling.refresh_from_db()
    assert not coupling.skipped


def test_couple_salespeople_to_crm_users_by_email(
    page: Page, sync_setup, celery_worker_process
) -> None:
    people = seed.demo_data()["salespeople"][1:3]
    mine = [
        SalespersonFactory(code=p["code"], name=p["name"], email=f"{p['login']}@sandbox.example")
        for p in people
    ]
    mapping = sync_setup.mapping("SALESPEOPLE")
    log_in(page)
    page.goto(f"/coupling/{mapping.pk}/")
    page.get_by_role("link", name="Match-based coupling").first.click()
    expect(page.get_by_label("Match on email")).to_be_checked()
    page.get_by_role("button", name="Start match-based coupling").click()
    expect(page.locator('[data-field="status"]')).to_have_text("Succeeded", timeout=60_000)
    for person, salesperson in zip(people, mine, strict=True):
        coupling = CrmCoupling.objects.get(erp_uuid=salesperson.uuid)
        assert str(coupling.crm_id) == str(seed.salesperson_user_id(person["code"]))


def test_from_a_customer_card_create_the_account_then_find_it_coupled_in_the_list(
    page: Page, sync_setup, customers
) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Card {token}", salesperson=None)
    log_in(page)
    page.goto(f"/erp/customers/{customer.pk}/")
    panel = page.locator("#crm-panel")
    expect(panel).to_contain_text("not coupled to a CRM record")
    panel.get_by_role("button", name="Create in CRM").click()
    expect(page.locator(".messages")).to_contain_text("created in the CRM")
    expect(page).to_have_url(re.compile(rf"/erp/customers/{customer.pk}/$"))  # back on the card
    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    expect(panel.get_by_role("link", name="Open in CRM")).to_have_attribute(
        "href", re.compile(rf"etn=account&id={coupling.crm_id}$")
    )
    expect(panel).to_contain_text("Success")  # the last synchronization to the CRM

    page.goto(f"/erp/customers/?q={token}")
    page.get_by_label("Coupled to Dynamics 365 Sales").select_option("not_coupled")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No records match your search and filters.")).to_be_visible()
    page.get_by_label("Coupled to Dynamics 365 Sales").select_option("coupled")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator('td[data-coupling="coupled"]')).to_have_text("Yes")
