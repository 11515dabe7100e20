"""The coupling services against the live sandbox: couple (each "after" choice), refuse a
record coupled elsewhere, uncouple, create on the other side, synchronize now, retry, restore,
and the counts of records waiting for another mapping."""

import uuid

import pytest

from coupling import selectors, services
from erp.models import Customer
from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling, JobRun, RecordChange, SyncResult
from tests.factories.erp import CustomerFactory, SalespersonFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def _token() -> str:
    return uuid.uuid4().hex[:8].upper()


def _account(sync_setup, **values) -> uuid.UUID:
    body = {"customertypecode": 3, **values}
    return uuid.UUID(sync_setup.crm.create("accounts", body))


def _crm_row(sync_setup, crm_id) -> dict:
    return sync_setup.crm.row("accounts", str(crm_id))


@pytest.fixture
def customers(sync_setup, crm_salesperson):
    mapping = sync_setup.mapping("CUSTOMER")
    return mapping


def test_couple_then_send_the_erp_data(sync_setup, crm_salesperson, customers) -> None:
    token = _token()
    customer = CustomerFactory(name=f"ERP side {token}", salesperson=crm_salesperson)
    crm_id = _account(sync_setup, name=f"CRM side {token}", telephone1="+1 000")
    result = services.couple(mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="erp")
    assert result.job.kind == JobRun.Kind.COUPLING
    assert (result.job.coupled, result.job.status) == (1, JobRun.Status.SUCCEEDED)
    change = RecordChange.objects.get(job=result.job)
    assert (change.action, change.erp_uuid, change.crm_id) == ("couple", customer.uuid, crm_id)
    [sync] = result.sync.jobs
    assert (sync.direction, sync.modified, sync.failed) == ("to_crm", 1, 0), sync.message
    row = _crm_row(sync_setup, crm_id)
    assert (row["name"], row["telephone1"]) == (customer.name, customer.phone)
    assert result.coupling.state == CrmCoupling.State.COUPLED
    assert result.coupling.last_result_to_crm == SyncResult.SUCCESS


def test_couple_then_take_the_crm_data(sync_setup, crm_salesperson, customers) -> None:
    token = _token()
    customer = CustomerFactory(name=f"ERP side {token}", salesperson=crm_salesperson)
    crm_id = _account(sync_setup, name=f"CRM side {token}", telephone1="+1 555 0100")
    result = services.couple(mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="crm")
    [sync] = result.sync.jobs
    assert (sync.direction, sync.modified, sync.failed) == ("from_crm", 1, 0), sync.message
    customer.refresh_from_db()
    assert (customer.name, customer.phone) == (f"CRM side {token}", "+1 555 0100")
    assert _crm_row(sync_setup, crm_id)["name"] == f"CRM side {token}"


def test_couple_without_synchronizing_waits_for_a_change(
    sync_setup, crm_salesperson, customers
) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Same {token}", salesperson=crm_salesperson)
    crm_id = _account(sync_setup, name=f"Same {token}", telephone1="+1 000 0000")
    result = services.couple(mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="none")
    assert result.sync is None
    coupling = result.coupling
    row = _crm_row(sync_setup, crm_id)
    assert coupling.erp_modified_at == customer.modified_at
    assert coupling.crm_version == int(row["versionnumber"])
    assert coupling.snapshot["name>name"] == f"Same {token}"  # agreed fields are the ancestor
    assert "phone>telephone1" not in coupling.snapshot
    # Nothing is sent while neither side changes.
    jobs = synchronize(customers).jobs
    assert all(j.modified == 0 and j.failed == 0 for j in jobs), [j.message for j in jobs]
    assert _crm_row(sync_setup, crm_id)["telephone1"] == "+1 000 0000"
    # The ERP changes: its data goes.
    customer.name = f"Renamed {token}"
    customer.save()
    to_crm = synchronize(customers, direction="to_crm").jobs[0]
    assert (to_crm.modified, to_crm.failed) == (1, 0), to_crm.message
    row = _crm_row(sync_setup, crm_id)
    assert (row["name"], row["telephone1"]) == (f"Renamed {token}", customer.phone)


def test_coupling_a_record_coupled_elsewhere_is_refused_saying_to_whom(
    sync_setup, crm_salesperson, customers
) -> None:
    token = _token()
    first = CustomerFactory(name=f"First {token}", salesperson=crm_salesperson)
    second = CustomerFactory(name=f"Second {token}", salesperson=crm_salesperson)
    x = _account(sync_setup, name=f"X {token}")
    y = _account(sync_setup, name=f"Y {token}")
    services.couple(mapping=customers, erp_uuid=first.uuid, crm_id=x, after="none")

    with pytest.raises(services.AlreadyCoupled) as refused:
        services.couple(mapping=customers, erp_uuid=first.uuid, crm_id=y, after="none")
    assert refused.value.side == "erp"
    assert str(x) in refused.value.message

    with pytest.raises(services.AlreadyCoupled) as refused:
        services.couple(mapping=customers, erp_uuid=second.uuid, crm_id=x, after="erp")
    assert refused.value.side == "crm"
    assert f"First {token}" in refused.value.message
    assert CrmCoupling.objects.filter(erp_uuid=second.uuid).count() == 0
    assert _crm_row(sync_setup, x)["name"] == f"X {token}"


