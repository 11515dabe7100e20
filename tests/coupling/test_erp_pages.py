"""The coupling on the ERP's own pages: the "Coupled to Dynamics 365 Sales" column and filter
on a mapped table's list page (with keyset paging, one query for the page's couplings) and the
"Dynamics 365 Sales" panel on its card pages, per role."""

import re
import uuid
from html import unescape

import pytest
from django.db import connection
from django.test import Client

from accounts.roles import INTEGRATION_ADMIN, SALESPERSON, SUPPORT
from connection.models import CrmConnection
from coupling import pages
from erp import selectors as erp_selectors
from erp import views as erp_views
from syncjobs import services
from syncjobs.defaults import ALL_AREAS
from syncjobs.models import CrmCoupling, IntegrationTableMapping, SyncResult
from tests.factories.accounts import UserFactory
from tests.factories.erp import CustomerFactory, PaymentTermsFactory

pytestmark = pytest.mark.django_db

PER_PAGE = 4
COLUMN = "Coupled to Dynamics 365 Sales"


@pytest.fixture
def mappings() -> dict[str, IntegrationTableMapping]:
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=ALL_AREAS))
    return {m.name: m for m in IntegrationTableMapping.objects.all()}


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(erp_views, "PAGE_SIZE", PER_PAGE)


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=[role]))
    return client


def _couple(record, **values) -> CrmCoupling:
    return CrmCoupling.objects.create(
        erp_table="erp.customer",
        erp_uuid=record.uuid,
        crm_entity="account",
        crm_id=values.pop("crm_id", uuid.uuid4()),
        **values,
    )


def _rows(html: str) -> list[tuple[str, str]]:
    """(customer number, coupling cell text) of each row of a list page."""
    return re.findall(
        r'class="record-link"[^>]*>(CU\d+)<.*?data-coupling="[^"]*"><span[^>]*>([^<]+)</span>',
        html,
        flags=re.S,
    )


def _link(html: str, label: str) -> str | None:
    found = re.search(rf'<a href="(\?[^"]*)"[^>]*>{label}</a>', html)
    return unescape(found.group(1)) if found else None


@pytest.fixture
def ten_customers(mappings) -> list:
    """CU000001..CU000010: odd numbers coupled (1 failed, 3 skipped, 5 in conflict)."""
    customers = [CustomerFactory(no=f"CU{n:06d}") for n in range(1, 11)]
    for n, customer in enumerate(customers, start=1):
        if n == 1:
            _couple(customer, last_result_to_crm=SyncResult.FAILURE, last_error="boom")
        elif n == 3:
            _couple(customer, skipped=True)
        elif n == 5:
            _couple(customer, conflict=True)
        elif n % 2:
            _couple(customer, last_result_to_crm=SyncResult.SUCCESS)
    return customers


def test_the_list_shows_the_coupling_column_on_mapped_tables(ten_customers) -> None:
    html = _client(SUPPORT).get("/erp/customers/").content.decode()
    assert f'data-column="coupling">{COLUMN}</th>' in html
    assert dict(_rows(html)) == {
        "CU000001": "Failed",
        "CU000002": "No",
        "CU000003": "Skipped",
        "CU000004": "No",
        "CU000005": "Conflict",
        "CU000006": "No",
        "CU000007": "Yes",
        "CU000008": "No",
        "CU000009": "Yes",
        "CU000010": "No",
    }
    # A table no mapping couples (payment terms are option mappings) has no such column.
    PaymentTermsFactory()
    assert COLUMN not in _client(SUPPORT).get("/erp/payment-terms/").content.decode()


def test_without_mappings_the_list_is_the_bare_erp_list(db) -> None:
    CustomerFactory()
    html = _client(SALESPERSON).get("/erp/customers/").content.decode()
    assert COLUMN not in html and "data-coupling" not in html


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("coupled", ["CU000001", "CU000003", "CU000005", "CU000007", "CU000009"]),
        ("not_coupled", ["CU000002", "CU000004", "CU000006", "CU000008", "CU000010"]),
        ("failed", ["CU000001"]),
        ("skipped", ["CU000003"]),
        ("conflict", ["CU000005"]),
        ("bogus", []),
    ],
)
def test_the_coupling_filter_is_part_of_the_keyset_pages(
    ten_customers, small_pages, value, expected
) -> None:
    client = _client(SALESPERSON)
    seen: list[str] = []
    query: str | None = f"?coupling={value}"
    pages = 0
    while query is not None:
        html = client.get(f"/erp/customers/{query}").content.decode()
        seen += [no for no, _text in _rows(html)]
        query = _link(html, "Next")
        pages += 1
        assert pages < 10
    assert seen == expected
    if len(expected) > PER_PAGE:
        # The last page and Previous from it keep the filter too.
        html = client.get("/erp/customers/", {"coupling": value, "page": "last"}).content.decode()
        assert [no for no, _text in _rows(html)] == expected[PER_PAGE:]
        back = client.get(f"/erp/customers/{_link(html, 'Previous')}").content.decode()
        assert [no for no, _text in _rows(back)] == expected[:PER_PAGE]
        assert f"{len(expected)} records" in html


def test_the_filter_sorts_and_searches_with_the_rest(ten_customers, small_pages) -> None:
    client = _client(SALESPERSON)
    html = client.get("/erp/customers/", {"coupling": "coupled", "sort": "-no"}).content.decode()
    assert [no for no, _t in _rows(html)] == ["CU000009", "CU000007", "CU000005", "CU000003"]
    assert 'value="coupled" selected' in html
    html = client.get("/erp/customers/", {"coupling": "coupled", "q": "CU000007"}).content.decode()
    assert [no for no, _t in _rows(html)] == ["CU000007"]


