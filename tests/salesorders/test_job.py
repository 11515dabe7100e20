"""The "AUTO CREATE SALES ORDERS" job, sent as celery beat sends it, creates the submitted CRM
orders in a real worker, and records what it did."""

from __future__ import annotations

import pytest
from celery import current_app
from django.test import Client
from django_celery_beat.models import PeriodicTask

from accounts.roles import SALESPERSON
from connection.models import CrmConnection
from erp.models import SalesOrder
from salesorders.models import CrmOrderImport
from syncjobs import services
from syncjobs.defaults import ALL_AREAS, AUTO_CREATE_ORDERS_JOB
from syncjobs.models import JobRun, SyncError
from tests.factories.accounts import UserFactory

pytestmark = [pytest.mark.worker, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def test_the_scheduled_job_creates_submitted_orders_in_the_worker(
    order_world, celery_worker_process
) -> None:
    world = order_world
    services.default_setup_reset(
        options=services.DefaultSetupOptions(
            areas=ALL_AREAS, sales_order_integration=True, auto_create_sales_orders=True
        )
    )
    job = PeriodicTask.objects.get(task="salesorders.auto_create_sales_orders")
    assert job.interval.every == 30
    good = world.submit(
        "ORD-8001", [{"product": world.crm_id(world.item), "quantity": 4, "priceperunit": 9}]
    )
    bad = world.submit("ORD-8002", [{"productdescription": "Assembly", "quantity": 1}])

    current_app.send_task(job.task)
    celery_worker_process.wait_for(
        lambda: JobRun.objects.filter(
            job_name=AUTO_CREATE_ORDERS_JOB.name, finished_at__isnull=False
        ).exists()
    )

    run = JobRun.objects.get(job_name=AUTO_CREATE_ORDERS_JOB.name)
    assert (run.status, run.inserted, run.failed) == (JobRun.Status.FAILED, 1, 1), run.message
    [error] = SyncError.objects.filter(job=run)
    assert (error.source, str(error.crm_id)) == ("ORD-8002", bad)
    assert "write-in" in error.message
    assert SalesOrder.objects.get(your_reference="ORD-8001").lines.get().quantity == 4
    assert CrmOrderImport.objects.get(crm_order_id=good).status == CrmOrderImport.Status.CREATED


def test_the_job_does_nothing_when_automatic_creation_is_off(
    order_world, celery_worker_process
) -> None:
    order_world.submit(
        "ORD-8101", [{"product": order_world.crm_id(order_world.item), "quantity": 1}]
    )
    CrmConnection.objects.update(auto_create_sales_orders=False)
    current_app.send_task(AUTO_CREATE_ORDERS_JOB.task)
    celery_worker_process.wait_for(
        lambda: JobRun.objects.filter(
            job_name=AUTO_CREATE_ORDERS_JOB.name, finished_at__isnull=False
        ).exists()
    )
    run = JobRun.objects.get(job_name=AUTO_CREATE_ORDERS_JOB.name)
    assert run.status == JobRun.Status.SKIPPED and "off" in run.message
    assert not SalesOrder.objects.exists()


def test_create_selected_orders_runs_on_the_worker(order_world, celery_worker_process) -> None:
    world = order_world
    line = {"product": world.crm_id(world.item), "quantity": 1, "priceperunit": 5}
    orders = [world.submit(f"ORD-820{n}", [line]) for n in (1, 2)]
    client = Client()
    client.force_login(UserFactory(roles=[SALESPERSON]))

    response = client.post("/salesorders/crm/create-selected/", {"crm_order": orders}, follow=True)

    assert "2 CRM orders are being created in the ERP" in response.content.decode()
    celery_worker_process.wait_for(lambda: SalesOrder.objects.count() == 2)
    assert set(SalesOrder.objects.values_list("your_reference", flat=True)) == {
        "ORD-8201",
        "ORD-8202",
    }
    assert all(world.coupled(order) for order in orders)
