"""The job runs on the synchronization page and each run's page (errors, field changes), the
synchronization actions of administrators, and a record's history for the coupling pages."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import roles
from connection.models import CrmConnection
from syncjobs import jobqueue, selectors, services
from syncjobs.defaults import ALL_AREAS
from syncjobs.models import IntegrationTableMapping, JobRun
from tests.factories.accounts import UserFactory
from tests.factories.syncjobs import (
    JobRunFactory,
    MappingFactory,
    RecordChangeFactory,
    SyncErrorFactory,
)

pytestmark = pytest.mark.django_db


def _client(*role_names: str) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=list(role_names)))
    return client


def _connection(enabled: bool = True) -> CrmConnection:
    return CrmConnection.objects.create(
        pk=1,
        environment_url="https://x.crm.dynamics.com",
        token_url="https://l.example/t",
        client_id="c",
        is_enabled=enabled,
        sync_areas=ALL_AREAS,
    )


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """The mapping jobs sent to the broker, as (mapping id, full)."""
    calls: list[tuple[int, bool]] = []
    monkeypatch.setattr(
        jobqueue,
        "_entry_send",
        lambda entry_id, mapping_id, full, countdown: calls.append((mapping_id, full)),
    )
    return calls


def _runs_table(html: str) -> str:
    return html.split('id="runs"')[1].split("</table>")[0]


def test_the_runs_table_shows_direction_kind_counters_and_links_to_the_run() -> None:
    mapping = MappingFactory(name="CURRENCY")
    started = timezone.now() - timedelta(seconds=5)
    run = JobRunFactory(
        mapping=mapping,
        direction="from_crm",
        kind=JobRun.Kind.DRY_RUN,
        full=True,
        finished_at=started + timedelta(seconds=3),
        inserted=11,
        modified=12,
        deleted=13,
        unchanged=14,
        skipped=15,
        failed=16,
        coupled=17,
        uncoupled=18,
        conflicts=19,
        message="dry run, nothing written: 11 inserted",
    )
    JobRun.objects.filter(pk=run.pk).update(started_at=started)

    html = _client(roles.SUPPORT).get("/sync/").content.decode()
    table = _runs_table(html)

    assert "full synchronization engine is not installed" not in html
    assert "CRM → ERP" in table and "Dry run" in table and "Yes" in table
    assert "3.0 s" in table
    for n in range(11, 20):
        assert f'<td class="num">{n}</td>' in table
    assert "dry run, nothing written: 11 inserted" in table
    assert f'href="/sync/runs/{run.pk}/"' in table


def test_the_runs_are_filtered_by_mapping_and_status() -> None:
    currency, customer = MappingFactory(name="CURRENCY"), MappingFactory(name="CUSTOMER")
    ok = JobRunFactory(mapping=currency, status=JobRun.Status.SUCCEEDED)
    failed = JobRunFactory(mapping=currency, status=JobRun.Status.FAILED)
    other = JobRunFactory(mapping=customer, status=JobRun.Status.FAILED)
    client = _client(roles.SUPPORT)

    def shown(**params: str) -> set[int]:
        table = _runs_table(client.get("/sync/", params).content.decode())
        return {r.pk for r in (ok, failed, other) if f'data-run="{r.pk}"' in table}

    assert shown() == {ok.pk, failed.pk, other.pk}
    assert shown(mapping=str(currency.pk)) == {ok.pk, failed.pk}
    assert shown(status="failed") == {failed.pk, other.pk}
    assert shown(mapping=str(currency.pk), status="failed") == {failed.pk}
    # Nonsense filters are ignored rather than failing the page.
    assert shown(mapping="x", status="nope") == {ok.pk, failed.pk, other.pk}
    empty = client.get("/sync/", {"mapping": customer.pk, "status": "running"}).content.decode()
    assert "No job run matches these filters." in empty


def test_the_runs_are_paginated_on_the_server_keeping_the_filters() -> None:
    mapping = MappingFactory(name="CURRENCY")
    JobRunFactory.create_batch(30, mapping=mapping, status=JobRun.Status.FAILED)
    JobRunFactory(mapping=MappingFactory(name="OTHER"), status=JobRun.Status.FAILED)
    client = _client(roles.INTEGRATION_ADMIN)

    first = client.get("/sync/", {"mapping": mapping.pk, "status": "failed"})
    second = client.get("/sync/", {"mapping": mapping.pk, "status": "failed", "page": "2"})

    assert len(first.context["runs"].object_list) == 25
    assert len(second.context["runs"].object_list) == 5
    html = first.content.decode()
    assert "30 runs · showing 1–25" in html
    assert f"?mapping={mapping.pk}&amp;status=failed&amp;page=2#job-runs" in html
    newest = JobRun.objects.filter(mapping=mapping).order_by("-started_at", "-id")
    assert [r.pk for r in first.context["runs"]] == [r.pk for r in newest[:25]]


def test_the_run_page_shows_counters_errors_and_field_changes() -> None:
    run = JobRunFactory(
        mapping=MappingFactory(name="CUSTOMER"),
        status=JobRun.Status.FAILED,
        inserted=1,
        failed=1,
        message="1 inserted, 1 failed",
    )
    SyncErrorFactory(
        job=run,
        source="customer C000042 Fabrikam",
        destination="account (new)",
        message="The credit limit is too large.",
        detail="Traceback: the CRM said 0x80040203",
    )
    RecordChangeFactory(
        job=run,
        action="modify",
        record="C000007 Contoso",
        fields=[
            {"erp_field": "name", "crm_field": "name", "old": "Contoso", "new": "Contoso Ltd"},
            {"erp_field": "credit_limit", "crm_field": "creditlimit", "old": None, "new": 500},
        ],
    )

    response = _client(roles.SUPPORT).get(f"/sync/runs/{run.pk}/")
    html = response.content.decode()

    assert response.status_code == 200
    assert "Dry run" not in html
    assert 'id="run-message">1 inserted, 1 failed' in html
    errors = html.split('id="run-errors"')[1].split("</table>")[0]
    assert "customer C000042 Fabrikam" in errors and "account (new)" in errors
    assert "The credit limit is too large." in errors
    assert "<details" in errors and "Traceback: the CRM said 0x80040203" in errors
    changes = html.split('id="run-changes"')[1].split("</table></td>")[0]
    assert "Modified" in changes and "C000007 Contoso" in changes
    assert "name · name" in changes and ">Contoso<" in changes and ">Contoso Ltd<" in changes
    assert "credit_limit · creditlimit" in changes
    assert '<td class="old-value">—</td><td class="new-value">500</td>' in changes


def test_a_dry_run_page_says_nothing_was_written() -> None:
    run = JobRunFactory(kind=JobRun.Kind.DRY_RUN, inserted=1)
    RecordChangeFactory(job=run, action="insert", record="XAA Quatloo")

    html = _client(roles.INTEGRATION_ADMIN).get(f"/sync/runs/{run.pk}/").content.decode()

    assert "Dry run: nothing was written on either side." in html
    assert "Changes a synchronization would make" in html and "XAA Quatloo" in html


def test_the_errors_and_changes_of_a_run_are_paginated_by_50() -> None:
    run = JobRunFactory()
    SyncErrorFactory.create_batch(55, job=run)
    RecordChangeFactory.create_batch(120, job=run)
    client = _client(roles.SUPPORT)

    first = client.get(f"/sync/runs/{run.pk}/")
    later = client.get(f"/sync/runs/{run.pk}/", {"errors_page": "2", "changes_page": "3"})

    assert len(first.context["errors"].object_list) == 50
    assert len(first.context["changes"].object_list) == 50
    assert len(later.context["errors"].object_list) == 5
    assert len(later.context["changes"].object_list) == 20
    html = later.content.decode()
    # Each list pages on its own: a link of one keeps the other's page.
    assert "?errors_page=1&amp;changes_page=3#errors" in html
    assert "?errors_page=2&amp;changes_page=2#changes" in html


@pytest.mark.parametrize(
    "role, status", [(roles.INTEGRATION_ADMIN, 200), (roles.SUPPORT, 200), (roles.SALESPERSON, 403)]
)
def test_who_sees_a_run(role: str, status: int) -> None:
    run = JobRunFactory()
    assert _client(role).get(f"/sync/runs/{run.pk}/").status_code == status


def test_a_missing_run_is_404() -> None:
    assert _client(roles.SUPPORT).get("/sync/runs/999999/").status_code == 404


@pytest.mark.parametrize("role", [roles.SUPPORT, roles.SALESPERSON])
def test_only_administrators_synchronize(role: str, sent: list[tuple[int, bool]]) -> None:
    _connection()
    mapping = MappingFactory(name="CURRENCY")
    client = _client(role)

    for path in ("synchronize/", "full/", "dry-run/"):
        assert (
            client.post(f"/sync/mappings/{mapping.pk}/{path}", {"confirm": "yes"}).status_code
            == 403
        )
    assert client.post("/sync/synchronize/").status_code == 403
    page = client.get(f"/sync/mappings/{mapping.pk}/")
    if page.status_code == 200:
        assert 'id="sync-actions"' not in page.content.decode()
        assert 'id="synchronize-all"' not in client.get("/sync/").content.decode()
    assert sent == [] and not JobRun.objects.exists()


def test_the_actions_need_a_post_with_csrf(sent: list[tuple[int, bool]]) -> None:
    _connection()
    mapping = MappingFactory(name="CURRENCY")
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(roles=[roles.INTEGRATION_ADMIN]))

    assert client.get(f"/sync/mappings/{mapping.pk}/synchronize/").status_code == 405
    assert client.get("/sync/synchronize/").status_code == 405
    assert client.post(f"/sync/mappings/{mapping.pk}/synchronize/").status_code == 403
    assert client.post(f"/sync/mappings/{mapping.pk}/dry-run/").status_code == 403
    assert sent == []


def test_synchronize_modified_records_enqueues_after_commit_and_says_so(
    sent: list[tuple[int, bool]], django_capture_on_commit_callbacks
) -> None:
    _connection()
    mapping = MappingFactory(name="CURRENCY")
    client = _client(roles.INTEGRATION_ADMIN)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(f"/sync/mappings/{mapping.pk}/synchronize/")
    assert sent == [] and len(callbacks) == 1  # nothing is sent before the commit
    callbacks[0]()

    assert response.status_code == 302 and response.url == f"/sync/mappings/{mapping.pk}/"
    assert sent == [(mapping.pk, False)]
    page = client.get(response.url).content.decode()
    assert "Synchronization of the modified records of CURRENCY is scheduled." in page


def test_full_synchronization_asks_first_then_enqueues_a_full_run(
    sent: list[tuple[int, bool]], django_capture_on_commit_callbacks
) -> None:
    _connection()
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=ALL_AREAS))
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    client = _client(roles.INTEGRATION_ADMIN)

    confirm = client.get(f"/sync/mappings/{customer.pk}/full/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        unconfirmed = client.post(f"/sync/mappings/{customer.pk}/full/")
    assert sent == [] and unconfirmed.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/sync/mappings/{customer.pk}/full/", {"confirm": "yes"})

    assert "every record is read" in confirm
    assert "ERP records that are not coupled yet are created in the CRM" in confirm
    assert "CRM rows that are not coupled yet are created in the ERP" in confirm
    assert response.status_code == 302
    assert sent == [(customer.pk, True)]


def test_synchronize_all_enqueues_every_enabled_mapping_in_priority_order(
    sent: list[tuple[int, bool]], django_capture_on_commit_callbacks
) -> None:
    _connection()
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=ALL_AREAS))
    IntegrationTableMapping.objects.filter(name="ITEM-PRODUCT").update(enabled=False)
    client = _client(roles.INTEGRATION_ADMIN)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/sync/synchronize/")

    expected = IntegrationTableMapping.objects.filter(enabled=True).order_by("priority", "name")
    assert [pk for pk, _full in sent] == [m.pk for m in expected]
    names = [m.name for m in expected]
    assert names[:2] == ["SALESPEOPLE", "CURRENCY"] and "ITEM-PRODUCT" not in names
    assert response.status_code == 302 and response.url == "/sync/"
    page = client.get("/sync/").content.decode()
    assert f"scheduled for {len(names)} mappings" in page


def test_nothing_is_enqueued_while_the_integration_is_disabled(
    sent: list[tuple[int, bool]], django_capture_on_commit_callbacks
) -> None:
    _connection(enabled=False)
    mapping = MappingFactory(name="CURRENCY")
    client = _client(roles.INTEGRATION_ADMIN)

    with django_capture_on_commit_callbacks(execute=True):
        one = client.post(f"/sync/mappings/{mapping.pk}/synchronize/", follow=True)
        every = client.post("/sync/synchronize/", follow=True)
    with pytest.raises(services.IntegrationDisabled):
        services.mapping_synchronize_enqueue(mapping=mapping, full=True)

    assert sent == []
    for response in (one, every):
        assert "The integration is disabled" in response.content.decode()


def test_a_dry_run_without_a_connection_shows_why_on_its_page() -> None:
    mapping = MappingFactory(name="CURRENCY")

    response = _client(roles.INTEGRATION_ADMIN).post(
        f"/sync/mappings/{mapping.pk}/dry-run/", follow=True
    )

    run = JobRun.objects.get()
    assert response.redirect_chain == [(f"/sync/runs/{run.pk}/", 302)]
    assert (run.kind, run.status) == (JobRun.Kind.DRY_RUN, JobRun.Status.SKIPPED)
    html = response.content.decode()
    assert "Dry run: nothing was written on either side." in html
    assert "No CRM connection is set up." in html


def test_record_history_lists_changes_and_errors_of_one_record_newest_first() -> None:
    erp_uuid, crm_id = uuid.uuid4(), uuid.uuid4()
    first = JobRunFactory()
    second = JobRunFactory()
    inserted = RecordChangeFactory(
        job=first, action="insert", erp_table="erp.customer", erp_uuid=erp_uuid
    )
    failed = SyncErrorFactory(job=second, erp_table="", crm_entity="account", crm_id=crm_id)
    modified = RecordChangeFactory(
        job=second, erp_table="erp.customer", erp_uuid=erp_uuid, crm_id=crm_id
    )
    RecordChangeFactory(job=second, erp_table="erp.customer", erp_uuid=uuid.uuid4())
    SyncErrorFactory(job=second, erp_table="erp.customer", erp_uuid=uuid.uuid4())
    now = timezone.now()
    for age, row in ((30, inserted), (20, failed), (10, modified)):
        type(row).objects.filter(pk=row.pk).update(created_at=now - timedelta(seconds=age))

    both = selectors.record_history(
        erp_table="erp.Customer", erp_uuid=erp_uuid, crm_entity="account", crm_id=crm_id
    )
    erp_only = selectors.record_history(erp_table="erp.customer", erp_uuid=erp_uuid)
    crm_only = selectors.record_history(erp_table="", crm_entity="account", crm_id=crm_id)

    assert [(type(r).__name__, r.pk) for r in both] == [
        ("RecordChange", modified.pk),
        ("SyncError", failed.pk),
        ("RecordChange", inserted.pk),
    ]
    assert [r.pk for r in erp_only] == [modified.pk, inserted.pk]
    assert [r.pk for r in crm_only] == [modified.pk, failed.pk]
    assert both[0].job == second and both[2].job == first
    assert selectors.record_history(erp_table="erp.customer") == []


def test_the_run_pages_speak_spanish() -> None:
    run = JobRunFactory(kind=JobRun.Kind.DRY_RUN, direction="to_crm", inserted=1)
    RecordChangeFactory(job=run, action="insert")
    client = _client(roles.INTEGRATION_ADMIN)
    client.post("/i18n/setlang/", {"language": "es", "next": "/"})

    page = client.get(f"/sync/runs/{run.pk}/").content.decode()
    listing = client.get("/sync/").content.decode()
    edit = client.get(f"/sync/mappings/{run.mapping.pk}/").content.decode()
    confirm = client.get(f"/sync/mappings/{run.mapping.pk}/full/").content.decode()

    assert "Simulación: no se escribió nada en ninguno de los dos lados." in page
    assert "Valor anterior" in page and "Old value" not in page
    assert "1 ejecución · mostrando 1–1" in listing and "Duración" in listing
    assert "Sincronizar registros modificados" in edit and "Simulación" in edit
    assert "se lee cada registro" in confirm
