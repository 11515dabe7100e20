"""The default integration table mappings and their scheduled jobs."""

import json

import pytest
from django_celery_beat.models import PeriodicTask

from connection.models import CrmConnection
from syncjobs import jobqueue, services, tasks
from syncjobs.defaults import ALL_AREAS
from syncjobs.models import IntegrationFieldMapping, IntegrationTableMapping, JobRun
from tests.factories.accounts import IntegrationAdminFactory

pytestmark = pytest.mark.django_db


def _reset(**kwargs):
    options = {"areas": ALL_AREAS, "enabled": True, **kwargs}
    return services.default_setup_reset(options=services.DefaultSetupOptions(**options))


def test_all_areas_create_the_reference_mappings_with_their_directions() -> None:
    _reset(sales_order_integration=True)
    directions = dict(IntegrationTableMapping.objects.values_list("name", "direction"))
    assert directions == {
        "SALESPEOPLE": "from_crm",
        "CURRENCY": "to_crm",
        "PAYMENT TERMS": "to_crm",
        "SHIPMENT METHOD": "to_crm",
        "SHIPPING AGENT": "to_crm",
        "UNIT OF MEASURE": "to_crm",
        "CUSTOMER": "bidirectional",
        "CONTACT": "bidirectional",
        "ITEM-PRODUCT": "bidirectional",
        "RESOURCE-PRODUCT": "bidirectional",
        "CUSTPRCGRP-PRICE": "to_crm",
        "SALESPRC-PRODPRICE": "to_crm",
        "POSTEDSALESINV-INV": "to_crm",
        "POSTEDSALESLINE-INV": "to_crm",
        "SALESORDER-ORDER": "to_crm",
    }


def test_customer_mapping_has_filters_dependencies_and_field_directions() -> None:
    _reset()
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    assert customer.crm_entity == "account"
    assert customer.table_filter == {"blocked": ""}
    assert "customertypecode eq 3" in customer.integration_table_filter
    assert customer.dependencies == [
        "SALESPEOPLE",
        "CURRENCY",
        "PAYMENT TERMS",
        "SHIPMENT METHOD",
        "SHIPPING AGENT",
    ]
    fields = {(f.erp_field, f.crm_field): f for f in customer.field_mappings.all()}
    assert fields[("name", "name")].direction == "bidirectional"
    assert fields[("credit_limit", "creditlimit")].direction == "to_crm"
    assert fields[("salesperson", "ownerid")].not_null
    assert fields[("primary_contact", "primarycontactid")].clear_value_on_failed_sync
    salespeople = IntegrationTableMapping.objects.get(name="SALESPEOPLE")
    assert {f.direction for f in salespeople.field_mappings.all()} == {"from_crm"}


def test_only_the_chosen_areas_get_mappings_and_sales_orders_only_when_on() -> None:
    _reset(areas=["customers", "items"])
    assert set(IntegrationTableMapping.objects.values_list("name", flat=True)) == {
        "CUSTOMER",
        "PAYMENT TERMS",
        "SHIPMENT METHOD",
        "SHIPPING AGENT",
        "ITEM-PRODUCT",
    }


def test_a_default_owner_replaces_the_salesperson_lookup_and_drops_salespeople() -> None:
    owner = "b1a7c0de-0000-4000-8000-000000000009"
    _reset(owner_is_salesperson=False, default_owner_id=owner)
    assert not IntegrationTableMapping.objects.filter(name="SALESPEOPLE").exists()
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    assert "SALESPEOPLE" not in customer.dependencies
    owner_field = customer.field_mappings.get(crm_field="ownerid")
    assert owner_field.erp_field == "" and owner_field.constant_value == f"/systemusers({owner})"
    assert not IntegrationFieldMapping.objects.filter(crm_field="owneridtype").exists()


def test_every_mapping_gets_a_30_minute_job_calling_the_task_with_its_id() -> None:
    mappings = _reset(item_availability=True)
    # A child mapping (an invoice's lines) runs with its header, without a job of its own.
    assert [m.name for m in mappings if m.periodic_task is None] == ["POSTEDSALESLINE-INV"]
    for mapping in [m for m in mappings if m.periodic_task is not None]:
        task = mapping.periodic_task
        assert task.task == "syncjobs.synchronize_mapping"
        assert json.loads(task.args) == [mapping.pk]
        assert (task.interval.every, task.interval.period) == (30, "minutes")
        assert task.enabled
    assert PeriodicTask.objects.filter(task="syncjobs.item_availability").count() == 1


def test_jobs_are_created_paused_while_the_integration_is_disabled() -> None:
    _reset(enabled=False)
    assert not PeriodicTask.objects.filter(
        task="syncjobs.synchronize_mapping", enabled=True
    ).exists()


def test_reset_replaces_edited_mappings_and_leaves_other_periodic_tasks_alone() -> None:
    heartbeat = PeriodicTask.objects.create(
        name="heartbeat", task="core.heartbeat", interval=jobqueue.interval_schedule(1)
    )
    _reset()
    IntegrationTableMapping.objects.filter(name="CUSTOMER").update(direction="to_crm")
    _reset()
    assert IntegrationTableMapping.objects.get(name="CUSTOMER").direction == "bidirectional"
    assert PeriodicTask.objects.filter(pk=heartbeat.pk).exists()
    assert (
        PeriodicTask.objects.filter(task="syncjobs.synchronize_mapping").count()
        == IntegrationTableMapping.objects.filter(has_scheduled_job=True).count()
    )


def test_a_scheduled_run_is_skipped_with_its_reason_when_it_cannot_run(db) -> None:
    mapping = _reset()[0]
    CrmConnection.objects.create(
        pk=1,
        environment_url="https://x.crm.dynamics.com",
        token_url="https://l.example/t",
        client_id="c",
        is_enabled=False,
    )
    tasks.synchronize_mapping(mapping.pk)
    run = JobRun.objects.get()
    assert (run.status, run.message) == (JobRun.Status.SKIPPED, "The integration is disabled.")
    CrmConnection.objects.update(is_enabled=True)
    IntegrationTableMapping.objects.filter(pk=mapping.pk).update(enabled=False)
    tasks.synchronize_mapping(mapping.pk)
    latest = JobRun.objects.latest("id")
    assert (latest.status, latest.message) == (JobRun.Status.SKIPPED, "the mapping is disabled")


def test_sync_page_lists_mappings_with_directions_and_jobs(client, db) -> None:

    _reset()
    client.force_login(IntegrationAdminFactory())
    text = client.get("/sync/").content.decode()
    assert "CUSTOMER" in text and "Bidirectional" in text and "From CRM" in text
    count = IntegrationTableMapping.objects.count()
    assert f"{count} of {count}" in text