def test_a_coupling_whose_other_record_is_gone_is_replaced(
    sync_setup, crm_salesperson, customers
) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Stale {token}", salesperson=crm_salesperson)
    gone = _account(sync_setup, name=f"Gone {token}")
    services.couple(mapping=customers, erp_uuid=customer.uuid, crm_id=gone, after="none")
    assert sync_setup.crm.delete(f"accounts({gone})").status_code == 204
    fresh = _account(sync_setup, name=f"Fresh {token}")
    result = services.couple(mapping=customers, erp_uuid=customer.uuid, crm_id=fresh, after="none")
    assert [c.crm_id for c in result.replaced] == [gone]
    assert (result.job.coupled, result.job.uncoupled) == (1, 1)
    assert CrmCoupling.objects.get(erp_uuid=customer.uuid).crm_id == fresh


def test_uncouple_records_an_uncoupling_job(sync_setup, crm_salesperson, customers) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Loose {token}", salesperson=crm_salesperson)
    crm_id = _account(sync_setup, name=f"Loose {token}")
    coupling = services.couple(
        mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="none"
    ).coupling
    job = services.uncouple(coupling=coupling)
    assert (job.kind, job.uncoupled, job.mapping) == (JobRun.Kind.UNCOUPLING, 1, customers)
    change = RecordChange.objects.get(job=job)
    assert (change.action, change.crm_id) == ("uncouple", crm_id)
    assert not CrmCoupling.objects.filter(erp_uuid=customer.uuid).exists()
    # Neither record changed.
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert _crm_row(sync_setup, crm_id)["name"] == f"Loose {token}"


def test_create_in_crm_and_in_erp(sync_setup, crm_salesperson, customers) -> None:
    token = _token()
    customer = CustomerFactory(name=f"To CRM {token}", salesperson=crm_salesperson)
    result = services.create_in_crm(mapping=customers, erp_uuids=[customer.uuid])
    assert result.sync.jobs[0].inserted == 1, result.sync.jobs[0].message
    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    assert _crm_row(sync_setup, coupling.crm_id)["name"] == f"To CRM {token}"
    again = services.create_in_crm(mapping=customers, erp_uuids=[customer.uuid])
    assert (again.sync, again.already_coupled) == (None, [customer.uuid])

    crm_id = _account(sync_setup, name=f"From CRM {token}")
    result = services.create_in_erp(mapping=customers, crm_ids=[crm_id])
    assert result.sync.jobs[0].inserted == 1, result.sync.jobs[0].message
    created = Customer.objects.get(name=f"From CRM {token}")
    assert CrmCoupling.objects.get(crm_id=crm_id).erp_uuid == created.uuid


def test_synchronize_now_asks_for_a_direction_when_both_sides_changed(
    sync_setup, crm_salesperson, customers
) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Both {token}", salesperson=crm_salesperson)
    crm_id = _account(sync_setup, name=f"Both {token}")
    services.couple(mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="erp")

    # Only the ERP changed (the CRM row's version moved with our own write): no question.
    customer.phone = "+1 555 0199"
    customer.save()
    result = services.synchronize_now(mapping=customers, erp_uuid=customer.uuid)
    assert (result.jobs[0].direction, result.jobs[0].modified) == ("to_crm", 1)

    customer.name = f"ERP {token}"
    customer.save()
    sync_setup.crm.patch(f"accounts({crm_id})", json={"name": f"CRM {token}"})
    with pytest.raises(services.DirectionRequired) as asked:
        services.synchronize_now(mapping=customers, erp_uuid=customer.uuid)
    assert "Both the" in asked.value.message and "will be lost" in asked.value.message
    assert _crm_row(sync_setup, crm_id)["name"] == f"CRM {token}"

    result = services.synchronize_now(mapping=customers, crm_id=crm_id, direction="from_crm")
    assert result.jobs[0].modified == 1, result.jobs[0].message
    customer.refresh_from_db()
    assert customer.name == f"CRM {token}"


def test_synchronize_now_of_an_uncoupled_record_offers_coupling(sync_setup, customers) -> None:
    customer = CustomerFactory()
    with pytest.raises(services.NotCoupled):
        services.synchronize_now(mapping=customers, erp_uuid=customer.uuid)


