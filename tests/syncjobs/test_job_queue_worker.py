"""An idle job woken by an ERP change runs in a real worker within seconds."""

import pytest

from syncjobs import services
from syncjobs.models import CrmCoupling, JobQueueEntry
from tests.factories.erp import CurrencyFactory
from tests.support.sandbox import Crm

pytestmark = [pytest.mark.worker, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def test_an_erp_change_wakes_the_idle_job_and_the_worker_runs_it_within_seconds(
    saved_connection, sandbox, celery_worker_process, settings
) -> None:
    settings.SYNC_JOB_WAKE_DELAY_SECONDS = 0.5
    # Only the woken job may carry the change here, not the near-real-time pass.
    settings.NEAR_REAL_TIME_SYNC = False
    currency = CurrencyFactory(code="XWQ", description="Before")
    options = services.DefaultSetupOptions(areas=["currencies"], enabled=True)
    mapping = next(m for m in services.default_setup_reset(options=options) if m.name == "CURRENCY")
    services.mapping_synchronize(mapping=mapping, full=True)  # couples XWQ
    entry = JobQueueEntry.objects.get(mapping=mapping, recurring=True)
    services.queue_entry_run(entry_id=entry.pk)  # nothing to do: it backs off
    entry.refresh_from_db()
    assert entry.current_interval_minutes == 60
    idle_run_ended = entry.last_finished_at

    currency.description = "Woken up"
    currency.save()

    def ran_again() -> bool:
        ended = JobQueueEntry.objects.get(pk=entry.pk).last_finished_at
        return ended is not None and ended > idle_run_ended

    celery_worker_process.wait_for(ran_again, timeout=30)
    entry.refresh_from_db()
    assert (entry.status, entry.current_interval_minutes) == (JobQueueEntry.Status.READY, 30)
    coupling = CrmCoupling.objects.get(erp_uuid=currency.uuid)
    assert Crm(sandbox).row("transactioncurrencies", str(coupling.crm_id))["currencyname"] == (
        "Woken up"
    )