def test_the_column_costs_no_query_per_row(
    mappings, django_assert_max_num_queries, small_pages, monkeypatch
) -> None:
    client = _client(SALESPERSON)
    monkeypatch.setattr(erp_views, "PAGE_SIZE", 2)
    for _n in range(2):
        _couple(CustomerFactory())
        CustomerFactory()
    client.get("/erp/customers/")  # the session and the role cache are warm from here
    with django_assert_max_num_queries(12) as small:
        client.get("/erp/customers/")
    monkeypatch.setattr(erp_views, "PAGE_SIZE", 50)
    for _n in range(30):
        _couple(CustomerFactory())
        CustomerFactory()
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get("/erp/customers/")
    assert len(_rows(response.content.decode())) == 50


def _panel(html: str) -> str:
    found = re.search(r'<section class="card crm-panel".*?</section>', html, flags=re.S)
    assert found is not None, "no Dynamics 365 Sales panel"
    return found.group(0)


@pytest.fixture
def crm_connection() -> CrmConnection:
    return CrmConnection.objects.create(
        pk=1,
        environment_url="https://contoso.crm.dynamics.com",
        token_url="https://l.example/t",
        client_id="c",
        is_enabled=True,
        sync_areas=ALL_AREAS,
    )


def test_the_card_panel_of_a_coupled_record(mappings, crm_connection) -> None:
    customer = CustomerFactory()
    crm_id = uuid.uuid4()
    coupling = _couple(
        customer,
        crm_id=crm_id,
        last_result_to_crm=SyncResult.SUCCESS,
        last_result_from_crm=SyncResult.FAILURE,
        last_job_to_crm=41,
        last_error="The CRM refused the e-mail address.",
    )
    url = f"/erp/customers/{customer.pk}/"
    panel = _panel(_client(SALESPERSON).get(url).content.decode())
    assert "Dynamics 365 Sales" in panel and "CRM account" in panel and str(crm_id) in panel
    assert (
        "https://contoso.crm.dynamics.com/main.aspx?pagetype=entityrecord&amp;etn=account"
        f"&amp;id={crm_id}" in panel
    )
    assert "#41" in panel and "The CRM refused the e-mail address." in panel
    assert f'action="/coupling/couplings/{coupling.pk}/synchronize/"' in panel
    assert f'action="/coupling/couplings/{coupling.pk}/uncouple/"' in panel
    assert f'name="next" value="{url}"' in panel
    history = f"/coupling/{mappings['CUSTOMER'].pk}/history/?erp={customer.uuid}"
    assert history in panel
    assert "Set up coupling" not in panel


def test_the_card_panel_of_an_uncoupled_record(mappings) -> None:
    customer = CustomerFactory()
    mapping = mappings["CUSTOMER"]
    panel = _panel(
        _client(INTEGRATION_ADMIN).get(f"/erp/customers/{customer.pk}/").content.decode()
    )
    assert "not coupled" in panel
    assert f'href="/coupling/{mapping.pk}/couple/{customer.uuid}/?next=' in panel
    assert f'action="/coupling/{mapping.pk}/actions/"' in panel and "create_crm" in panel
    assert "Uncouple" not in panel


def test_support_sees_the_panel_without_actions(mappings) -> None:
    customer = CustomerFactory()
    coupling = _couple(customer, conflict=True)
    panel = _panel(_client(SUPPORT).get(f"/erp/customers/{customer.pk}/").content.decode())
    assert "Conflict" in panel and "Synchronization history" in panel
    for action in ("synchronize/", "uncouple/", "resolve/", "Set up coupling", "create_crm"):
        assert action not in panel
    # A salesperson in the same place may resolve the conflict.
    panel = _panel(_client(SALESPERSON).get(f"/erp/customers/{customer.pk}/").content.decode())
    assert f"/coupling/couplings/{coupling.pk}/resolve/?next=" in panel


def test_the_panel_actions_come_back_to_the_card(mappings) -> None:
    customer = CustomerFactory()
    coupling = _couple(customer)
    url = f"/erp/customers/{customer.pk}/"
    client = _client(SALESPERSON)
    response = client.post(f"/coupling/couplings/{coupling.pk}/uncouple/", {"next": url})
    assert response.status_code == 302 and response["Location"] == url
    assert not CrmCoupling.objects.filter(pk=coupling.pk).exists()
    assert "not coupled" in _panel(client.get(url).content.decode())
    # Support may not uncouple, from the card or anywhere.
    again = _couple(customer)
    response = _client(SUPPORT).post(f"/coupling/couplings/{again.pk}/uncouple/", {"next": url})
    assert response.status_code == 403


def test_no_panel_on_a_table_without_a_mapping(db) -> None:
    customer = CustomerFactory()
    html = _client(SALESPERSON).get(f"/erp/customers/{customer.pk}/").content.decode()
    assert "crm-panel" not in html


def test_the_mapping_page_says_more_than_past_the_exact_count_limit(
    ten_customers, monkeypatch
) -> None:
    monkeypatch.setattr(pages, "EXACT_COUNT_LIMIT", 3)
    monkeypatch.setattr(erp_selectors, "EXACT_COUNT_LIMIT", 3)
    erp = pages.erp_page(IntegrationTableMapping.objects.get(name="CUSTOMER"))
    if connection.vendor == "postgresql":
        assert erp.count_kind == "estimate"
    else:
        assert erp.count_kind == "more" and erp.count == 3
    html = _client(SUPPORT).get(
        f"/coupling/{IntegrationTableMapping.objects.get(name='CUSTOMER').pk}/"
    )
    assert "more than 3 records" in html.content.decode() or connection.vendor == "postgresql"
