"""Accepting a full synchronization line's "couple records first" recommendation in one click:
match-based coupling of the line's mapping with its default match settings, run in the
background, against the live sandbox; the review line follows the run and then recommends the
full synchronization."""

import uuid

import pytest
from django.test import Client

from accounts import roles
from coupling import services
from coupling.models import CouplingRun
from syncjobs import fullsync
from syncjobs.models import CrmCoupling, FullSyncLine, JobRun, Recommendation
from tests.factories.accounts import UserFactory
from tests.factories.erp import CustomerFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


@pytest.fixture
def both_sides(sync_setup, crm_salesperson, monkeypatch):
    """Two customers, one of them in the CRM too (same number): CUSTOMER says couple first."""
    monkeypatch.setattr(services, "_match_send", lambda run_id: None)  # the test runs it
    t = uuid.uuid4().hex[:6].upper()
    matched = CustomerFactory(no=f"FA{t}", name=f"Accept {t}", salesperson=crm_salesperson)
    CustomerFactory(name=f"Only ERP {t}", city="Nowhere", salesperson=crm_salesperson)
    account = uuid.UUID(
        sync_setup.crm.create(
            "accounts", {"name": f"CRM side {t}", "accountnumber": f"FA{t}", "customertypecode": 3}
        )
    )
    run = fullsync.fullsync_prepare(only=["CUSTOMER"])
    line = run.lines.get(name="CUSTOMER")
    assert line.recommendation == Recommendation.COUPLE
    return line, matched, account


def test_one_click_couples_by_match_then_recommends_the_full_synchronization(
    both_sides, client: Client
):
    line, matched, account = both_sides
    client.force_login(UserFactory(roles=[roles.INTEGRATION_ADMIN]))
    page = client.get("/sync/full/").content.decode()
    assert f"/coupling/full-sync-lines/{line.pk}/couple/" in page

    response = client.post(f"/coupling/full-sync-lines/{line.pk}/couple/", follow=True)

    assert "Match-based coupling of CUSTOMER is scheduled" in response.content.decode()
    run = CouplingRun.objects.get()
    line.refresh_from_db()
    assert line.coupling_job == run.job and run.job.status == JobRun.Status.RUNNING
    # Queued: the line shows the run, offers no second one.
    status = client.get("/sync/full/status.json").json()
    cell = status["lines"][0]["recommendation_html"]
    assert "Coupling by match:" in cell and "Couple by match now" not in cell

    services.match_couple_run(run_id=run.pk)  # what the worker does

    run.refresh_from_db()
    assert run.status == CouplingRun.Status.SUCCEEDED, run.message
    assert CrmCoupling.objects.get(erp_uuid=matched.uuid).crm_id == account
    line.refresh_from_db()
    assert line.recommendation == Recommendation.FULL_SYNC
    cell = client.get("/sync/full/status.json").json()["lines"][0]["recommendation_html"]
    assert "Succeeded" in cell and "1 coupled" in cell
    assert "start the full synchronization" in cell and "/sync/full/start/" in cell


def test_a_line_that_is_running_or_not_advised_to_couple_is_refused(both_sides, client: Client):
    line, _matched, _account = both_sides
    client.force_login(UserFactory(roles=[roles.INTEGRATION_ADMIN]))
    FullSyncLine.objects.filter(pk=line.pk).update(status=FullSyncLine.Status.IN_PROCESS)
    response = client.post(f"/coupling/full-sync-lines/{line.pk}/couple/", follow=True)
    assert "is being synchronized; wait" in response.content.decode()
    FullSyncLine.objects.filter(pk=line.pk).update(
        status="", recommendation=Recommendation.FULL_SYNC
    )
    response = client.post(f"/coupling/full-sync-lines/{line.pk}/couple/", follow=True)
    assert "is not recommended to couple records first" in response.content.decode()
    assert not CouplingRun.objects.exists()


def test_only_integration_administrators_accept(both_sides, client: Client):
    line, _matched, _account = both_sides
    client.force_login(UserFactory(roles=[roles.SUPPORT]))
    assert client.post(f"/coupling/full-sync-lines/{line.pk}/couple/").status_code == 403
    assert "/couple/" not in client.get("/sync/full/").content.decode()
