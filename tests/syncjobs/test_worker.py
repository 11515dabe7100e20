"""A scheduled job, sent exactly as celery beat sends it, runs in a real worker process."""

import json

import pytest
from celery import current_app

from connection.models import CrmConnection
from syncjobs import services
from syncjobs.defaults import ALL_AREAS
from syncjobs.models import JobRun

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_mapping_job_sent_like_beat_records_an_honest_run(celery_worker_process) -> None:
    CrmConnection.objects.create(
        pk=1,
        environment_url="https://contoso.crm.dynamics.com",
        token_url="https://login.example/t",
        client_id="c",
        is_enabled=True,
    )
    options = services.DefaultSetupOptions(areas=ALL_AREAS, enabled=True)
    mapping = next(m for m in services.default_setup_reset(options=options) if m.name == "CUSTOMER")
    task = mapping.periodic_task
    current_app.send_task(task.task, args=json.loads(task.args))
    # Until the run is finished: it is created "running" and finished a moment later.
    celery_worker_process.wait_for(
        lambda: JobRun.objects.filter(mapping=mapping, finished_at__isnull=False).exists()
    )
    run = JobRun.objects.get(mapping=mapping)
    assert run.status == JobRun.Status.WAITING
    assert "not installed yet" in run.message
