"""Changes on both sides (each update-conflict rule) and deletions (each deletion-conflict rule),
against the live sandbox."""

import pytest

from erp.models import Customer
from syncjobs import services
from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling, IntegrationTableMapping, JobRun
from tests.factories.erp import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def _job(result, direction):
    return next(j for j in result.jobs if j.direction == direction)


@pytest.fixture
def pair(sync_setup, crm_salesperson):
    """A customer coupled to its account, both sides in step."""
    customer = CustomerFactory(name="Northwind", phone="+1 555 0001", salesperson=crm_salesperson)
    mapping = sync_setup.mapping("CUSTOMER")
    synchronize(mapping, direction="to_crm", full=True)
    synchronize(mapping)  # the first from-CRM pass learns the row's version
    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    return customer, coupling, mapping


def _both_change(
    sync_setup, customer, coupling, erp_name="Northwind ERP", crm_name="Northwind CRM"
):
    customer.name = erp_name
    customer.save()
    response = sync_setup.crm.patch(f"accounts({coupling.crm_id})", json={"name": crm_name})
    assert response.status_code == 204, response.text


def _rule(mapping, **values):
    IntegrationTableMapping.objects.filter(pk=mapping.pk).update(**values)
    mapping.refresh_from_db()


def test_a_conflict_is_kept_for_a_person_and_nothing_is_overwritten(sync_setup, pair) -> None:
    customer, coupling, mapping = pair
    _both_change(sync_setup, customer, coupling)
    result = synchronize(mapping)
    to_crm = _job(result, "to_crm")
    assert (to_crm.conflicts, to_crm.modified, to_crm.status) == (1, 0, JobRun.Status.FAILED)
    coupling.refresh_from_db()
    assert coupling.conflict
    [entry] = coupling.conflict_fields
    assert (entry["erp_field"], entry["base"], entry["erp"], entry["crm"]) == (
        "name",
        "Northwind",
        "Northwind ERP",
        "Northwind CRM",
    )
    customer.refresh_from_db()
    assert customer.name == "Northwind ERP"
    assert sync_setup.crm.row("accounts", str(coupling.crm_id))["name"] == "Northwind CRM"
    assert "Changed on both sides" in to_crm.errors.get().message
    # A person keeps the ERP's value: the next run sends it.
    after = services.conflict_resolve(coupling=coupling, choices={"name>name": "erp"})
    assert _job(after, "to_crm").modified == 1
    assert sync_setup.crm.row("accounts", str(coupling.crm_id))["name"] == "Northwind ERP"
    coupling.refresh_from_db()
    assert not coupling.conflict


def test_a_person_can_take_the_crm_value_per_field(sync_setup, pair) -> None:
    customer, coupling, mapping = pair
    _both_change(sync_setup, customer, coupling)
    customer.phone = "+1 555 0002"
    customer.save()
    synchronize(mapping)
    coupling.refresh_from_db()
    services.conflict_resolve(coupling=coupling, choices={"name>name": "crm"})
    customer.refresh_from_db()
    row = sync_setup.crm.row("accounts", str(coupling.crm_id))
    # name from the CRM, the phone (changed only in the ERP) from the ERP.
    assert (customer.name, row["name"]) == ("Northwind CRM", "Northwind CRM")
    assert (customer.phone, row["telephone1"]) == ("+1 555 0002", "+1 555 0002")


def test_erp_wins_sends_the_erp_value(sync_setup, pair) -> None:
    customer, coupling, mapping = pair
    _rule(mapping, update_conflict_resolution="send_to_crm")
    _both_change(sync_setup, customer, coupling)
    result = synchronize(mapping)
    assert _job(result, "to_crm").modified == 1
    customer.refresh_from_db()
    assert customer.name == "Northwind ERP"
    assert sync_setup.crm.row("accounts", str(coupling.crm_id))["name"] == "Northwind ERP"


def test_crm_wins_takes_the_crm_value(sync_setup, pair) -> None:
    customer, coupling, mapping = pair
    _rule(mapping, update_conflict_resolution="get_from_crm")
    _both_change(sync_setup, customer, coupling)
    result = synchronize(mapping)
    assert _job(result, "from_crm").modified == 1
    customer.refresh_from_db()
    assert customer.name == "Northwind CRM"
    assert sync_setup.crm.row("accounts", str(coupling.crm_id))["name"] == "Northwind CRM"


def test_a_deleted_account_is_reported_by_default(sync_setup, pair) -> None:
    customer, coupling, mapping = pair
    assert sync_setup.crm.delete(f"accounts({coupling.crm_id})").status_code == 204
    result = synchronize(mapping)
    job = _job(result, "from_crm")
    assert job.failed == 1
    assert "was deleted" in job.errors.get().message
    assert Customer.objects.filter(pk=customer.pk).exists()
    coupling.refresh_from_db()
    assert coupling.last_result_from_crm == "failure"


def test_a_deleted_account_is_restored_with_the_same_id(sync_setup, pair) -> None:
    customer, coupling, mapping = pair
    _rule(mapping, deletion_conflict_resolution="restore")
    assert sync_setup.crm.delete(f"accounts({coupling.crm_id})").status_code == 204
    synchronize(mapping)
    row = sync_setup.crm.row("accounts", str(coupling.crm_id))
    assert row["name"] == "Northwind"
    coupling.refresh_from_db()
    assert coupling.last_result_to_crm == "success"


def test_a_deleted_account_removes_the_coupling_under_that_rule(sync_setup, pair) -> None:
    customer, coupling, mapping = pair
    _rule(mapping, deletion_conflict_resolution="remove_coupling")
    assert sync_setup.crm.delete(f"accounts({coupling.crm_id})").status_code == 204
    job = _job(synchronize(mapping), "from_crm")
    assert job.uncoupled == 1
    assert not CrmCoupling.objects.filter(pk=coupling.pk).exists()
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_a_deleted_customer_is_restored_from_the_account(sync_setup, pair) -> None:
    customer, coupling, mapping = pair
    _rule(mapping, deletion_conflict_resolution="restore")
    uuid = customer.uuid
    Customer.objects.filter(pk=customer.pk).delete()
    synchronize(mapping)
    restored = Customer.objects.get(uuid=uuid)
    assert restored.name == "Northwind"
    coupling.refresh_from_db()
    assert coupling.state == CrmCoupling.State.COUPLED


def test_a_deleted_customer_is_reported_or_uncoupled(sync_setup, pair) -> None:
    customer, coupling, mapping = pair
    Customer.objects.filter(pk=customer.pk).delete()
    job = _job(synchronize(mapping), "to_crm")
    assert job.failed == 1 and "was deleted" in job.errors.get().message
    _rule(mapping, deletion_conflict_resolution="remove_coupling")
    job = _job(synchronize(mapping), "to_crm")
    assert job.uncoupled == 1
    assert not CrmCoupling.objects.filter(pk=coupling.pk).exists()
    # The account itself stays: the ERP never deletes CRM data on its own.
    assert sync_setup.crm.row("accounts", str(coupling.crm_id))["name"] == "Northwind"
