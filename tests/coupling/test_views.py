"""The coupling pages against the live sandbox: every action as a salesperson, what support
and salespeople may and may not do, and the CRM side's message when the CRM is unreachable."""

import re
import uuid
from html import unescape

import pytest
from django.test import Client

from accounts.roles import INTEGRATION_ADMIN, SALESPERSON, SUPPORT
from coupling import bulk, pages, services
from coupling.models import BulkAction, CouplingRun
from erp.models import Customer
from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling, JobRun
from tests.factories.accounts import UserFactory
from tests.factories.erp import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def _token() -> str:
    return uuid.uuid4().hex[:8].upper()


def _account(sync_setup, **values) -> uuid.UUID:
    return uuid.UUID(sync_setup.crm.create("accounts", {"customertypecode": 3, **values}))


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=[role]))
    return client


@pytest.fixture
def customers(sync_setup, crm_salesperson):
    return sync_setup.mapping("CUSTOMER")


@pytest.fixture
def sales() -> Client:
    return _client(SALESPERSON)


@pytest.fixture
def support() -> Client:
    return _client(SUPPORT)


def test_index_lists_the_mappings_with_counts_and_dependencies(sync_setup, sales) -> None:
    waiting = CustomerFactory()
    CrmCoupling.objects.create(
        erp_table="erp.customer",
        erp_uuid=waiting.uuid,
        crm_entity="account",
        crm_id=uuid.uuid4(),
        waiting_for="SALESPEOPLE",
    )
    response = sales.get("/coupling/")
    assert response.status_code == 200
    text = response.content.decode()
    for name in ("SALESPEOPLE", "CURRENCY", "CUSTOMER", "CONTACT", "ITEM-PRODUCT"):
        assert name in text
    assert "Couple SALESPEOPLE first" in text and "1 record waits for it" in text


def test_the_mapping_page_shows_both_sides_and_filters(sync_setup, customers, sales) -> None:
    token = _token()
    coupled = CustomerFactory(name=f"Coupled {token}")
    alone = CustomerFactory(name=f"Alone {token}")
    crm_id = _account(sync_setup, name=f"Account {token}")
    CrmCoupling.objects.create(
        erp_table="erp.customer", erp_uuid=coupled.uuid, crm_entity="account", crm_id=crm_id
    )
    url = f"/coupling/{customers.pk}/"
    page = sales.get(url, {"q": token, "crm_q": token}).content.decode()
    assert f"Coupled {token}" in page and f"Alone {token}" in page
    assert f"Account {token}" in page  # the CRM side, read live
    assert f"etn=account&amp;id={crm_id}" in page  # open in the CRM
    rows = sales.get(url, {"q": token, "state": "not_coupled"}).context["erp"].rows
    assert [r.record for r in rows] == [alone]
    rows = sales.get(url, {"q": token, "state": "coupled"}).context["erp"].rows
    assert [r.record for r in rows] == [coupled]


def test_erp_side_pages_with_a_keyset(sync_setup, customers, sales) -> None:
    token = _token()
    for n in range(60):
        CustomerFactory(no=f"K{token}{n:03d}", name=f"Keyset {token} {n}")
    url = f"/coupling/{customers.pk}/"
    first = sales.get(url, {"q": f"Keyset {token}"})
    assert first.context["erp"].has_next and not first.context["erp"].has_previous
    rows = [r.record.no for r in first.context["erp"].rows]
    assert rows == [f"K{token}{n:03d}" for n in range(50)]
    second = sales.get(url, {"q": f"Keyset {token}", "after": first.context["erp"].next_cursor})
    assert [r.record.no for r in second.context["erp"].rows] == [
        f"K{token}{n:03d}" for n in range(50, 60)
    ]
    back = sales.get(url, {"q": f"Keyset {token}", "before": second.context["erp"].previous_cursor})
    assert [r.record.no for r in back.context["erp"].rows] == rows
    last = sales.get(url, {"q": f"Keyset {token}", "last": "1"})
    assert last.context["erp"].rows[-1].record.no == f"K{token}059"


