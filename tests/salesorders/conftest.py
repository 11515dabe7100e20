"""The lead-to-cash test world: the live sandbox set up by setup_connection with sales order
integration, an ERP customer, item and resource coupled to their CRM account and products by the
synchronization engine, and a salesperson (the sandbox administrator) who submits orders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from connection.models import CrmConnection
from erp.models import Customer, Item, Resource
from salesorders.pull import ERP_ORDER_TABLE
from sandbox import seed
from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling
from tests.factories.erp import (
    CustomerFactory,
    ItemFactory,
    ResourceFactory,
    UnitOfMeasureFactory,
)
from tests.plugins.sync import SyncSetup
from tests.support.sandbox import ADMIN_USER, Crm

SUBMITTED = {"statecode": 1, "statuscode": 3}


@dataclass
class OrderWorld:
    setup: SyncSetup
    salesperson: Crm  # the sandbox administrator, selling in the CRM
    customer: Customer
    item: Item
    resource: Resource

    @property
    def crm(self) -> Crm:
        """The CRM read past the app, as the integration user."""
        return self.setup.crm

    def crm_id(self, record: Any) -> str:
        return str(CrmCoupling.objects.get(erp_uuid=record.uuid).crm_id)

    @property
    def account(self) -> str:
        return self.crm_id(self.customer)

    def product(self, name: str) -> str:
        """A CRM product nobody coupled to the ERP."""
        return self.salesperson.create(
            "products",
            {
                "productnumber": f"P-{uuid.uuid4().hex[:6]}",
                "name": name,
                "defaultuomscheduleid@odata.bind": f"/uomschedules({seed.UNIT_GROUP_ID})",
                "defaultuomid@odata.bind": f"/uoms({seed.UNIT_PIECE_ID})",
            },
        )

    def submit(
        self,
        number: str,
        lines: list[dict[str, Any]],
        *,
        customer: str = "",
        name: str = "",
        **header: Any,
    ) -> str:
        """An order entered and submitted in the CRM; `lines` are salesorderdetail bodies with
        `product` (a CRM product id) or a write-in `productdescription`."""
        customer = customer or f"/accounts({self.account})"
        order = self.salesperson.create(
            "salesorders",
            {
                "name": name or f"Order {number}",
                "ordernumber": number,
                "customerid_account@odata.bind"
                if customer.startswith("/accounts")
                else "customerid_contact@odata.bind": customer,
                **header,
            },
        )
        for line in lines:
            body = dict(line)
            product = body.pop("product", None)
            if product:
                body["productid@odata.bind"] = f"/products({product})"
            else:
                body["isproductoverridden"] = True
            body["salesorderid@odata.bind"] = f"/salesorders({order})"
            self.salesperson.create("salesorderdetails", body)
        response = self.salesperson.patch(f"salesorders({order})", json=SUBMITTED)
        assert response.status_code == 204, response.text
        return order

    def order_row(self, order: str) -> dict[str, Any]:
        return self.crm.row("salesorders", order)

    def coupled(self, order: str) -> bool:
        return CrmCoupling.objects.filter(erp_table=ERP_ORDER_TABLE, crm_id=order).exists()


@pytest.fixture
def order_world(sync_setup: SyncSetup, crm_salesperson: Any, sandbox: Any) -> OrderWorld:
    CrmConnection.objects.filter(pk=sync_setup.connection.pk).update(
        sales_order_integration=True,
        auto_create_sales_orders=True,
        order_processor_id=seed.INTEGRATION_USER_ID,
        order_processor_name="Integration user",
    )
    pieces = UnitOfMeasureFactory(code="PCS", description="Piece")
    hours = UnitOfMeasureFactory(code="HOUR", description="Hour")
    customer = CustomerFactory(
        no="C-ADATUM", name="Adatum Corporation", salesperson=crm_salesperson, city="Atlanta"
    )
    item = ItemFactory(
        no="1000", description="Bicycle", base_unit_of_measure=pieces, unit_price=Decimal("4000")
    )
    resource = ResourceFactory(
        no="LIFT", name="Lift truck", base_unit_of_measure=hours, unit_price=Decimal("85")
    )
    for name in ("UNIT OF MEASURE", "CUSTOMER", "ITEM-PRODUCT", "RESOURCE-PRODUCT"):
        result = synchronize(sync_setup.mapping(name), direction="to_crm", full=True)
        assert all(job.failed == 0 for job in result.jobs), (
            name,
            [list(job.errors.values_list("message", flat=True)) for job in result.jobs],
        )
    return OrderWorld(
        setup=sync_setup,
        salesperson=Crm(sandbox, ADMIN_USER),
        customer=customer,
        item=item,
        resource=resource,
    )
