"""The guarantees synchronization relies on: immutable UUIDs, a modified_at that every write
path bumps, unique keys with clear messages, and referenced records that cannot vanish."""

import time
import uuid
from datetime import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from django.test import Client

from erp import models, services
from tests.factories import erp as f


def _tick() -> None:
    # modified_at has microsecond resolution; make sure "later" is measurably later.
    time.sleep(0.002)


def _modified(obj: models.SyncedModel) -> datetime:
    return type(obj).objects.values_list("modified_at", flat=True).get(pk=obj.pk)


def test_save_refuses_a_changed_uuid(db: None) -> None:
    customer = f.CustomerFactory()
    original = customer.uuid
    customer.uuid = uuid.uuid4()

    with pytest.raises(ValidationError, match="cannot be changed"):
        customer.save()

    assert models.Customer.objects.get(pk=customer.pk).uuid == original


def test_saving_a_new_instance_over_an_existing_row_keeps_its_uuid(db: None) -> None:
    person = f.SalespersonFactory()

    with pytest.raises(ValidationError, match="cannot be changed"):
        models.Salesperson(pk=person.pk, code=person.code, name="Impostor").save()

    stored = models.Salesperson.objects.get(pk=person.pk)
    assert (stored.uuid, stored.name) == (person.uuid, person.name)


def test_queryset_update_refuses_a_uuid(db: None) -> None:
    customer = f.CustomerFactory()

    with pytest.raises(ValidationError, match="cannot be changed"):
        models.Customer.objects.filter(pk=customer.pk).update(uuid=uuid.uuid4())

    assert models.Customer.objects.get(pk=customer.pk).uuid == customer.uuid


def test_bulk_update_refuses_a_uuid(db: None) -> None:
    item = f.ItemFactory()
    item.uuid = uuid.uuid4()

    with pytest.raises(ValidationError, match="cannot be changed"):
        models.Item.objects.bulk_update([item], ["uuid"])


def test_save_bumps_modified_at_even_with_update_fields(db: None) -> None:
    customer = f.CustomerFactory()
    before = _modified(customer)
    _tick()

    customer.name = "Renamed"
    customer.save(update_fields=["name"])

    assert _modified(customer) > before


def test_queryset_update_bumps_modified_at(db: None) -> None:
    customers = f.CustomerFactory.create_batch(2)
    before = [_modified(c) for c in customers]
    _tick()

    models.Customer.objects.filter(pk=customers[0].pk).update(city="Kiel")

    assert _modified(customers[0]) > before[0]
    assert _modified(customers[1]) == before[1]


def test_bulk_create_sets_modified_at(db: None) -> None:
    models.Resource.objects.bulk_create(
        f.ResourceFactory.build_batch(3, base_unit_of_measure=f.UnitOfMeasureFactory())
    )

    assert not models.Resource.objects.filter(modified_at__isnull=True).exists()
    assert models.Resource.objects.count() == 3


def test_bulk_upsert_bumps_modified_at_and_keeps_the_uuid(db: None) -> None:
    person = f.SalespersonFactory()
    before = _modified(person)
    _tick()
    changed = models.Salesperson(code=person.code, name="Renamed by upsert")

    models.Salesperson.objects.bulk_create(
        [changed], update_conflicts=True, unique_fields=["code"], update_fields=["name"]
    )
    with pytest.raises(ValidationError, match="cannot be changed"):
        models.Salesperson.objects.bulk_create(
            [changed], update_conflicts=True, unique_fields=["code"], update_fields=["uuid"]
        )

    stored = models.Salesperson.objects.get(pk=person.pk)
    assert stored.name == "Renamed by upsert"
    assert stored.uuid == person.uuid
    assert _modified(person) > before


def test_bulk_update_bumps_modified_at(db: None) -> None:
    items = f.ItemFactory.create_batch(2)
    before = [_modified(i) for i in items]
    _tick()
    for item in items:
        item.description = "Changed"

    models.Item.objects.bulk_update(items, ["description"])

    assert [_modified(i) > b for i, b in zip(items, before, strict=True)] == [True, True]


