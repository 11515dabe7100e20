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
    # Published, not left a draft: salespeople can sell it.
    assert product["statecode"] == 0


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


def test_updates_and_unchanged_both_ways_for_items_contacts_and_salespeople(
    sync_setup, crm_salesperson
) -> None:
    crm = sync_setup.crm
    # Item: description both ways.
    unit = UnitOfMeasureFactory(code="PCS2", description="Piece")
    item = ItemFactory(description="PARIS Chair", base_unit_of_measure=unit)
    synchronize(sync_setup.mapping("UNIT OF MEASURE"), full=True)
    items = sync_setup.mapping("ITEM-PRODUCT")
    synchronize(items, direction="to_crm", full=True)
    synchronize(items)  # learns the rows' versions
    product_id = CrmCoupling.objects.get(erp_uuid=item.uuid).crm_id
    assert (
        crm.patch(f"products({product_id})", json={"name": "PARIS Chair, red"}).status_code == 204
    )
    result = synchronize(items)
    assert (_job(result, "to_crm").modified, _job(result, "from_crm").modified) == (0, 1)
    item.refresh_from_db()
    assert item.description == "PARIS Chair, red"
    item.unit_price = 99
    item.save()
    result = synchronize(items)
    assert (_job(result, "to_crm").modified, _job(result, "from_crm").modified) == (1, 0)
    assert float(crm.row("products", str(product_id))["price"]) == 99.0
    unchanged = synchronize(items)
    assert [(j.modified, j.inserted) for j in unchanged.jobs] == [(0, 0), (0, 0)]

    # Contact: e-mail both ways.
    company = CompanyContactFactory(name="Blue Yonder")
    CustomerFactory(name="Blue Yonder", company_contact=company, salesperson=crm_salesperson)
    person = ContactFactory(
        first_name="Lee", last_name="Ng", company=company, email="lee@example.com"
    )
    synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm", full=True)
    contacts = sync_setup.mapping("CONTACT")
    synchronize(contacts, direction="to_crm", full=True)
    contact_id = CrmCoupling.objects.get(erp_uuid=person.uuid).crm_id
    synchronize(contacts, crm_ids=[contact_id], force=False)
    person.email = "lee.ng@example.com"
    person.save()
    assert _job(synchronize(contacts, direction="to_crm"), "to_crm").modified == 1
    assert crm.row("contacts", str(contact_id))["emailaddress1"] == "lee.ng@example.com"
    assert (
        crm.patch(f"contacts({contact_id})", json={"mobilephone": "+1 555 7777"}).status_code == 204
    )
    job = _job(synchronize(contacts, crm_ids=[contact_id], force=False), "from_crm")
    assert job.modified == 1, _errors(job)
    person.refresh_from_db()
    assert person.mobile == "+1 555 7777"

    # Salesperson: the CRM user's phone comes to the ERP.
    people = sync_setup.mapping("SALESPEOPLE")
    synchronize(people, crm_ids=[CrmCoupling.objects.get(erp_uuid=crm_salesperson.uuid).crm_id])
    user_id = seed.salesperson_user_id(crm_salesperson.code)
    assert (
        crm.patch(f"systemusers({user_id})", json={"mobilephone": "+1 404 555 9999"}).status_code
        == 204
    )
    job = _job(synchronize(people), "from_crm")
    assert job.failed == 0, _errors(job)
    crm_salesperson.refresh_from_db()
    assert crm_salesperson.phone == "+1 404 555 9999"
    again = _job(synchronize(people), "from_crm")
    assert (again.modified, again.inserted) == (0, 0)
