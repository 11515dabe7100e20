"""A real Celery worker process, fed through the real broker, and /healthz around it."""

import subprocess
import sys
from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.utils import timezone

from core.models import WorkerHeartbeat
from core.tasks import heartbeat
from sandbox.process import free_port, wait_for_http

pytestmark = pytest.mark.worker


def test_worker_runs_a_task_sent_through_the_broker(celery_worker_process) -> None:
    # The start heartbeat proves the worker is up; remove it so only the task can bring it back.
    WorkerHeartbeat.objects.all().delete()

    heartbeat.delay()

    celery_worker_process.wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname=celery_worker_process.hostname).exists()
    )
    assert "core.heartbeat" in celery_worker_process.log()


def test_worker_records_a_heartbeat_as_soon_as_it_starts(celery_worker_process) -> None:
    # Recorded before any task reached the worker (the module's worker keeps the row it found).
    beat = celery_worker_process.start_heartbeat
    assert beat is not None and beat.hostname == celery_worker_process.hostname
    assert timezone.now() - beat.beat_at < timedelta(seconds=60)


@pytest.mark.django_db
def test_healthz_is_503_with_a_clear_detail_when_no_worker_ever_ran(admin_client: Client) -> None:
    response = admin_client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False
    assert "no worker heartbeat" in body["checks"]["worker"]["detail"]


@pytest.mark.django_db
def test_healthz_calls_an_old_heartbeat_stale(admin_client: Client) -> None:
    WorkerHeartbeat.objects.create(
        hostname="celery@gone", beat_at=timezone.now() - timedelta(minutes=10)
    )

    response = admin_client.get("/healthz")

    assert response.status_code == 503
    detail = response.json()["checks"]["worker"]["detail"]
    assert "celery@gone" in detail
    assert "stale" in detail


def test_healthz_is_200_while_a_worker_runs(celery_worker_process, admin_client: Client) -> None:
    response = admin_client.get("/healthz")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert celery_worker_process.hostname in body["checks"]["worker"]["detail"]


def test_production_web_server_reports_health_and_serves_static_files(
    celery_worker_process, child_process_env: dict[str, str]
) -> None:
    # The production shape: waitress serving the WSGI app, on the same database and broker.
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "erpcrm.wsgi:application"],
        env=child_process_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", proc=proc)

        health = requests.get(f"{base}/healthz", timeout=10)
        css = requests.get(f"{base}/static/css/app.css", timeout=10)
        home = requests.get(f"{base}/", timeout=10, allow_redirects=False)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    # 200 needs every check green, the worker's heartbeat included.
    assert health.status_code == 200, health.text
    assert health.json() == {"status": "ok"}
    assert css.status_code == 200
    assert "text/css" in css.headers["Content-Type"]
    assert home.status_code == 302
    assert "/login/" in home.headers["Location"]


@pytest.mark.django_db
def test_healthz_names_a_missing_broker_folder(admin_client: Client, settings, tmp_path) -> None:
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("only the file-system broker has a folder")
    missing = tmp_path / "no-such-folder"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "data_folder_in": str(missing),
    }

    response = admin_client.get("/healthz")

    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker["ok"] is False
    assert str(missing) in broker["detail"]
