"""ERP orders back to the CRM, end to end against the live sandbox with the engine: order
status (released, shipped → Fulfilled, invoiced → Invoiced), posted invoices with their lines
linked to the CRM order, customer statistics, and `manage.py salesorders push`."""

import importlib
import io
import uuid
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django_celery_beat.models import PeriodicTask

from erp import documents
from erp.models import SalesOrder
from salesorders import push, statistics
from salesorders.models import OrderStage, OrderStatusSent
from syncjobs import services
from syncjobs.defaults import ALL_AREAS
from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling, IntegrationTableMapping, JobRun
from tests.factories.erp import CustomerFactory, ItemFactory, SalesOrderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


@pytest.fixture
def coupled(sync_setup, crm_salesperson):
    """A customer and an item coupled to an account and a product (through the engine)."""
    customer = CustomerFactory(name="Lead to Cash Ltd", salesperson=crm_salesperson)
    item = ItemFactory(unit_price=Decimal("12.50"))
    for name in ("UNIT OF MEASURE", "ITEM-PRODUCT", "CUSTOMER"):
        job = synchronize(sync_setup.mapping(name), direction="to_crm", full=True).jobs[0]
        assert job.failed == 0, (name, job.message)
    account = CrmCoupling.objects.get(erp_uuid=customer.uuid).crm_id
    return customer, item, account


def _crm_order(crm, account, number: str) -> str:
    """A CRM order submitted by a salesperson, as the pull turns it into an ERP order."""
    order_id = crm.create(
        "salesorders",
        {"name": f"Order {number}", "ordernumber": number,
         "customerid_account@odata.bind": f"/accounts({account})"},
    )  # fmt: skip
    response = crm.patch(f"salesorders({order_id})", json={"statecode": 1, "statuscode": 3})
    assert response.status_code == 204, response.text
    return order_id


def _erp_order(customer, item, crm_order: str, number: str, quantity: str = "2") -> SalesOrder:
    order = SalesOrderFactory(
        customer=customer, your_reference=number,
        lines=[{"item": item, "quantity": Decimal(quantity)}],
    )  # fmt: skip
    CrmCoupling.objects.create(
        erp_table="erp.salesorder",
        erp_uuid=order.uuid,
        crm_entity="salesorder",
        crm_id=uuid.UUID(crm_order),
    )
    return order


def _state(crm, order_id: str) -> tuple[int, int]:
    row = crm.row("salesorders", order_id, "statecode,statuscode")
    return row["statecode"], row["statuscode"]


def _push() -> str:
    out = io.StringIO()
    try:
        call_command("salesorders", "push", stdout=out)
    except CommandError as exc:
        raise AssertionError(out.getvalue()) from exc
    return out.getvalue()


def _posts(crm, order_id: str) -> list[str]:
    rows = crm.all_rows("posts", f"?$filter=_regardingobjectid_value eq {order_id}")
    return sorted(r["text"] for r in rows)


def test_released_shipped_invoiced_order_becomes_fulfilled_then_invoiced_with_its_invoice(
    sync_setup, coupled
) -> None:
    customer, item, account = coupled
    crm = sync_setup.crm
    crm_order = _crm_order(crm, account, "ORD-7001")
    order = _erp_order(customer, item, crm_order, "ORD-7001")

    documents.sales_order_release(order=order)
    outcome = push.order_status_run()
    assert outcome.sent == [f"{order.no}: released"] and not outcome.failed
    assert _state(crm, crm_order) == (1, 3)  # still submitted
    assert _posts(crm, crm_order) == ["The order status has changed to Released."]

    documents.sales_order_ship(order=order)
    outcome = push.order_status_run()
    assert outcome.sent == [f"{order.no}: shipped"], outcome.failed
    assert _state(crm, crm_order) == (3, 100001)  # Fulfilled, Complete
    assert crm.row("salesorders", crm_order)["datefulfilled"]

    invoice = documents.sales_order_invoice(order=order)
    text = _push()
    assert f"{order.no}: invoiced" in text, text
    assert "POSTEDSALESINV-INV: 1 created" in text and "POSTEDSALESLINE-INV: 1 created" in text
    assert _state(crm, crm_order) == (4, 100003)  # Invoiced
    assert _posts(crm, crm_order) == [
        "A shipment has been created for the order.",
        "An invoice has been created for the order.",
        "The order status has changed to Released.",
    ]

    crm_invoice = CrmCoupling.objects.get(erp_uuid=invoice.uuid).crm_id
    row = crm.row("invoices", str(crm_invoice))
    assert row["invoicenumber"] == invoice.no
    assert row["_salesorderid_value"] == crm_order
    assert row["_customerid_value"] == str(account)
    assert Decimal(str(row["totalamount"])) == invoice.amount == Decimal("25.00")
    (detail,) = crm.all_rows("invoicedetails", f"?$filter=_invoiceid_value eq {crm_invoice}")
    product = CrmCoupling.objects.get(erp_uuid=item.uuid).crm_id
    assert detail["_productid_value"] == str(product)
    assert (Decimal(str(detail["quantity"])), Decimal(str(detail["priceperunit"]))) == (
        Decimal("2"),
        Decimal("12.5"),
    )
    assert detail["lineitemnumber"] == 10000

    # Nothing new: nothing is sent again, no second post, no second invoice.
    again = io.StringIO()
    call_command("salesorders", "push", stdout=again)
    assert "Order statuses: 0 order(s) updated, 0 failed." in again.getvalue()
    assert len(_posts(crm, crm_order)) == 3
    assert len(crm.all_rows("invoices", f"?$filter=_salesorderid_value eq {crm_order}")) == 1
    assert set(OrderStatusSent.objects.values_list("stage", flat=True)) == set(OrderStage.values)
    runs = JobRun.objects.filter(job_name=push.ORDER_STATUS)
    assert runs.count() == 4 and all(r.status == JobRun.Status.SUCCEEDED for r in runs)


