"""Contacts, items, salespeople and units of measure through their default mappings, with
their lookups (parent account, unit group, owner), against the live sandbox."""

import pytest

from erp.models import Contact, Salesperson
from sandbox import seed
from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling
from tests.factories.erp import (
    CompanyContactFactory,
    ContactFactory,
    CustomerFactory,
    ItemFactory,
    UnitOfMeasureFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def _job(result, direction):
    return next(j for j in result.jobs if j.direction == direction)


def _errors(job):
    return list(job.errors.values_list("message", flat=True))


def test_a_contact_gets_its_companys_account_as_parent_and_back(
    sync_setup, crm_salesperson
) -> None:
    company = CompanyContactFactory(name="Litware")
    customer = CustomerFactory(name="Litware", company_contact=company, salesperson=crm_salesperson)
    person = ContactFactory(
        first_name="Ana", last_name="Trujillo", company=company, salesperson=crm_salesperson
    )
    synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm", full=True)
    job = _job(synchronize(sync_setup.mapping("CONTACT"), direction="to_crm", full=True), "to_crm")
    assert (job.inserted, job.failed) == (1, 0), _errors(job)
    account_id = CrmCoupling.objects.get(erp_uuid=customer.uuid).crm_id
    contact_id = CrmCoupling.objects.get(erp_uuid=person.uuid).crm_id
    row = sync_setup.crm.row("contacts", str(contact_id))
    assert (row["firstname"], row["lastname"]) == ("Ana", "Trujillo")
    assert row["_parentcustomerid_value"] == str(account_id)
    # A contact created in the CRM under that account becomes a person of the company.
    new_id = sync_setup.crm.create(
        "contacts",
        {
            "firstname": "Maria",
            "lastname": "Anders",
            "parentcustomerid_account@odata.bind": f"/accounts({account_id})",
        },
    )
    # Synchronized now, by itself (a full run would also try the sandbox's seeded contacts,
    # whose accounts are not coupled: they wait for CUSTOMER).
    job = _job(synchronize(sync_setup.mapping("CONTACT"), crm_ids=[new_id]), "from_crm")
    assert (job.inserted, job.failed) == (1, 0), _errors(job)
    created = Contact.objects.get(uuid=CrmCoupling.objects.get(crm_id=new_id).erp_uuid)
    assert (created.type, created.name, created.company_id) == (
        "person",
        "Maria Anders",
        company.pk,
    )


def test_an_item_needs_its_unit_coupled_and_then_points_at_the_unit_group(sync_setup) -> None:
    unit = UnitOfMeasureFactory(code="BOX", description="Box")
    item = ItemFactory(description="ROME Lamp", base_unit_of_measure=unit)
    mapping = sync_setup.mapping("ITEM-PRODUCT")
    job = _job(synchronize(mapping, direction="to_crm", full=True), "to_crm")
    # The unit is not coupled yet: the item waits for UNIT OF MEASURE instead of failing for good.
    assert (job.inserted, job.failed) == (0, 1)
    coupling = CrmCoupling.objects.get(erp_uuid=item.uuid)
    assert (coupling.state, coupling.waiting_for, coupling.skipped) == (
        "pending",
        "UNIT OF MEASURE",
        False,
    )
    assert "BOX" not in str(_errors(job)) or "base_unit_of_measure" in str(_errors(job))
    units = _job(synchronize(sync_setup.mapping("UNIT OF MEASURE"), full=True), "to_crm")
    assert units.failed == 0, _errors(units)
    # Recovered on the next run of the item mapping (a retry, not a full run).
    job = _job(synchronize(mapping, direction="to_crm"), "to_crm")
    assert (job.inserted, job.failed) == (1, 0), _errors(job)
    coupling.refresh_from_db()
    assert (coupling.state, coupling.waiting_for) == ("coupled", "")
    group_id = CrmCoupling.objects.get(erp_uuid=unit.uuid).crm_id
    product = sync_setup.crm.row("products", str(coupling.crm_id))
    assert product["_defaultuomscheduleid_value"] == str(group_id)
    assert (product["productnumber"], product["name"], product["producttypecode"]) == (
        item.no,
        "ROME Lamp",
        1,
    )


def test_salespeople_come_from_crm_users_on_a_full_run(sync_setup) -> None:
    job = _job(synchronize(sync_setup.mapping("SALESPEOPLE"), full=True), "from_crm")
    assert job.failed == 0, _errors(job)
    people = seed.demo_data()["salespeople"]
    assert job.inserted >= len(people)
    first = people[0]
    coupling = CrmCoupling.objects.get(crm_id=seed.salesperson_user_id(first["code"]))
    salesperson = Salesperson.objects.get(uuid=coupling.erp_uuid)
    assert salesperson.name == first["name"]
    assert salesperson.email == f"{first['login']}@sandbox.example"
    assert salesperson.code.startswith("SP NO. ")
    # Application users, the disabled user and the integration user are not salespeople.
    emails = set(Salesperson.objects.values_list("email", flat=True))
    assert "integration@sandbox.example" not in emails
    assert "disabled@sandbox.example" not in emails
    again = _job(synchronize(sync_setup.mapping("SALESPEOPLE")), "from_crm")
    assert (again.inserted, again.modified, again.failed) == (0, 0, 0)
