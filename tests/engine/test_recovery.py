"""Faults: a killed process, an answer lost after the CRM committed, one bad record among good
ones, a record that keeps failing (skipped, then taken up again), and the dry run."""

import signal
import subprocess
import sys
import time

import pytest

from erp.models import Customer
from sandbox.process import BASE_DIR
from syncjobs import services
from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling, JobRun, RecordChange
from tests.factories.erp import CurrencyFactory, CustomerFactory

pytestmark = [pytest.mark.sandbox]


def _job(result, direction="to_crm"):
    return next(j for j in result.jobs if j.direction == direction)


def _accounts_named(sync_setup, name):
    return sync_setup.crm.all_rows("accounts", f"?$filter=name eq '{name}'&$select=accountid")


@pytest.mark.django_db(transaction=True)
def test_no_duplicate_after_the_process_is_killed_during_the_crm_write(
    sync_setup, crm_salesperson, sandbox, child_process_env
) -> None:
    customer = CustomerFactory(name="Killed Midway Ltd", salesperson=crm_salesperson)
    # The create reaches the CRM, which takes its time and then commits it; the process that
    # sent it is killed meanwhile, before it could record the answer.
    sandbox.control(
        "config",
        {
            "add_rules": [
                {"method": "POST", "path": "accounts", "fault": "latency", "latency_ms": 2500}
            ]
        },
    )
    try:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "sync", "CUSTOMER", "--direction", "to-crm", "--full"],
            cwd=BASE_DIR,
            env=child_process_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not CrmCoupling.objects.filter(erp_uuid=customer.uuid).exists():
            assert time.monotonic() < deadline, "the run never chose the CRM id"
            assert proc.poll() is None, "the run ended before the CRM answered"
            time.sleep(0.05)
        time.sleep(0.5)  # the request is at the CRM now
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(3)  # the CRM finishes the request it had received
    finally:
        sandbox.control("config", {"rules": []})
    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    assert coupling.state == CrmCoupling.State.PENDING
    assert [r["accountid"] for r in _accounts_named(sync_setup, "Killed Midway Ltd")] == [
        str(coupling.crm_id)
    ]
    # The next run writes the same id again: still one account, now coupled.
    job = _job(synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm"))
    assert (job.inserted, job.failed) == (1, 0), job.message
    coupling.refresh_from_db()
    assert coupling.state == CrmCoupling.State.COUPLED
    assert len(_accounts_named(sync_setup, "Killed Midway Ltd")) == 1


@pytest.mark.django_db
def test_no_duplicate_when_the_crm_commits_then_fails(sync_setup, crm_salesperson, sandbox) -> None:
    CustomerFactory(name="Commit Then Fail Inc", salesperson=crm_salesperson)
    sandbox.control(
        "config",
        {"add_rules": [{"method": "POST", "path": "accounts", "fault": "commit_then_fail"}]},
    )
    try:
        first = _job(synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm", full=True))
    finally:
        sandbox.control("config", {"rules": []})
    second = _job(synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm"))
    assert first.inserted + second.inserted == 1, (first.message, second.message)
    assert len(_accounts_named(sync_setup, "Commit Then Fail Inc")) == 1


@pytest.mark.django_db
def test_one_bad_record_does_not_stop_the_others(sync_setup, crm_salesperson) -> None:
    good = [CustomerFactory(name=f"Good {n}", salesperson=crm_salesperson) for n in range(3)]
    # More than a CRM money column holds: the CRM refuses this one row of the batch.
    bad = CustomerFactory(name="Too Rich", credit_limit=10**15, salesperson=crm_salesperson)
    job = _job(synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm", full=True))
    assert (job.inserted, job.failed) == (3, 1), job.message
    error = job.errors.get()
    assert "Too Rich" in error.source and error.message.startswith("Creating the CRM account")
    for customer in good:
        assert CrmCoupling.objects.get(erp_uuid=customer.uuid).state == CrmCoupling.State.COUPLED
    assert CrmCoupling.objects.get(erp_uuid=bad.uuid).last_result_to_crm == "failure"


@pytest.mark.django_db
def test_a_record_that_keeps_failing_is_skipped_until_it_changes(
    sync_setup, crm_salesperson, settings
) -> None:
    settings.SYNC_SKIP_AFTER_FAILURES = 2
    bad = CustomerFactory(name="Always Failing", credit_limit=10**15, salesperson=crm_salesperson)
    mapping = sync_setup.mapping("CUSTOMER")
    synchronize(mapping, direction="to_crm", full=True)
    synchronize(mapping, direction="to_crm")
    coupling = CrmCoupling.objects.get(erp_uuid=bad.uuid)
    assert coupling.skipped and coupling.failure_count == 2
    third = _job(synchronize(mapping, direction="to_crm"))
    assert (third.failed, third.skipped) == (0, 1)
    # A change on the ERP side takes it up again.
    bad.credit_limit = 5000
    bad.save()
    fourth = _job(synchronize(mapping, direction="to_crm"))
    assert (fourth.inserted, fourth.failed) == (1, 0), fourth.message
    coupling.refresh_from_db()
    assert not coupling.skipped and coupling.state == CrmCoupling.State.COUPLED


@pytest.mark.django_db
def test_the_dry_run_writes_nothing_on_either_side(sync_setup, crm_salesperson) -> None:
    CurrencyFactory(code="XDR", description="Dry")
    customer = CustomerFactory(name="Dry Run Co", salesperson=crm_salesperson)
    before_accounts = len(sync_setup.crm.all_rows("accounts", "?$select=accountid"))
    before_modified = Customer.objects.get(pk=customer.pk).modified_at
    result = services.mapping_synchronize(
        mapping=sync_setup.mapping("CUSTOMER"), full=True, dry_run=True
    )
    to_crm = _job(result)
    assert to_crm.kind == JobRun.Kind.DRY_RUN and to_crm.inserted == 1
    insert = RecordChange.objects.get(job=to_crm, action="insert")
    assert {"erp_field": "name", "crm_field": "name", "old": None, "new": "Dry Run Co"} in (
        insert.fields
    )
    assert len(sync_setup.crm.all_rows("accounts", "?$select=accountid")) == before_accounts
    assert not CrmCoupling.objects.filter(erp_table="erp.customer").exists()
    assert Customer.objects.get(pk=customer.pk).modified_at == before_modified
    assert Customer.objects.count() == 1  # the CRM's accounts were not created in the ERP
    mapping = sync_setup.mapping("CUSTOMER")
    assert mapping.erp_watermark_at is None and mapping.crm_sync_token == ""


@pytest.mark.django_db
def test_a_record_waiting_for_its_dependency_wakes_up_with_it(sync_setup, crm_salesperson) -> None:
    currency = CurrencyFactory(code="XWT", description="Waiting currency")
    customer = CustomerFactory(
        name="Waits For Currency", currency=currency, salesperson=crm_salesperson
    )
    job = _job(synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm", full=True))
    assert job.failed == 1
    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    assert (coupling.waiting_for, coupling.skipped) == ("CURRENCY", False)
    woken = []
    result = services.mapping_synchronize(mapping=sync_setup.mapping("CURRENCY"), full=True)
    assert result.jobs[0].inserted >= 1
    woken = services.dependants_wake(mapping=sync_setup.mapping("CURRENCY"))
    assert woken == ["CUSTOMER"]
    job = _job(synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm"))
    assert (job.inserted, job.failed) == (1, 0), job.message
    account = sync_setup.crm.row("accounts", str(coupling.crm_id))
    assert account["_transactioncurrencyid_value"] == str(
        CrmCoupling.objects.get(erp_uuid=currency.uuid).crm_id
    )


@pytest.mark.django_db
def test_the_dry_run_couples_by_match_instead_of_inserting(sync_setup) -> None:
    sync_setup.crm.create(
        "transactioncurrencies",
        {
            "isocurrencycode": "XDM",
            "currencyname": "In the CRM",
            "currencysymbol": "D",
            "exchangerate": 1,
            "currencyprecision": 2,
        },
    )
    CurrencyFactory(code="XDM", description="In the ERP")
    job = services.mapping_synchronize(
        mapping=sync_setup.mapping("CURRENCY"), full=True, dry_run=True
    ).jobs[0]
    assert (job.coupled, job.inserted, job.modified) == (1, 0, 1), job.message
    assert not CrmCoupling.objects.exists()


@pytest.mark.django_db
def test_the_dry_run_says_when_the_crm_cannot_be_reached(sync_setup, sandbox) -> None:
    CurrencyFactory(code="XDN")
    sandbox.control(
        "config",
        {
            "add_rules": [
                {"method": "GET", "path": "WhoAmI", "fault": "error", "status": 401, "count": -1}
            ]
        },
    )
    try:
        job = services.mapping_synchronize(
            mapping=sync_setup.mapping("CURRENCY"), full=True, dry_run=True
        ).jobs[0]
    finally:
        sandbox.control("config", {"rules": []})
    assert job.status == JobRun.Status.FAILED
    assert job.message.startswith("stopped: the CRM did not answer")
