"""The synchronization page's actions against the live sandbox: "Run full synchronization" and
"Synchronize modified records" are carried out by a real worker; a dry run, done in the
request, writes nothing on either side and shows what it would have written."""

import pytest
from django.test import Client

from accounts import roles
from coupling.models import CrmCoupling
from syncjobs import services
from syncjobs.models import JobRun, RecordChange
from tests.factories.accounts import UserFactory
from tests.factories.erp import CurrencyFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def _admin() -> Client:
    client = Client()
    client.force_login(UserFactory(roles=[roles.INTEGRATION_ADMIN]))
    return client


def _finished_runs(mapping_id: int) -> int:
    return JobRun.objects.filter(mapping_id=mapping_id, finished_at__isnull=False).count()


@pytest.mark.worker
def test_the_page_actions_synchronize_a_currency_in_the_worker(
    sync_setup, celery_worker_process
) -> None:
    mapping = sync_setup.mapping("CURRENCY")
    currency = CurrencyFactory(code="XSY", description="Page currency")
    client = _admin()

    full = client.post(f"/sync/mappings/{mapping.pk}/full/", {"confirm": "yes"})
    assert full.status_code == 302
    celery_worker_process.wait_for(lambda: _finished_runs(mapping.pk) == 1)
    run = JobRun.objects.get(mapping=mapping)
    assert (run.status, run.full, run.inserted) == (JobRun.Status.SUCCEEDED, True, 1), run.message
    coupling = CrmCoupling.objects.get(erp_uuid=currency.uuid)
    assert sync_setup.crm.row("transactioncurrencies", str(coupling.crm_id))["currencyname"] == (
        "Page currency"
    )

    currency.description = "Page currency, renamed"
    currency.save()
    modified = client.post(f"/sync/mappings/{mapping.pk}/synchronize/")
    assert modified.status_code == 302
    celery_worker_process.wait_for(lambda: _finished_runs(mapping.pk) == 2)
    run = JobRun.objects.filter(mapping=mapping).latest("id")
    assert (run.status, run.full, run.kind, run.modified, run.inserted) == (
        JobRun.Status.SUCCEEDED,
        False,
        JobRun.Kind.SYNCHRONIZATION,
        1,
        0,
    ), run.message
    row = sync_setup.crm.row("transactioncurrencies", str(coupling.crm_id))
    assert row["currencyname"] == "Page currency, renamed"
    page = client.get(f"/sync/runs/{run.pk}/").content.decode()
    assert "Page currency, renamed" in page and "currencyname" in page


def test_a_dry_run_writes_nothing_and_lists_the_would_be_insert(sync_setup) -> None:
    mapping = sync_setup.mapping("CURRENCY")
    currency = CurrencyFactory(code="XDY", description="Dry currency")
    before = sync_setup.crm.all_rows("transactioncurrencies")

    response = _admin().post(f"/sync/mappings/{mapping.pk}/dry-run/", {"full": "on"}, follow=True)

    run = JobRun.objects.get(mapping=mapping)
    assert response.redirect_chain == [(f"/sync/runs/{run.pk}/", 302)]
    assert (run.kind, run.status, run.inserted) == (JobRun.Kind.DRY_RUN, "succeeded", 1)
    html = response.content.decode()
    assert "Dry run: nothing was written on either side." in html
    changes = html.split('id="run-changes"')[1]
    assert "Inserted" in changes and "XDY" in changes and "Dry currency" in changes
    assert RecordChange.objects.get(job=run).action == RecordChange.Action.INSERT
    # Nothing written: no CRM row, no coupling, no watermark.
    assert sync_setup.crm.all_rows("transactioncurrencies") == before
    assert not CrmCoupling.objects.filter(erp_uuid=currency.uuid).exists()
    mapping.refresh_from_db()
    assert mapping.erp_watermark_at is None


def test_a_dry_run_shows_why_when_the_crm_does_not_answer(sync_setup, sandbox) -> None:
    mapping = sync_setup.mapping("CURRENCY")
    CurrencyFactory(code="XDZ")
    # Coupled first, so that the dry run of a full synchronization reads its CRM row.
    services.mapping_synchronize(mapping=mapping, full=True)
    rule = {"method": "GET", "path": "transactioncurrencies", "count": -1, "fault": "error"}
    sandbox.control("config", {"rules": [{**rule, "status": 503}]})
    try:
        response = _admin().post(
            f"/sync/mappings/{mapping.pk}/dry-run/", {"full": "on"}, follow=True
        )
    finally:
        sandbox.control("config", {"rules": []})

    run = JobRun.objects.filter(mapping=mapping).latest("id")
    assert response.redirect_chain == [(f"/sync/runs/{run.pk}/", 302)]
    assert (run.kind, run.status) == (JobRun.Kind.DRY_RUN, JobRun.Status.FAILED)
    html = response.content.decode()
    assert "Dry run: nothing was written on either side." in html
    assert "stopped: the CRM did not answer" in html