def test_service_update_bumps_modified_at(db: None) -> None:
    person = f.SalespersonFactory()
    before = _modified(person)
    _tick()

    services.record_update(instance=person, data={"name": "Jim Olive"})

    assert _modified(person) > before


def test_admin_change_form_bumps_modified_at(admin_client_logged_in: Client) -> None:
    customer = f.CustomerFactory(name="Before")
    before = _modified(customer)
    _tick()
    data = {k: ("" if v is None else v) for k, v in model_to_dict(customer).items()}
    data.update(name="Changed in admin", _save="Save")

    response = admin_client_logged_in.post(f"/admin/erp/customer/{customer.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.name == "Changed in admin"
    assert customer.modified_at > before


def test_admin_shows_uuid_read_only(admin_client_logged_in: Client) -> None:
    customer = f.CustomerFactory()
    original = customer.uuid
    data = {k: ("" if v is None else v) for k, v in model_to_dict(customer).items()}
    data.update(uuid=str(uuid.uuid4()), _save="Save")

    admin_client_logged_in.post(f"/admin/erp/customer/{customer.pk}/change/", data)

    customer.refresh_from_db()
    assert customer.uuid == original


def test_duplicate_code_gives_a_clear_validation_message(db: None) -> None:
    f.PaymentTermsFactory(code="30 DAYS")

    with pytest.raises(ValidationError) as excinfo:
        services.record_create(
            model=models.PaymentTerms, data={"code": "30 DAYS", "description": "Again"}
        )

    assert "Payment terms with this Code already exists." in excinfo.value.message_dict["code"]


def test_duplicate_number_is_also_refused_by_the_database(db: None) -> None:
    f.CustomerFactory(no="C1")

    with pytest.raises(IntegrityError), transaction.atomic():
        models.Customer(no="C1", name="Twin").save()


def test_lower_case_code_is_refused(db: None) -> None:
    with pytest.raises(ValidationError) as excinfo:
        services.record_create(model=models.ShipmentMethod, data={"code": "exw"})

    assert "upper-case" in excinfo.value.message_dict["code"][0]


def test_deleting_a_referenced_salesperson_is_refused_naming_its_customers(db: None) -> None:
    person = f.SalespersonFactory(code="JO")
    for no in ("C1", "C2", "C3", "C4"):
        f.CustomerFactory(no=no, salesperson=person)

    with pytest.raises(services.RecordInUse) as excinfo:
        services.record_delete(instance=person)

    message = excinfo.value.message
    assert message.startswith("Salesperson JO cannot be deleted because it is used by 4 customers")
    assert "C1, C2, C3 and 1 more" in message
    assert models.Salesperson.objects.filter(pk=person.pk).exists()


def test_deleting_a_company_with_people_is_refused(db: None) -> None:
    company = f.CompanyContactFactory(no="FIRM")
    f.ContactFactory(no="PERSON", company=company)

    with pytest.raises(services.RecordInUse, match="PERSON"):
        services.record_delete(instance=company)


def test_deleting_an_unreferenced_record_works(db: None) -> None:
    agent = f.ShippingAgentFactory()

    services.record_delete(instance=agent)

    assert not models.ShippingAgent.objects.exists()


def test_factories_build_valid_records_for_every_table(db: None) -> None:
    records = [
        f.SalespersonFactory(),
        f.CurrencyFactory(),
        f.UnitOfMeasureFactory(),
        f.PaymentTermsFactory(),
        f.ShipmentMethodFactory(),
        f.ShippingAgentFactory(),
        f.CustomerPriceGroupFactory(),
        f.ContactFactory(),
        f.CompanyContactFactory(),
        f.CustomerFactory(),
        f.ItemFactory(),
        f.ResourceFactory(),
        f.SalesPriceFactory(),
    ]

    for record in records:
        record.full_clean()