def test_erp_side_sorts_by_a_column_of_the_list_with_a_keyset(
    sync_setup, customers, sales, monkeypatch
) -> None:
    monkeypatch.setattr(pages, "PER_PAGE", 3)
    token = _token()
    cities = ["Oslo", "Bergen", "Aarhus", "Bergen", "Oslo", "Lund", "Bergen"]
    for n, city in enumerate(cities):
        CustomerFactory(no=f"S{token}{n:03d}", name=f"Sorted {token} {n}", city=city)
    expected = [
        c.no for c in Customer.objects.filter(no__startswith=f"S{token}").order_by("-city", "-pk")
    ]
    url = f"/coupling/{customers.pk}/"
    query = {"q": f"Sorted {token}", "sort": "-city"}

    first = sales.get(url, query)
    assert ("-city", "city ↓") in first.context["erp"].sorts
    shown, page = [], first
    while True:
        erp = page.context["erp"]
        shown += [r.record.no for r in erp.rows]
        if not erp.has_next:
            break
        page = sales.get(url, {**query, "after": erp.next_cursor})
    back = sales.get(url, {**query, "before": page.context["erp"].previous_cursor})

    assert shown == expected
    # 7 rows by 3: back from the last page (1 row) is the second page.
    assert [r.record.no for r in back.context["erp"].rows] == expected[3:6]
    # The row shows the value it is sorted by.
    assert 'class="muted small sort-value">Oslo<' in first.content.decode()


def test_the_crm_side_pages_forward_back_and_to_the_first_page(
    sync_setup, customers, sales, monkeypatch
) -> None:
    monkeypatch.setattr(pages, "CRM_PER_PAGE", 3)
    token = _token()
    for n in range(7):
        _account(sync_setup, name=f"Trail {token} {n}")
    url = f"/coupling/{customers.pk}/"

    def names(response) -> list[str]:
        return [r.name for r in response.context["crm"].rows]

    def follow(response, label: str):
        found = re.search(
            rf'aria-label="CRM pages".*?<a href="(\?[^"]*)"[^>]*>{label}</a>',
            response.content.decode(),
            re.S,
        )
        assert found, f"no {label} link"
        return sales.get(url + unescape(found.group(1)))

    first = sales.get(url, {"crm_q": f"Trail {token}"})
    second = follow(first, "Next")
    third = follow(second, "Next")
    back = follow(third, "Previous")
    start = follow(back, "First")

    assert names(first) == [f"Trail {token} {n}" for n in range(3)]
    assert names(second) == [f"Trail {token} {n}" for n in range(3, 6)]
    assert names(third) == [f"Trail {token} 6"]
    assert 'rel="next"' not in third.content.decode().split('aria-label="CRM pages"')[1]
    assert names(back) == names(second)
    assert names(start) == names(first)
    assert 'rel="prev"' not in start.content.decode().split('aria-label="CRM pages"')[1]


def test_the_crm_side_says_when_the_crm_cannot_be_reached(sync_setup, customers, sales) -> None:
    sync_setup.crm.sandbox.control(
        "config",
        {"rules": [{"method": "GET", "path": "/accounts", "count": -1, "fault": "throttle",
                    "retry_after": 1}]},
    )  # fmt: skip
    try:
        page = sales.get(f"/coupling/{customers.pk}/").content.decode()
    finally:
        sync_setup.crm.sandbox.control("config", {"rules": []})
    assert "throttling" in page


def test_crm_search_answers_json(sync_setup, customers, sales) -> None:
    token = _token()
    crm_id = _account(sync_setup, name=f"Searchable {token}")
    response = sales.get(f"/coupling/{customers.pk}/crm-search/", {"q": f"Searchable {token}"})
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == str(crm_id)


