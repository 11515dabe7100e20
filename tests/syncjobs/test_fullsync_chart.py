"""Records per second over a full synchronization: samples written as the engine saves its
counters, the review page's chart (inline SVG drawn on the server) and the REST API's samples;
overriding a "couple records first" recommendation."""

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts import roles
from syncjobs import fullsync, fullsync_advice, fullsync_samples, services
from syncjobs.models import FullSyncLine, FullSyncRun, FullSyncSample, Recommendation
from tests.factories.accounts import UserFactory
from tests.factories.erp import CurrencyFactory, CustomerFactory

Status = FullSyncLine.Status


@pytest.fixture
def finished_run(sync_setup, crm_salesperson, settings, monkeypatch):
    """CURRENCY and CUSTOMER synchronized in full against the sandbox, the lines run here one
    after the other (no worker: the tasks are not sent), every engine save sampled."""
    settings.FULLSYNC_SAMPLE_SECONDS = 0
    settings.SYNC_CHUNK_SIZE = 2
    monkeypatch.setattr(fullsync, "_line_send", lambda line_id: None)
    CurrencyFactory(code="XCH")
    CustomerFactory.create_batch(5, salesperson=crm_salesperson)
    run = fullsync.fullsync_start(run=fullsync.fullsync_prepare(only=["CURRENCY", "CUSTOMER"]))
    for name in ("CURRENCY", "CUSTOMER"):
        fullsync.line_run(line_id=run.lines.get(name=name).pk)
    run.refresh_from_db()
    assert run.status == FullSyncRun.Status.FINISHED, list(run.lines.values("name", "message"))
    return run


@pytest.mark.sandbox
@pytest.mark.django_db
def test_the_review_page_charts_records_per_second_after_a_run(finished_run, client: Client):
    samples = list(FullSyncSample.objects.filter(run=finished_run).order_by("at"))
    # The engine saved its counters several times (chunks of 2): several samples, rising.
    assert len(samples) >= 3
    assert [s.done for s in samples] == sorted(s.done for s in samples)
    client.force_login(UserFactory(roles=[roles.SUPPORT]))

    html = client.get("/sync/full/").content.decode()

    chart = re.search(r'<svg class="rate-chart".*?</svg>', html, re.S)
    assert chart is not None
    points = re.findall(r'<circle class="chart-point" cx="([\d.]+)" cy="([\d.]+)"', chart.group())
    # The start, the samples, the end.
    assert len(points) >= len(samples) + 1
    assert "records/s" in chart.group()
    done = fullsync.fullsync_status(run=finished_run)["done"]
    assert f"{done} done" in chart.group()
    # The poller gets the same chart, drawn on the server.
    data = client.get("/sync/full/status.json").json()
    assert 'class="rate-chart"' in data["chart_html"]


@pytest.mark.sandbox
@pytest.mark.django_db
def test_the_rest_api_gives_the_samples(finished_run):
    api = APIClient()
    api.force_login(UserFactory(roles=[roles.SUPPORT]))

    data = api.get("/api/integration/full-sync/").json()

    samples = data["samples"]
    assert samples[0]["done"] == 0 and samples[-1]["done"] == data["done"] > 0
    assert all(s["rate"] >= 0 for s in samples) and any(s["rate"] > 0 for s in samples)
    schema = api.get("/api/schema/", {"format": "json"}).json()
    assert "FullSyncSample" in schema["components"]["schemas"]


def test_samples_are_not_written_more_often_than_the_interval(db, settings):
    settings.FULLSYNC_SAMPLE_SECONDS = 3600
    run = FullSyncRun.objects.create(status=FullSyncRun.Status.RUNNING)
    assert fullsync_samples.sample_record(run_id=run.pk, done=5)
    assert not fullsync_samples.sample_record(run_id=run.pk, done=9)
    assert list(run.samples.values_list("done", flat=True)) == [5]


def test_a_run_not_started_has_no_chart(db, client: Client):
    FullSyncRun.objects.create(status=FullSyncRun.Status.READY)
    client.force_login(UserFactory(roles=[roles.SUPPORT]))
    html = client.get("/sync/full/").content.decode()
    assert 'class="rate-chart"' not in html
    assert "appears once the run has started" in html


@pytest.fixture
def couple_line(db):
    services.default_setup_reset(
        options=services.DefaultSetupOptions(areas=["currencies", "customers"])
    )
    run = fullsync.fullsync_prepare(only=["CURRENCY", "CUSTOMER"])
    line = run.lines.get(name="CUSTOMER")
    FullSyncLine.objects.filter(pk=line.pk).update(
        recommendation=Recommendation.COUPLE, erp_count=3, crm_count=2
    )
    return run, line


def test_overriding_the_couple_advice_asks_first_then_recommends_a_full_sync(
    couple_line, client: Client
):
    run, line = couple_line
    client.force_login(UserFactory(roles=[roles.INTEGRATION_ADMIN]))
    page = client.get("/sync/full/").content.decode()
    assert f"/sync/full/lines/{line.pk}/override/" in page

    confirm = client.get(f"/sync/full/lines/{line.pk}/override/").content.decode()
    assert "duplicate" in confirm and "3 ERP records and 2 CRM rows" in confirm
    line.refresh_from_db()
    assert line.recommendation == Recommendation.COUPLE  # nothing changed by looking

    response = client.post(f"/sync/full/lines/{line.pk}/override/", {"confirm": "yes"})

    assert response.status_code == 302
    line.refresh_from_db()
    assert (line.recommendation, line.recommendation_overridden) == (
        Recommendation.FULL_SYNC,
        True,
    )
    page = client.get("/sync/full/").content.decode()
    assert "overridden: full synchronization" in page
    assert "Start runs it" in page


def test_overriding_a_finished_line_runs_it_again(couple_line, monkeypatch):
    monkeypatch.setattr(fullsync, "_line_send", lambda line_id: None)
    run, line = couple_line
    fullsync.fullsync_start(run=run)
    FullSyncLine.objects.filter(run=run).update(status=Status.FINISHED)
    fullsync.run_advance(run_id=run.pk)

    assert fullsync_advice.line_override(line=line) is True
    line.refresh_from_db()
    assert line.status == Status.READY
    run.refresh_from_db()
    assert run.status == FullSyncRun.Status.RUNNING


def test_support_cannot_override(couple_line, client: Client):
    _run, line = couple_line
    client.force_login(UserFactory(roles=[roles.SUPPORT]))
    assert (
        client.post(f"/sync/full/lines/{line.pk}/override/", {"confirm": "yes"}).status_code == 403
    )