def test_the_preview_says_what_each_choice_overwrites(
    sync_setup, crm_salesperson, customers
) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Preview ERP {token}", salesperson=crm_salesperson)
    crm_id = _account(sync_setup, name=f"Preview CRM {token}", telephone1=customer.phone)
    preview = services.coupling_preview(mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id)
    fields = {f.crm_field: f for f in preview.fields}
    assert (fields["name"].erp_display, fields["name"].crm_display) == (
        f"Preview ERP {token}",
        f"Preview CRM {token}",
    )
    assert fields["ownerid"].erp_display == str(crm_salesperson)
    by_erp = {f.crm_field for f in preview.overwritten("erp")}
    by_crm = {f.crm_field for f in preview.overwritten("crm")}
    assert "name" in by_erp and "name" in by_crm
    assert "telephone1" not in by_erp
    assert "creditlimit" in by_erp and "creditlimit" not in by_crm  # one way only
    assert preview.overwritten("none") == []
    assert not CrmCoupling.objects.filter(erp_uuid=customer.uuid).exists()


def test_retry_takes_a_skipped_record_up_again(sync_setup, crm_salesperson, customers) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Retry {token}", salesperson=crm_salesperson)
    crm_id = _account(sync_setup, name=f"Retry {token}")
    coupling = services.couple(
        mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="erp"
    ).coupling
    # The CRM holds an e-mail address the ERP refuses: fails, the same way each time.
    sync_setup.crm.patch(f"accounts({crm_id})", json={"emailaddress1": "not an address"})
    for _ in range(3):
        synchronize(customers, direction="from_crm")
    coupling.refresh_from_db()
    assert coupling.skipped and coupling.failure_count == 3, coupling.last_error
    assert list(selectors.coupling_errors(state="skipped")) == [coupling]
    assert list(selectors.coupling_errors(mapping=customers)) == [coupling]
    assert selectors.coupling_error_counts(mapping=customers).skipped == 1

    sync_setup.crm.patch(f"accounts({crm_id})", json={"emailaddress1": f"{token}@example.com"})
    result = services.retry(couplings=selectors.coupling_errors(mapping=customers))
    assert (result.retried, result.failed) == (1, 0)
    coupling.refresh_from_db()
    assert (coupling.skipped, coupling.failure_count) == (False, 0)
    assert coupling.last_result_from_crm == SyncResult.SUCCESS
    customer.refresh_from_db()
    assert customer.email == f"{token}@example.com"
    assert not selectors.coupling_errors(mapping=customers).exists()


def test_restore_a_deleted_crm_row_from_the_erp(sync_setup, crm_salesperson, customers) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Restore {token}", salesperson=crm_salesperson)
    crm_id = _account(sync_setup, name=f"Restore {token}")
    coupling = services.couple(
        mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="erp"
    ).coupling
    with pytest.raises(services.NothingToRestore):
        services.restore_deleted(coupling=coupling)
    assert sync_setup.crm.delete(f"accounts({crm_id})").status_code == 204
    [sides] = selectors.coupling_sides([coupling])
    assert sides.broken and sides.erp_exists and not sides.crm_exists

    result = services.restore_deleted(coupling=coupling)
    assert result.jobs[0].inserted == 1, result.jobs[0].message
    row = _crm_row(sync_setup, crm_id)  # the same id
    assert row["name"] == f"Restore {token}"
    coupling.refresh_from_db()
    assert coupling.state == CrmCoupling.State.COUPLED


def test_restore_a_deleted_erp_record_from_the_crm(sync_setup, crm_salesperson, customers) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Gone ERP {token}", salesperson=crm_salesperson)
    crm_id = _account(sync_setup, name=f"Gone ERP {token}")
    coupling = services.couple(
        mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="erp"
    ).coupling
    Customer.objects.filter(pk=customer.pk).delete()
    result = services.restore_deleted(coupling=coupling)
    assert result.jobs[0].inserted == 1, result.jobs[0].message
    assert Customer.objects.get(uuid=customer.uuid).name == f"Gone ERP {token}"


def test_delete_coupling_of_a_broken_pair(sync_setup, crm_salesperson, customers) -> None:
    token = _token()
    customer = CustomerFactory(name=f"Delete {token}", salesperson=crm_salesperson)
    crm_id = _account(sync_setup, name=f"Delete {token}")
    coupling = services.couple(
        mapping=customers, erp_uuid=customer.uuid, crm_id=crm_id, after="none"
    ).coupling
    job = services.delete_coupling(coupling=coupling)
    assert job.kind == JobRun.Kind.UNCOUPLING
    assert not CrmCoupling.objects.filter(pk=coupling.pk).exists()


def test_missing_dependencies_count_the_records_waiting(sync_setup) -> None:
    mapping = sync_setup.mapping("CUSTOMER")
    uncoupled = SalespersonFactory()
    waiting = [CustomerFactory(salesperson=uncoupled) for _ in range(2)]
    result = services.create_in_crm(mapping=mapping, erp_uuids=[c.uuid for c in waiting])
    assert result.sync.jobs[0].failed == 2
    assert selectors.missing_dependencies(mapping=mapping) == [("SALESPEOPLE", 2)]
    assert selectors.missing_dependencies(mapping=sync_setup.mapping("CONTACT")) == []
    assert selectors.coupling_error_counts(mapping=mapping).waiting == 2