def test_couple_with_preview_then_take_the_crm_data(sync_setup, customers, sales) -> None:
    token = _token()
    customer = CustomerFactory(name=f"ERP {token}", salesperson=None)
    crm_id = _account(sync_setup, name=f"CRM {token}")
    url = f"/coupling/{customers.pk}/couple/{customer.uuid}/"
    preview = sales.get(url, {"crm": str(crm_id)}).content.decode()
    assert f"ERP becomes “CRM {token}”" in preview
    response = sales.post(url, {"crm_id": str(crm_id), "after": "crm"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == f"CRM {token}"
    assert CrmCoupling.objects.get(erp_uuid=customer.uuid).crm_id == crm_id


def test_create_in_crm_uncouple_and_create_in_erp(sync_setup, customers, sales) -> None:
    token = _token()
    customer = CustomerFactory(name=f"New {token}", salesperson=None)
    url = f"/coupling/{customers.pk}/actions/"
    sales.post(url, {"action": "create_crm", "erp": str(customer.uuid)})
    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    assert sync_setup.crm.row("accounts", str(coupling.crm_id))["name"] == f"New {token}"
    sales.post(f"/coupling/couplings/{coupling.pk}/uncouple/")
    assert not CrmCoupling.objects.filter(pk=coupling.pk).exists()
    crm_id = _account(sync_setup, name=f"From CRM {token}")
    sales.post(url, {"action": "create_erp", "crm": str(crm_id)})
    assert CrmCoupling.objects.filter(crm_id=crm_id).exists()


def test_synchronize_asks_for_the_direction_when_both_changed(sync_setup, customers, sales):
    token = _token()
    customer = CustomerFactory(name=f"Both {token}", salesperson=None)
    crm_id = _account(sync_setup, name=f"Both {token}")
    result = services.couple(mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="erp")
    customer.name = f"ERP {token}"
    customer.save()
    sync_setup.crm.patch(f"accounts({crm_id})", json={"name": f"CRM {token}"})
    url = f"/coupling/couplings/{result.coupling.pk}/synchronize/"
    asked = sales.post(url)
    assert asked.status_code == 200 and "will be lost" in asked.content.decode()
    sales.post(url, {"direction": "to_crm"})
    assert sync_setup.crm.row("accounts", str(crm_id))["name"] == f"ERP {token}"


def test_bulk_actions_run_in_the_background(sync_setup, customers, sales) -> None:
    token = _token()
    records = [CustomerFactory(name=f"Bulk {token} {n}", salesperson=None) for n in range(2)]
    response = sales.post(
        f"/coupling/{customers.pk}/actions/",
        {"action": "create_crm", "erp": [str(r.uuid) for r in records]},
    )
    action = BulkAction.objects.get()
    assert response.url == f"/coupling/actions/{action.pk}/"
    bulk.bulk_run(action_id=action.pk)
    status = sales.get(f"/coupling/actions/{action.pk}/status/").json()
    assert (status["finished"], status["done"], status["succeeded"]) == (True, 2, 2), status
    assert CrmCoupling.objects.filter(erp_uuid__in=[r.uuid for r in records]).count() == 2


def test_match_page_queues_a_run_and_shows_candidates(sync_setup, customers, sales) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Twice {token}", city="Ogden", salesperson=None)
    ids = [_account(sync_setup, name=f"Twice {token}", address1_city="Ogden") for _ in range(2)]
    response = sales.post(
        f"/coupling/{customers.pk}/match/?erp={customer.uuid}",
        {"erp": str(customer.uuid), "use-name|name": "1", "priority-name|name": "1",
         "use-city|address1_city": "1", "priority-city|address1_city": "1"},
    )  # fmt: skip
    run = CouplingRun.objects.get()
    assert response.url == f"/coupling/match-runs/{run.pk}/"
    services.match_couple_run(run_id=run.pk)
    page = sales.get(response.url).content.decode()
    assert "Several matches" in page and str(ids[0]) in page
    candidate = run.candidates.get()
    sales.post(f"/coupling/candidates/{candidate.pk}/couple/", {"crm_id": str(ids[1])})
    assert CrmCoupling.objects.get(erp_uuid=customer.uuid).crm_id == ids[1]


def test_resolve_a_real_conflict_per_field(sync_setup, customers, sales) -> None:
    """Both sides change after a synchronization, the engine finds the conflict, and a
    salesperson keeps the ERP's name and takes the CRM's phone on the resolve page."""
    token = _token()
    customer = CustomerFactory(name=f"Conflict {token}", phone="+1 555 0100", salesperson=None)
    crm_id = _account(sync_setup, name=f"Conflict {token}", telephone1="+1 555 0100")
    services.couple(mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="erp")
    synchronize(customers)  # in step; the from-CRM pass learns the row's version
    customer.name, customer.phone = f"ERP name {token}", "+1 555 0101"
    customer.save()
    response = sync_setup.crm.patch(
        f"accounts({crm_id})", json={"name": f"CRM name {token}", "telephone1": "+1 555 0102"}
    )
    assert response.status_code == 204, response.text
    synchronize(customers)
    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    assert coupling.conflict
    keys = {f["erp_field"]: f["key"] for f in coupling.conflict_fields}
    assert set(keys) == {"name", "phone"}

    url = f"/coupling/couplings/{coupling.pk}/resolve/"
    page = sales.get(url).content.decode()
    assert f"CRM name {token}" in page and "+1 555 0102" in page and f"ERP name {token}" in page
    sales.post(url, {f"field-{keys['name']}": "erp", f"field-{keys['phone']}": "crm"})

    coupling.refresh_from_db()
    customer.refresh_from_db()
    row = sync_setup.crm.row("accounts", str(crm_id))
    assert not coupling.conflict
    assert (customer.name, customer.phone) == (f"ERP name {token}", "+1 555 0102")
    assert (row["name"], row["telephone1"]) == (f"ERP name {token}", "+1 555 0102")
    states = sales.get(f"/coupling/{customers.pk}/", {"q": token, "state": "conflict"})
    assert states.context["erp"].rows == []


def test_errors_page_lists_and_retries(sync_setup, customers, support) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Failing {token}", salesperson=None)
    crm_id = _account(sync_setup, name=f"Failing {token}")
    coupling = CrmCoupling.objects.create(
        erp_table="erp.customer", erp_uuid=customer.uuid, crm_entity="account", crm_id=crm_id,
        skipped=True, last_result_to_crm="failure", last_error=f"Broken {token}",
    )  # fmt: skip
    page = support.get("/coupling/errors/", {"state": "skipped"}).content.decode()
    assert f"Broken {token}" in page and f"Failing {token}" in page
    response = support.post("/coupling/errors/retry/", {"coupling": [coupling.pk]})
    assert response.status_code == 302
    coupling.refresh_from_db()
    assert not coupling.skipped
    assert JobRun.objects.filter(mapping=customers).exists()


def test_history_lists_the_records_changes(sync_setup, customers, support) -> None:
    token = _token()
    customer = CustomerFactory(name=f"History {token}", salesperson=None)
    crm_id = _account(sync_setup, name=f"Other {token}")
    services.couple(mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="erp")
    page = support.get(f"/coupling/{customers.pk}/history/", {"erp": str(customer.uuid)})
    text = page.content.decode()
    assert "Coupled" in text and f"Other {token}" in text


@pytest.mark.parametrize(
    ("role", "read", "couple", "retry"),
    [
        (SUPPORT, 200, 403, 302),
        (SALESPERSON, 200, 302, 302),
        (INTEGRATION_ADMIN, 200, 302, 302),
    ],
)
def test_permissions_per_role(sync_setup, customers, role, read, couple, retry) -> None:
    client = _client(role)
    customer = CustomerFactory(salesperson=None)
    coupling = CrmCoupling.objects.create(
        erp_table="erp.customer", erp_uuid=customer.uuid, crm_entity="account",
        crm_id=uuid.uuid4(), skipped=True,
    )  # fmt: skip
    assert client.get("/coupling/").status_code == read
    assert client.get(f"/coupling/{customers.pk}/").status_code == read
    assert client.get("/coupling/errors/").status_code == read
    assert client.get(f"/coupling/{customers.pk}/history/").status_code == read
    assert client.post(f"/coupling/couplings/{coupling.pk}/uncouple/").status_code == couple
    assert client.post("/coupling/errors/retry/", {"coupling": [0]}).status_code == retry
    for path in (
        f"/coupling/{customers.pk}/couple/{customer.uuid}/",
        f"/coupling/{customers.pk}/match/",
    ):
        assert client.get(path).status_code == (403 if couple == 403 else 200)


def test_nobody_without_a_role_gets_in(sync_setup) -> None:
    client = Client()
    client.force_login(UserFactory())
    assert client.get("/coupling/").status_code == 403
