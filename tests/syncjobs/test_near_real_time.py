"""Near-real-time synchronization: a change to a coupled ERP record reaches the CRM within
seconds through a real worker, coalesced; uncoupled records queue nothing (syncjobs/nrt.py)."""

import time
from unittest import mock

import pytest

from erp.models import Customer
from syncjobs import nrt
from syncjobs.engine import synchronize
from syncjobs.models import ChangeLag, CrmCoupling, JobRun, PendingChange
from tests.factories.erp import CustomerFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def coupled_customer(sync_setup, crm_salesperson):
    customer = CustomerFactory(name="Nrt Trading", salesperson=crm_salesperson)
    mapping = sync_setup.mapping("CUSTOMER")
    synchronize(mapping, direction="to_crm", full=True)
    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    return customer, coupling, mapping


def _nrt_runs(mapping):
    return JobRun.objects.filter(mapping=mapping, direction="to_crm", full=False)


@pytest.mark.worker
def test_a_change_to_a_coupled_customer_reaches_the_crm_within_seconds(
    sync_setup, coupled_customer, celery_worker_process
) -> None:
    customer, coupling, mapping = coupled_customer
    started = time.monotonic()
    customer.name = "Nrt Trading Renamed"
    customer.save()

    def arrived() -> bool:
        row = sync_setup.crm.get(f"accounts({coupling.crm_id})?$select=name").json()
        return row.get("name") == "Nrt Trading Renamed"

    # The CRM holds the new name a moment before the worker finishes the job's bookkeeping.
    celery_worker_process.wait_for(
        lambda: arrived() and _nrt_runs(mapping).filter(finished_at__isnull=False).exists(),
        timeout=10,
    )
    assert time.monotonic() - started < 10
    [run] = _nrt_runs(mapping).filter(finished_at__isnull=False)
    assert (run.modified, run.status) == (1, JobRun.Status.SUCCEEDED), run.message
    [lag] = ChangeLag.objects.filter(mapping=mapping, direction="to_crm")
    assert 0 <= lag.seconds < 10


@pytest.mark.worker
def test_two_quick_changes_are_coalesced_into_one_run(
    sync_setup, coupled_customer, celery_worker_process
) -> None:
    customer, coupling, mapping = coupled_customer
    customer.name = "First change"
    customer.save()
    customer.phone = "+1 555 0199"
    Customer.objects.filter(pk=customer.pk).update(name="Second change")
    assert PendingChange.objects.filter(mapping=mapping).count() == 1

    def arrived() -> bool:
        row = sync_setup.crm.get(f"accounts({coupling.crm_id})?$select=name").json()
        return row.get("name") == "Second change"

    celery_worker_process.wait_for(arrived, timeout=10)
    celery_worker_process.wait_for(lambda: not PendingChange.objects.exists(), timeout=10)
    time.sleep(0.5)  # a second task, had one been queued, would have run by now
    runs = list(_nrt_runs(mapping))
    assert len(runs) == 1, [(r.message, r.started_at) for r in runs]
    assert runs[0].modified == 1


def test_two_changes_queue_one_task_and_an_uncoupled_record_queues_nothing(
    coupled_customer,
) -> None:
    customer, _, mapping = coupled_customer
    uncoupled = CustomerFactory(name="Not coupled")
    with mock.patch.object(nrt.current_app, "send_task") as send:
        uncoupled.name = "Still not coupled"
        uncoupled.save()
        Customer.objects.filter(pk=uncoupled.pk).update(city="Nowhere")
        assert not send.called
        assert not PendingChange.objects.exists()

        customer.name = "Changed once"
        customer.save()
        customer.name = "Changed twice"
        customer.save()
        Customer.objects.filter(pk=customer.pk).update(city="Bulk")
    assert send.call_count == 1
    assert send.call_args.args == ("syncjobs.near_real_time",)
    assert send.call_args.kwargs["args"] == [mapping.pk]
    assert list(PendingChange.objects.values_list("erp_uuid", flat=True)) == [customer.uuid]


def test_nothing_is_queued_when_switched_off(coupled_customer, settings) -> None:
    customer, _, _ = coupled_customer
    settings.NEAR_REAL_TIME_SYNC = False
    with mock.patch.object(nrt.current_app, "send_task") as send:
        customer.name = "Off"
        customer.save()
    assert not send.called
    assert not PendingChange.objects.exists()


def test_the_pending_pass_sends_only_changed_records_and_leaves_no_row_when_idle(
    sync_setup, coupled_customer
) -> None:
    customer, coupling, mapping = coupled_customer
    with mock.patch.object(nrt.current_app, "send_task"):
        customer.name = "Sent by the pass"
        customer.save()
    jobs = nrt.pending_synchronize(mapping_id=mapping.pk)
    assert [(j.direction, j.modified) for j in jobs] == [("to_crm", 1)]
    row = sync_setup.crm.get(f"accounts({coupling.crm_id})?$select=name").json()
    assert row["name"] == "Sent by the pass"
    # Noted again (a change the CRM already has): the pass finds it unchanged, leaves no row.
    PendingChange.objects.create(
        mapping=mapping, erp_uuid=customer.uuid, changed_at=customer.modified_at
    )
    before = JobRun.objects.count()
    assert nrt.pending_synchronize(mapping_id=mapping.pk) == []
    assert JobRun.objects.count() == before


def test_the_crm_pull_queues_the_from_crm_pass_of_reading_mappings(sync_setup) -> None:
    with mock.patch.object(nrt.current_app, "send_task") as send:
        ids = nrt.crm_pull()
    assert ids
    assert sync_setup.mapping("CUSTOMER").pk in ids
    for call in send.call_args_list:
        assert call.args[0] == "syncjobs.synchronize_mapping"
        assert call.kwargs["kwargs"] == {"direction": "from_crm", "pull": True}
