"""`manage.py sync` and the retention of job logs."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from syncjobs import services
from syncjobs.models import JobRun, RecordChange, SyncError
from tests.factories.erp import CurrencyFactory, CustomerFactory

pytestmark = [pytest.mark.django_db]


@pytest.mark.sandbox
def test_sync_prints_the_counts_and_the_dry_run_table(sync_setup) -> None:
    CurrencyFactory(code="XCM", description="Command currency")
    out = io.StringIO()
    call_command("sync", "currency", "--full", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "CURRENCY To CRM: Succeeded: dry run, nothing written: 1 inserted" in text
    assert "inserted 1" in text
    assert "currencyname" in text and "Command currency" in text
    out = io.StringIO()
    call_command("sync", "CURRENCY", "--full", stdout=out)
    assert "1 inserted" in out.getvalue()


@pytest.mark.sandbox
def test_sync_exits_non_zero_when_records_failed(sync_setup, crm_salesperson) -> None:
    CustomerFactory(name="Unpayable", credit_limit=10**15, salesperson=crm_salesperson)
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("sync", "CUSTOMER", "--direction", "to-crm", "--full", stdout=out)
    assert raised.value.returncode == 1
    assert "! customer" in out.getvalue() and "Unpayable" in out.getvalue()


def test_sync_names_the_mappings_when_the_name_is_unknown(db) -> None:
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=["currencies"]))
    with pytest.raises(CommandError, match="No mapping named 'NOPE'. Mappings: CURRENCY"):
        call_command("sync", "NOPE")


def test_sync_refuses_a_direction_the_mapping_does_not_have(db) -> None:
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=["currencies"]))
    with pytest.raises(CommandError, match="does not synchronize From CRM"):
        call_command("sync", "CURRENCY", "--direction", "from-crm")


def test_old_job_logs_are_deleted_with_their_errors_and_changes(db, settings) -> None:
    settings.SYNC_LOG_RETENTION_DAYS = 7
    old = JobRun.objects.create(job_name="CUSTOMER", status=JobRun.Status.FAILED)
    JobRun.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=8))
    SyncError.objects.create(job=old, message="old failure")
    RecordChange.objects.create(
        job=old, action="modify", erp_table="erp.customer", crm_entity="account"
    )
    recent = JobRun.objects.create(job_name="CUSTOMER", status=JobRun.Status.SUCCEEDED)
    running = JobRun.objects.create(job_name="CONTACT", status=JobRun.Status.RUNNING)
    JobRun.objects.filter(pk=running.pk).update(started_at=timezone.now() - timedelta(days=30))
    services.sync_log_cleanup()
    assert set(JobRun.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}
    assert not SyncError.objects.exists() and not RecordChange.objects.exists()
