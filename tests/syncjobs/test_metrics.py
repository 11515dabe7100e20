"""/metrics: Prometheus text, loopback or bearer token only."""

import re
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from syncjobs.metrics import metrics_view
from syncjobs.models import ChangeLag, IntegrationTableMapping, JobRun

pytestmark = pytest.mark.django_db

LINE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? (-?[0-9.e+-]+|\+Inf|NaN)$'
)


@pytest.fixture
def runs():
    mapping = IntegrationTableMapping.objects.create(
        name="CUSTOMER",
        erp_table="erp.Customer",
        crm_entity="account",
        crm_entity_set="accounts",
        crm_uid_field="accountid",
        direction="bidirectional",
    )
    now = timezone.now()
    run = JobRun.objects.create(
        job_name="CUSTOMER",
        mapping=mapping,
        kind=JobRun.Kind.SYNCHRONIZATION,
        direction="to_crm",
        status=JobRun.Status.SUCCEEDED,
        inserted=3,
        modified=2,
        failed=1,
    )
    JobRun.objects.filter(pk=run.pk).update(started_at=now - timedelta(seconds=4), finished_at=now)
    for seconds in (1.0, 2.0, 30.0):
        ChangeLag.objects.create(
            mapping=mapping, direction="to_crm", changed_at=now, synced_at=now, seconds=seconds
        )
    return mapping


def _get(**meta):
    return metrics_view(RequestFactory().get("/metrics", **meta))


def test_a_client_elsewhere_is_refused_without_the_token(settings) -> None:
    settings.METRICS_TOKEN = ""
    assert _get(REMOTE_ADDR="10.1.2.3").status_code == 403
    settings.METRICS_TOKEN = "s3cret-token"
    response = _get(REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 401
    assert _get(REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_the_token_admits_a_client_elsewhere(settings, runs) -> None:
    settings.METRICS_TOKEN = "s3cret-token"
    response = _get(REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")


def test_a_forwarded_client_is_not_loopback_behind_a_proxy(settings) -> None:
    settings.METRICS_TOKEN = ""
    settings.TRUSTED_PROXY_COUNT = 1
    response = _get(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 403


def test_loopback_gets_every_line_parseable(runs) -> None:
    response = _get(REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    text = response.content.decode()
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$", line), line
            continue
        assert LINE.match(line), line
        name_labels, value = line.rsplit(" ", 1)
        samples[name_labels] = float(value)
    base = 'mapping="CUSTOMER",direction="to_crm"'
    assert samples[f'erpcrm_sync_records_total{{{base},outcome="inserted"}}'] == 3
    assert samples[f'erpcrm_sync_records_total{{{base},outcome="failed"}}'] == 1
    assert samples[f'erpcrm_sync_run_duration_seconds_bucket{{{base},le="5"}}'] == 1
    assert samples[f'erpcrm_sync_run_duration_seconds_bucket{{{base},le="1"}}'] == 0
    assert samples[f"erpcrm_sync_run_duration_seconds_sum{{{base}}}"] == pytest.approx(4, abs=0.1)
    assert samples[f'erpcrm_sync_change_lag_seconds{{{base},quantile="0.5"}}'] == 2.0
    assert samples[f'erpcrm_sync_change_lag_seconds{{{base},quantile="0.95"}}'] == 30.0
    assert samples[f"erpcrm_sync_change_lag_seconds_count{{{base}}}"] == 3
    assert 'erpcrm_celery_queue_length{queue="' in text


def test_the_login_middleware_lets_metrics_through(client) -> None:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 403
