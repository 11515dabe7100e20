"""The review page follows a full synchronization without being reloaded: its poller
(static/js/fullsync.js, allowed by the CSP) reads the JSON status every 2 s."""

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from syncjobs import fullsync, services
from syncjobs.models import Direction, FullSyncLine, JobRun
from tests.factories.accounts import IntegrationAdminFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_review_line_goes_from_ready_to_in_process_to_finished_without_reloading(
    browser, live_server, monkeypatch
):
    monkeypatch.setattr(fullsync, "_line_send", lambda line_id: None)  # no worker here
    services.default_setup_reset(
        options=services.DefaultSetupOptions(areas=["currencies", "customers"])
    )
    run = fullsync.fullsync_start(run=fullsync.fullsync_prepare(only=["CURRENCY", "CUSTOMER"]))
    line = run.lines.get(name="CURRENCY")
    client = Client()
    client.force_login(IntegrationAdminFactory())
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto("/sync/full/")
    status = page.locator('tr[data-name="CURRENCY"] [data-field="status"]')
    expect(status).to_contain_text("Ready")
    marker = page.evaluate("() => (window.__kept = 1)")

    started = timezone.now()
    FullSyncLine.objects.filter(pk=line.pk).update(
        status=FullSyncLine.Status.IN_PROCESS, started_at=started, erp_count=4
    )
    job = JobRun.objects.create(
        job_name="CURRENCY",
        mapping=line.mapping,
        kind=JobRun.Kind.SYNCHRONIZATION,
        direction=Direction.TO_CRM,
        full=True,
        inserted=2,
    )
    expect(status).to_contain_text("In process", timeout=8000)
    progress = page.locator('tr[data-name="CURRENCY"] [data-field="progress"]')
    expect(progress).to_contain_text("2 / 4")
    # The chart of records per second is drawn again with each poll (SVG from the server).
    chart = page.locator("#fullsync-chart svg.rate-chart")
    expect(chart).to_be_visible()
    expect(chart).to_contain_text("2 done", timeout=8000)

    JobRun.objects.filter(pk=job.pk).update(
        status=JobRun.Status.SUCCEEDED, inserted=4, finished_at=timezone.now()
    )
    FullSyncLine.objects.filter(pk=line.pk).update(
        status=FullSyncLine.Status.FINISHED, to_crm_job=job, finished_at=timezone.now()
    )
    fullsync.run_advance(run_id=run.pk)
    expect(status).to_contain_text("Finished", timeout=8000)
    expect(chart).to_contain_text("4 done")
    assert chart.locator("circle.chart-point").count() >= 2
    link = page.locator('tr[data-name="CURRENCY"] [data-field="to_crm"] a.job-link')
    expect(link).to_have_attribute("href", f"/sync/runs/{job.pk}/")
    expect(page.locator('tr[data-name="CUSTOMER"] [data-field="status"]')).to_contain_text("Ready")
    # The same page all along: nothing reloaded it.
    assert marker == 1 and page.evaluate("() => window.__kept") == 1
    assert errors == []
    context.close()
