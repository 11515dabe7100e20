"""A scheduled job, sent exactly as celery beat sends it, runs the engine in a real worker."""

import json

import pytest
from celery import current_app

from syncjobs import services
from syncjobs.models import CrmCoupling, JobRun
from tests.factories.erp import CurrencyFactory
from tests.support.sandbox import Crm

pytestmark = [pytest.mark.worker, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def test_a_mapping_job_sent_like_beat_synchronizes_in_the_worker(
    saved_connection, sandbox, celery_worker_process
) -> None:
    currency = CurrencyFactory(code="XWK", description="Before")
    options = services.DefaultSetupOptions(areas=["currencies"], enabled=True)
    mapping = next(m for m in services.default_setup_reset(options=options) if m.name == "CURRENCY")
    # Coupled by a first full run here; the scheduled run then carries the change.
    services.mapping_synchronize(mapping=mapping, full=True)
    currency.description = "Worker test currency"
    currency.save()
    task = mapping.periodic_task
    current_app.send_task(task.task, args=json.loads(task.args))
    celery_worker_process.wait_for(
        lambda: JobRun.objects.filter(mapping=mapping, finished_at__isnull=False).count() == 2
    )
    run = JobRun.objects.filter(mapping=mapping).latest("id")
    assert (run.status, run.modified, run.direction) == (JobRun.Status.SUCCEEDED, 1, "to_crm"), (
        run.message
    )
    coupling = CrmCoupling.objects.get(erp_uuid=currency.uuid)
    row = Crm(sandbox).row("transactioncurrencies", str(coupling.crm_id))
    assert row["currencyname"] == "Worker test currency"
