"""Customers <-> accounts through the default CUSTOMER mapping, against the live sandbox."""

import pytest

from erp.models import Customer
from sandbox import seed
from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling, JobRun, RecordChange
from tests.factories.erp import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def _only(result, direction="to_crm"):
    [job] = [j for j in result.jobs if j.direction == direction]
    return job


def test_a_customer_becomes_an_account_owned_by_its_salespersons_user(
    sync_setup, crm_salesperson
) -> None:
    customer = CustomerFactory(name="Adatum Corporation", salesperson=crm_salesperson)
    job = _only(synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm", full=True))
    assert (job.inserted, job.failed, job.status) == (1, 0, JobRun.Status.SUCCEEDED), job.message
    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    assert coupling.state == CrmCoupling.State.COUPLED
    account = sync_setup.crm.row("accounts", str(coupling.crm_id))
    assert account["name"] == "Adatum Corporation"
    assert account["_ownerid_value"] == seed.salesperson_user_id(crm_salesperson.code)
    assert account["customertypecode"] == 3
    assert account["address1_city"] == customer.city
    assert float(account["creditlimit"]) == float(customer.credit_limit)


def test_an_account_change_comes_back_and_is_not_echoed(sync_setup, crm_salesperson) -> None:
    customer = CustomerFactory(name="Fabrikam", salesperson=crm_salesperson)
    mapping = sync_setup.mapping("CUSTOMER")
    synchronize(mapping, direction="to_crm", full=True)
    # The engine's own write comes back through change tracking: nothing to do.
    first = _only(synchronize(mapping), "from_crm")
    assert (first.modified, first.failed) == (0, 0), list(first.errors.values_list("message"))
    coupling = CrmCoupling.objects.get(erp_uuid=customer.uuid)
    response = sync_setup.crm.patch(
        f"accounts({coupling.crm_id})", json={"name": "Fabrikam Inc.", "telephone1": "+1 555 0100"}
    )
    assert response.status_code == 204, response.text
    result = synchronize(mapping)
    to_crm, from_crm = _only(result, "to_crm"), _only(result, "from_crm")
    assert (to_crm.modified, from_crm.modified) == (0, 1), (to_crm.message, from_crm.message)
    customer.refresh_from_db()
    assert (customer.name, customer.phone) == ("Fabrikam Inc.", "+1 555 0100")
    change = RecordChange.objects.get(job=from_crm, action="modify")
    assert {
        "erp_field": "name",
        "crm_field": "name",
        "old": "Fabrikam",
        "new": "Fabrikam Inc.",
    } in (change.fields)
    # The ERP write is not sent back to the CRM either.
    again = synchronize(mapping)
    assert [(j.direction, j.modified, j.inserted) for j in again.jobs] == [
        ("to_crm", 0, 0),
        ("from_crm", 0, 0),
    ]


def test_a_new_account_becomes_a_customer_on_a_full_run(sync_setup, crm_salesperson) -> None:
    account_id = sync_setup.crm.create(
        "accounts",
        {"name": "Contoso Pharmaceuticals", "customertypecode": 3, "address1_city": "Seattle"},
    )
    job = _only(
        synchronize(sync_setup.mapping("CUSTOMER"), direction="from_crm", full=True), "from_crm"
    )
    assert job.failed == 0, job.message
    coupling = CrmCoupling.objects.get(crm_id=account_id)
    customer = Customer.objects.get(uuid=coupling.erp_uuid)
    assert (customer.name, customer.city) == ("Contoso Pharmaceuticals", "Seattle")
    assert customer.no.startswith("CRM")
