"""The lead-to-cash jobs, sent exactly as celery beat sends them, run in a real worker."""

import json
import uuid
from decimal import Decimal

import pytest
from celery import current_app
from django_celery_beat.models import PeriodicTask

from erp import documents
from salesorders import push, statistics
from syncjobs import services
from syncjobs.defaults import ALL_AREAS
from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling, IntegrationTableMapping, JobRun
from tests.factories.erp import CustomerFactory, ItemFactory, SalesOrderFactory
from tests.support.sandbox import Crm

pytestmark = [pytest.mark.worker, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def test_order_status_and_statistics_jobs_run_in_the_worker(
    sync_setup, crm_salesperson, sandbox, celery_worker_process
) -> None:
    services.default_setup_reset(
        options=services.DefaultSetupOptions(areas=ALL_AREAS, sales_order_integration=True)
    )
    customer = CustomerFactory(name="Worker Orders Ltd", salesperson=crm_salesperson)
    item = ItemFactory(unit_price=Decimal("10"))
    for name in ("UNIT OF MEASURE", "ITEM-PRODUCT", "CUSTOMER"):
        mapping = IntegrationTableMapping.objects.get(name=name)
        job = synchronize(mapping, direction="to_crm", full=True).jobs[0]
        assert job.failed == 0, (name, job.message)
    account = CrmCoupling.objects.get(erp_uuid=customer.uuid).crm_id
    crm = Crm(sandbox)
    crm_order = crm.create(
        "salesorders",
        {"name": "Worker order", "customerid_account@odata.bind": f"/accounts({account})"},
    )
    order = SalesOrderFactory(customer=customer, lines=[{"item": item, "quantity": 1}])
    CrmCoupling.objects.create(
        erp_table="erp.salesorder",
        erp_uuid=order.uuid,
        crm_entity="salesorder",
        crm_id=uuid.UUID(crm_order),
    )
    documents.sales_order_release(order=order)
    documents.sales_order_ship(order=order)

    for task_name in ("salesorders.order_status", "salesorders.customer_statistics"):
        task = PeriodicTask.objects.get(task=task_name)
        current_app.send_task(task.task, args=json.loads(task.args))
    celery_worker_process.wait_for(
        lambda: (
            JobRun.objects.filter(
                job_name__in=[push.ORDER_STATUS, statistics.STATISTICS], finished_at__isnull=False
            ).count()
            == 2
        )
    )
    runs = {
        r.job_name: r
        for r in JobRun.objects.filter(job_name__in=[push.ORDER_STATUS, statistics.STATISTICS])
    }
    assert runs[push.ORDER_STATUS].status == JobRun.Status.SUCCEEDED, runs[push.ORDER_STATUS]
    assert runs[statistics.STATISTICS].status == JobRun.Status.SUCCEEDED
    assert crm.row("salesorders", crm_order)["statecode"] == 3  # Fulfilled
    row = crm.row("erpcrm_accountstatisticses", str(statistics.statistics_row_id(account)))
    assert Decimal(str(row["erpcrm_shippednotinvoiced"])) == Decimal("10")