def test_an_order_shipped_and_invoiced_between_two_runs_gets_every_step(
    sync_setup, coupled
) -> None:
    customer, item, account = coupled
    crm = sync_setup.crm
    crm_order = _crm_order(crm, account, "ORD-7002")
    order = _erp_order(customer, item, crm_order, "ORD-7002")
    documents.sales_order_release(order=order)
    documents.sales_order_ship(order=order)
    documents.sales_order_invoice(order=order)
    outcome = push.order_status_run()
    assert outcome.sent == [f"{order.no}: released, shipped, invoiced"], outcome.failed
    assert _state(crm, crm_order) == (4, 100003)
    assert len(_posts(crm, crm_order)) == 3


def test_push_says_which_order_failed_and_exits_non_zero(sync_setup, coupled) -> None:
    customer, item, account = coupled
    crm = sync_setup.crm
    gone = _crm_order(crm, account, "ORD-7003")
    order = _erp_order(customer, item, gone, "ORD-7003")
    fine = _erp_order(customer, item, _crm_order(crm, account, "ORD-7004"), "ORD-7004")
    documents.sales_order_release(order=order)
    documents.sales_order_release(order=fine)
    assert crm.delete(f"salesorders({gone})").status_code == 204
    out = io.StringIO()
    with pytest.raises(CommandError, match="could not be sent"):
        call_command("salesorders", "push", stdout=out)
    text = out.getvalue()
    assert f"failed: {order.no}: the coupled CRM order no longer exists" in text, text
    assert f"sent: {fine.no}: released" in text
    run = JobRun.objects.filter(job_name=push.ORDER_STATUS).first()
    assert (run.status, run.modified, run.failed) == (JobRun.Status.FAILED, 1, 1)
    assert run.errors.get().message == "the coupled CRM order no longer exists"


def _statistics(crm, account) -> dict:
    return crm.row("erpcrm_accountstatisticses", str(statistics.statistics_row_id(account)))


def test_customer_statistics_reach_the_account_and_follow_a_new_invoice(
    sync_setup, coupled
) -> None:
    customer, item, account = coupled
    crm = sync_setup.crm
    shipped = SalesOrderFactory(customer=customer, lines=[{"item": item, "quantity": 4}])
    documents.sales_order_release(order=shipped)
    documents.sales_order_ship(order=shipped)  # 4 x 12.50 shipped, not invoiced
    SalesOrderFactory(customer=customer, lines=[{"item": item, "quantity": 2}])  # 25 to ship
    other = CustomerFactory()  # not coupled: no statistics

    outcome = statistics.customer_statistics_run()
    assert outcome.updated == [customer.no] and not outcome.failed
    row = _statistics(crm, account)
    assert row["_erpcrm_accountid_value"] == str(account)
    assert row["erpcrm_customerno"] == customer.no
    assert Decimal(str(row["erpcrm_shippednotinvoiced"])) == Decimal("50")
    assert Decimal(str(row["erpcrm_outstandingorders"])) == Decimal("25")
    assert Decimal(str(row["erpcrm_balance"])) == Decimal("0")
    assert Decimal(str(row["erpcrm_total"])) == Decimal("75")

    # Unchanged: not written again.
    assert statistics.customer_statistics_run().updated == []

    documents.sales_order_invoice(order=shipped)
    outcome = statistics.customer_statistics_run()
    assert outcome.updated == [customer.no]
    row = _statistics(crm, account)
    assert Decimal(str(row["erpcrm_balance"])) == Decimal("50")
    assert Decimal(str(row["erpcrm_outstandinginvoices"])) == Decimal("50")
    assert Decimal(str(row["erpcrm_shippednotinvoiced"])) == Decimal("0")
    assert len(crm.all_rows("erpcrm_accountstatisticses")) == 1
    assert not CrmCoupling.objects.filter(erp_uuid=other.uuid).exists()
    run = JobRun.objects.filter(job_name=statistics.STATISTICS).first()
    assert run.status == JobRun.Status.SUCCEEDED and run.modified == 1


