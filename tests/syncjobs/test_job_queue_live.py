"""Job queue entries against the live sandbox: an idle job backs off and wakes up when there is
work; a mapping that keeps failing puts itself on hold, and the pages say which and why."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts import roles
from syncjobs import jobqueue, services, tasks
from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling, JobQueueEntry, JobRun
from tests.factories.accounts import UserFactory
from tests.factories.erp import CurrencyFactory, CustomerFactory, SalespersonFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]

Status = JobQueueEntry.Status


def _entry(name: str) -> JobQueueEntry:
    return JobQueueEntry.objects.select_related("periodic_task").get(
        mapping__name=name, recurring=True
    )


def _beat_interval(entry: JobQueueEntry) -> int:
    return (
        PeriodicTask.objects.select_related("interval")
        .get(pk=entry.periodic_task_id)
        .interval.every
    )


def test_an_idle_job_backs_off_to_its_inactivity_timeout_and_wakes_up_on_an_erp_change(
    sync_setup, django_capture_on_commit_callbacks, settings
) -> None:
    settings.SYNC_JOB_WAKE_DELAY_SECONDS = 5
    entry = _entry("CURRENCY")
    assert (entry.interval_minutes, entry.inactivity_timeout_minutes) == (30, 720)

    seen = []
    for _ in range(6):
        services.queue_entry_run(entry_id=entry.pk)
        entry.refresh_from_db()
        seen.append(entry.current_interval_minutes)
        assert _beat_interval(entry) == entry.current_interval_minutes
    # Each run found nothing to do: the interval doubles, up to the inactivity timeout.
    assert seen == [60, 120, 240, 480, 720, 720]
    assert entry.status == Status.READY and entry.attempts == 0
    assert entry.next_run_at > timezone.now() + timedelta(minutes=700)
    runs = JobRun.objects.filter(mapping=entry.mapping)
    assert runs.count() == 6 and all(r.status == JobRun.Status.SUCCEEDED for r in runs)

    # A new ERP currency is work for the job: back to its interval, running in seconds.
    with django_capture_on_commit_callbacks(execute=True):
        currency = CurrencyFactory(code="XJQ", description="Before")
    entry.refresh_from_db()
    assert entry.current_interval_minutes == 30 and _beat_interval(entry) == 30
    assert entry.next_run_at <= timezone.now() + timedelta(seconds=6)

    # A run that did something keeps the job at its interval.
    services.mapping_synchronize(mapping=entry.mapping, full=True)  # couples XJQ
    currency.description = "After"
    currency.save()
    services.queue_entry_run(entry_id=entry.pk)
    entry.refresh_from_db()
    assert entry.current_interval_minutes == 30
    assert JobRun.objects.filter(mapping=entry.mapping).first().modified == 1


def test_a_change_to_a_table_no_mapping_sends_wakes_nothing(
    sync_setup, django_capture_on_commit_callbacks
) -> None:
    entry = _entry("SALESPEOPLE")  # from the CRM only: ERP edits are not its work
    JobQueueEntry.objects.filter(pk=entry.pk).update(current_interval_minutes=1440)
    with django_capture_on_commit_callbacks(execute=True):
        SalespersonFactory(code="ZZ")
    entry.refresh_from_db()
    assert entry.current_interval_minutes == 1440


def test_a_crm_pull_that_brings_changes_wakes_the_idle_job(sync_setup, crm_salesperson) -> None:
    customer = CustomerFactory(name="Pull Wake Ltd", salesperson=crm_salesperson)
    mapping = sync_setup.mapping("CUSTOMER")
    synchronize(mapping, direction="to_crm", full=True)
    synchronize(mapping)  # the engine's own write comes back once through change tracking
    entry = _entry("CUSTOMER")
    JobQueueEntry.objects.filter(pk=entry.pk).update(current_interval_minutes=720)

    tasks.synchronize_mapping(mapping.pk, direction="from_crm", pull=True)
    entry.refresh_from_db()
    assert entry.current_interval_minutes == 720  # nothing came: still asleep

    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    response = sync_setup.crm.patch(f"accounts({coupling.crm_id})", json={"name": "Pull Wake Inc."})
    assert response.status_code == 204, response.text
    tasks.synchronize_mapping(mapping.pk, direction="from_crm", pull=True)
    customer.refresh_from_db()
    entry.refresh_from_db()
    assert customer.name == "Pull Wake Inc."
    assert entry.current_interval_minutes == 30 and _beat_interval(entry) == 30


def _unreachable_users(sandbox) -> None:
    # Every read of the CRM's users is refused: each SALESPEOPLE run stops, for real.
    sandbox.control(
        "config",
        {
            "add_rules": [
                {
                    "method": "GET",
                    "path": "systemusers",
                    "fault": "error",
                    "status": 401,
                    "count": -1,
                }
            ]
        },
    )


def test_a_mapping_that_keeps_failing_is_put_on_hold_and_the_pages_say_why(
    sync_setup, sandbox, settings
) -> None:
    settings.SYNC_AUTO_HOLD_RUNS = 3
    settings.SYNC_AUTO_HOLD_FAILURE_RATE = 0.8
    entry = _entry("SALESPEOPLE")
    _unreachable_users(sandbox)
    try:
        for _ in range(2):
            services.queue_entry_run(entry_id=entry.pk)
            entry.refresh_from_db()
            assert entry.status == Status.READY, entry.on_hold_reason
        assert entry.attempts == 2 and entry.last_error
        services.queue_entry_run(entry_id=entry.pk)
    finally:
        sandbox.control("config", {"rules": []})
    entry.refresh_from_db()
    failed = JobRun.objects.filter(mapping=entry.mapping, status=JobRun.Status.FAILED)
    assert failed.count() == 3
    assert entry.status == Status.ON_HOLD and entry.hold == JobQueueEntry.Hold.AUTOMATIC
    assert "3 of the last 3 runs of SALESPEOPLE failed (threshold 80%)" in entry.on_hold_reason
    assert failed.first().message in entry.on_hold_reason
    assert not PeriodicTask.objects.get(pk=entry.periodic_task_id).enabled
    # A held job is not run by a late delivery either.
    assert services.queue_entry_run(entry_id=entry.pk) is None

    admin = Client()
    admin.force_login(UserFactory(roles=[roles.INTEGRATION_ADMIN]))
    connection_page = admin.get("/connection/").content.decode()
    assert "SALESPEOPLE: synchronization job" in connection_page
    assert "3 of the last 3 runs of SALESPEOPLE failed" in connection_page
    jobs_page = admin.get("/sync/jobs/", {"status": "on_hold"}).content.decode()
    assert "3 of the last 3 runs of SALESPEOPLE failed" in jobs_page

    # Resumed, it starts counting again: the next run (the CRM answers now) succeeds.
    jobqueue.entry_resume(entry=entry)
    assert PeriodicTask.objects.get(pk=entry.periodic_task_id).enabled
    services.queue_entry_run(entry_id=entry.pk)
    entry.refresh_from_db()
    assert entry.status == Status.READY and entry.attempts == 0 and not entry.last_error


def test_a_failing_run_now_is_tried_twice_then_in_error(sync_setup, sandbox, settings) -> None:
    settings.SYNC_AUTO_HOLD_RUNS = 0  # only the entry's own attempts count here
    mapping = sync_setup.mapping("SALESPEOPLE")
    one_off = services.mapping_synchronize_enqueue(mapping=mapping)
    _unreachable_users(sandbox)
    try:
        services.queue_entry_run(entry_id=one_off.pk)
        one_off.refresh_from_db()
        assert (one_off.status, one_off.attempts) == (Status.READY, 1)
        assert one_off.earliest_start_at > timezone.now() + timedelta(seconds=20)
        services.queue_entry_run(entry_id=one_off.pk)
    finally:
        sandbox.control("config", {"rules": []})
    one_off.refresh_from_db()
    assert (one_off.status, one_off.attempts, one_off.max_attempts) == (Status.ERROR, 2, 2)
    assert "SALESPEOPLE" in one_off.last_error
    assert _entry("SALESPEOPLE").status == Status.READY  # the recurring job is untouched
