"""A full synchronization run by a real Celery worker against the sandbox: the lines run in
dependency order, a failing line blocks its dependants until it is restarted, and
`manage.py fullsync --wait` prints the lines as they go and fails when the run does."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from syncjobs import fullsync
from syncjobs.models import CrmCoupling, FullSyncLine, FullSyncRun, IntegrationTableMapping
from tests.factories.erp import CurrencyFactory, CustomerFactory

pytestmark = [pytest.mark.worker, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

WAIT = ["--wait", "--interval", "0.2", "--timeout", "90"]


def test_full_sync_runs_the_lines_in_dependency_order(sync_setup, celery_worker_process):
    currency = CurrencyFactory(code="XFS", description="Full sync currency")
    CustomerFactory.create_batch(2)
    out = StringIO()

    call_command("fullsync", "--only", "CURRENCY", "CUSTOMER", *WAIT, stdout=out)

    run = FullSyncRun.objects.get()
    assert run.status == FullSyncRun.Status.FINISHED
    currency_line, customer_line = run.lines.get(name="CURRENCY"), run.lines.get(name="CUSTOMER")
    assert currency_line.status == customer_line.status == FullSyncLine.Status.FINISHED
    assert customer_line.started_at >= currency_line.finished_at
    assert currency_line.to_crm_job.full and currency_line.to_crm_job.finished_at
    assert customer_line.to_crm_job and customer_line.from_crm_job
    assert CrmCoupling.objects.filter(erp_uuid=currency.uuid).exists()
    text = out.getvalue()
    assert "CURRENCY" in text and "CUSTOMER" in text and "Finished" in text
    assert f"The full synchronization {run.pk} finished." in text


def test_a_failing_line_blocks_its_dependants_until_restarted(sync_setup, celery_worker_process):
    CurrencyFactory(code="XFT")
    # A table filter the ERP table cannot take: the pass stops at once.
    IntegrationTableMapping.objects.filter(name="CURRENCY").update(table_filter={"nope": 1})

    with pytest.raises(CommandError, match="ended in error"):
        call_command("fullsync", "--only", "CURRENCY", "CUSTOMER", *WAIT, stdout=StringIO())

    run = FullSyncRun.objects.get()
    currency, customer = run.lines.get(name="CURRENCY"), run.lines.get(name="CUSTOMER")
    assert currency.status == FullSyncLine.Status.ERROR
    assert currency.message.startswith("stopped: The ERP table filter cannot be applied")
    assert (customer.status, customer.message) == (
        FullSyncLine.Status.ON_HOLD,
        "Blocked: CURRENCY failed; restart it.",
    )
    assert customer.to_crm_job is None and customer.started_at is None

    IntegrationTableMapping.objects.filter(name="CURRENCY").update(table_filter={})
    fullsync.line_restart(line=currency)
    celery_worker_process.wait_for(
        lambda: FullSyncRun.objects.get().status == FullSyncRun.Status.FINISHED, timeout=60
    )
    customer.refresh_from_db()
    assert customer.status == FullSyncLine.Status.FINISHED and customer.to_crm_job is not None