def test_the_jobs_are_scheduled_with_the_other_recurring_jobs(saved_connection, settings) -> None:
    settings.ORDER_STATUS_INTERVAL_MINUTES = 5
    services.default_setup_reset(
        options=services.DefaultSetupOptions(areas=ALL_AREAS, sales_order_integration=True)
    )
    status = PeriodicTask.objects.get(task="salesorders.order_status")
    stats = PeriodicTask.objects.get(task="salesorders.customer_statistics")
    assert (status.interval.every, stats.interval.every) == (5, 30)
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=["items"]))
    assert not PeriodicTask.objects.filter(task__startswith="salesorders.").exists()


def test_update_account_statistics_on_the_customer_card(
    sync_setup, coupled, integration_admin_client
) -> None:
    customer, item, account = coupled
    SalesOrderFactory(customer=customer, lines=[{"item": item, "quantity": 2}])
    card = f"/erp/customers/{customer.pk}/"
    page = integration_admin_client.get(card).content.decode()
    assert "Account statistics in the CRM" in page and "Not written to the CRM yet." in page
    response = integration_admin_client.post(
        f"/salesorders/customers/{customer.uuid}/statistics/", {"next": card}, follow=True
    )
    text = response.content.decode()
    assert response.redirect_chain == [(card, 302)]
    assert "The customer statistics have been successfully updated in the CRM." in text
    row = _statistics(sync_setup.crm, account)
    assert Decimal(str(row["erpcrm_outstandingorders"])) == Decimal("25")
    # An uncoupled customer's card has no such panel.
    other = CustomerFactory()
    page = integration_admin_client.get(f"/erp/customers/{other.pk}/").content.decode()
    assert "Account statistics in the CRM" not in page


def test_a_released_order_updates_its_submitted_crm_order_which_stays_submitted(
    sync_setup, coupled
) -> None:
    customer, item, account = coupled
    crm = sync_setup.crm
    crm_order = _crm_order(crm, account, "ORD-7005")
    order = _erp_order(customer, item, crm_order, "ORD-7005", quantity="3")
    documents.sales_order_release(order=order)
    services.default_setup_reset(
        options=services.DefaultSetupOptions(areas=ALL_AREAS, sales_order_integration=True)
    )
    mapping = sync_setup.mapping("SALESORDER-ORDER")
    assert mapping.erp_table == "erp.SalesOrder"
    job = synchronize(mapping).jobs[0]
    assert (job.modified, job.failed) == (1, 0), list(job.errors.values_list("message"))
    row = crm.row("salesorders", crm_order)
    assert Decimal(str(row["totalamount"])) == Decimal("37.5")
    assert row["shipto_name"] == customer.name
    assert (row["statecode"], row["statuscode"]) == (1, 3)  # submitted again
    # Shipped: the CRM order is closed and the header mapping leaves it alone.
    documents.sales_order_ship(order=order)
    assert not synchronize(mapping).jobs[0].failed


def test_existing_placeholder_mappings_are_pointed_at_the_erp_documents(saved_connection) -> None:
    migration = importlib.import_module("syncjobs.migrations.0012_lead_to_cash_mappings")
    services.default_setup_reset(
        options=services.DefaultSetupOptions(areas=ALL_AREAS, sales_order_integration=True)
    )
    IntegrationTableMapping.objects.filter(name="POSTEDSALESLINE-INV").delete()
    for name, placeholder in migration.PLACEHOLDERS.items():
        mapping = IntegrationTableMapping.objects.get(name=name)
        mapping.erp_table = placeholder
        mapping.save()
        mapping.field_mappings.filter(erp_field="customer").delete()
    migration.forwards(django_apps, None)
    invoices = IntegrationTableMapping.objects.get(name="POSTEDSALESINV-INV")
    assert invoices.erp_table == "erp.PostedSalesInvoice"
    assert invoices.field_mappings.filter(erp_field="customer", crm_field="customerid").exists()
    assert IntegrationTableMapping.objects.get(name="SALESORDER-ORDER").erp_table == (
        "erp.SalesOrder"
    )
    lines = IntegrationTableMapping.objects.get(name="POSTEDSALESLINE-INV")
    assert (lines.erp_table, lines.has_scheduled_job, lines.dependency_filter) == (
        "erp.PostedSalesInvoiceLine",
        False,
        "POSTEDSALESINV-INV",
    )
    assert lines.field_mappings.get(crm_field="isproductoverridden").value_map == {
        "item": False,
        "resource": True,
    }
