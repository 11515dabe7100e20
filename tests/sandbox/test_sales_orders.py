"""What the lead-to-cash flow needs of the sandbox's orders, as Dataverse does it: the order's
states and statuses, FulfillSalesOrder and CancelSalesOrder, write-in product lines, calculated
line amounts, invoices linked to their order; and the salesperson's order pages refuse strangers."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox import seed
from tests.sandbox.conftest import Crm

pytestmark = pytest.mark.sandbox

COMPLETE, PARTIAL, INVOICED, NO_MONEY = 100001, 100002, 100003, 4


def new_order(crm: Crm, name: str = "Order 1") -> str:
    return crm.create(
        "salesorders",
        {"name": name, "customerid_account@odata.bind": f"/accounts({seed.account_id('C000001')})"},
    )


def state(crm: Crm, order: str) -> tuple[int, int]:
    row = crm.row("salesorders", order, "statecode,statuscode")
    return row["statecode"], row["statuscode"]


def fulfill(crm: Crm, order: str, status: int, path: str = "FulfillSalesOrder") -> Any:
    body = {
        "OrderClose": {
            "@odata.type": "Microsoft.Dynamics.CRM.orderclose",
            "subject": "Shipped by the ERP",
            "salesorderid@odata.bind": f"/salesorders({order})",
        },
        "Status": status,
    }
    return crm.post(path, json=body)


def test_an_order_goes_active_submitted_fulfilled_invoiced(integration_session: Crm) -> None:
    crm = integration_session
    order = new_order(crm)
    assert state(crm, order) == (0, 1)
    assert crm.patch(f"salesorders({order})", json={"statecode": 1, "statuscode": 3}).ok
    assert state(crm, order) == (1, 3)
    # taken over by the ERP, as the reference marks it: active, stamp, submitted again
    for body in (
        {"statecode": 0, "statuscode": 1},
        {"lastbackofficesubmit": "2026-11-30"},
        {"statecode": 1, "statuscode": 3},
    ):
        assert crm.patch(f"salesorders({order})", json=body).status_code == 204
    assert crm.row("salesorders", order)["lastbackofficesubmit"] == "2026-11-30"

    assert fulfill(crm, order, COMPLETE).status_code == 204

    assert state(crm, order) == (3, COMPLETE)
    assert crm.row("salesorders", order, "datefulfilled")["datefulfilled"]
    closes = crm.all_rows("ordercloses", f"?$filter=_salesorderid_value eq {order}")
    assert [(c["subject"], c["statecode"]) for c in closes] == [("Shipped by the ERP", 1)]
    assert crm.patch(f"salesorders({order})", json={"statecode": 4, "statuscode": INVOICED}).ok
    assert state(crm, order) == (4, INVOICED)


def test_fulfilling_needs_a_fulfilled_status_and_an_open_order(integration_session: Crm) -> None:
    crm = integration_session
    order = new_order(crm)
    wrong_status = fulfill(crm, order, INVOICED)
    assert wrong_status.status_code == 400
    assert "not a valid status code" in wrong_status.json()["error"]["message"]
    assert state(crm, order) == (0, 1)

    assert fulfill(crm, order, PARTIAL, "salesorders/Microsoft.Dynamics.CRM.FulfillSalesOrder").ok
    assert state(crm, order) == (3, PARTIAL)
    again = fulfill(crm, order, COMPLETE)
    assert again.status_code == 400 and "only active or submitted" in again.text
    missing = crm.post("FulfillSalesOrder", json={"Status": COMPLETE})
    assert missing.status_code == 400 and "OrderClose" in missing.text


def test_cancelling_an_order(integration_session: Crm) -> None:
    crm = integration_session
    order = new_order(crm)
    body = {"OrderClose": {"salesorderid@odata.bind": f"/salesorders({order})"}, "Status": NO_MONEY}
    assert crm.post("CancelSalesOrder", json=body).status_code == 204
    assert state(crm, order) == (2, NO_MONEY)


def test_order_lines_are_products_or_write_ins_with_calculated_amounts(
    integration_session: Crm,
) -> None:
    crm = integration_session
    order = new_order(crm)
    bind = {"salesorderid@odata.bind": f"/salesorders({order})"}
    product = crm.create("products", {"productnumber": "1000", "name": "Bicycle"})

    neither = crm.post("salesorderdetails", json={**bind, "quantity": 1})
    assert neither.status_code == 400 and "write-in" in neither.json()["error"]["message"]
    no_description = crm.post(
        "salesorderdetails", json={**bind, "isproductoverridden": True, "quantity": 1}
    )
    assert no_description.status_code == 400
    both = crm.post(
        "salesorderdetails",
        json={
            **bind,
            "isproductoverridden": True,
            "productdescription": "Gift wrapping",
            "productid@odata.bind": f"/products({product})",
        },
    )
    assert both.status_code == 400

    write_in = crm.create(
        "salesorderdetails",
        {
            **bind,
            "isproductoverridden": True,
            "productdescription": "Gift wrapping",
            "quantity": 3,
            "priceperunit": 10,
            "manualdiscountamount": 5,
        },
    )
    line = crm.create(
        "salesorderdetails",
        {**bind, "productid@odata.bind": f"/products({product})", "quantity": 2, "priceperunit": 7},
    )

    written = crm.row("salesorderdetails", write_in)
    assert written["productdescription"] == "Gift wrapping" and written["isproductoverridden"]
    assert (written["baseamount"], written["extendedamount"]) == (30, 25)
    ordinary = crm.row("salesorderdetails", line)
    assert ordinary["isproductoverridden"] is False and ordinary["_productid_value"] == product
    assert crm.patch(f"salesorderdetails({line})", json={"quantity": 3}).ok
    assert crm.row("salesorderdetails", line, "extendedamount")["extendedamount"] == 21
    lines = crm.get(f"salesorders({order})/order_details?$select=productdescription").json()
    assert len(lines["value"]) == 2


def test_an_invoice_is_linked_to_its_order(integration_session: Crm) -> None:
    crm = integration_session
    order = new_order(crm)
    invoice = crm.create(
        "invoices",
        {
            "name": "Invoice 1",
            "salesorderid@odata.bind": f"/salesorders({order})",
            "customerid_account@odata.bind": f"/accounts({seed.account_id('C000001')})",
        },
    )
    crm.create(
        "invoicedetails",
        {
            "invoiceid@odata.bind": f"/invoices({invoice})",
            "isproductoverridden": True,
            "productdescription": "Freight",
            "quantity": 1,
            "priceperunit": 12.5,
        },
    )
    assert crm.row("invoices", invoice, "_salesorderid_value")["_salesorderid_value"] == order
    found = crm.all_rows("invoices", f"?$filter=_salesorderid_value eq {order}&$select=name")
    assert [i["name"] for i in found] == ["Invoice 1"]


def test_the_order_pages_need_a_signed_in_user_and_refuse_other_origins(fresh: Any) -> None:
    page = requests.get(f"{fresh.url}/sales/", timeout=10)
    assert page.status_code == 200 and "Sign in" in page.text
    wrong = requests.post(
        f"{fresh.url}/sales/sign-in",
        data={"username": seed.ADMIN_USERNAME, "password": "wrong"},
        timeout=10,
        allow_redirects=False,
    )
    assert wrong.status_code == 401 and "not right" in wrong.text

    session = requests.Session()
    signed_in = session.post(
        f"{fresh.url}/sales/sign-in",
        data={"username": seed.ADMIN_USERNAME, "password": seed.ADMIN_PASSWORD},
        timeout=10,
    )
    assert signed_in.status_code == 200 and "New order" in signed_in.text
    foreign = session.post(
        f"{fresh.url}/sales/orders",
        data={"name": "From elsewhere"},
        headers={"Origin": "http://attacker.example"},
        timeout=10,
    )
    assert foreign.status_code == 403
    anonymous = requests.post(
        f"{fresh.url}/sales/orders", data={"name": "x"}, timeout=10, allow_redirects=False
    )
    assert anonymous.status_code == 303
    assert Crm(fresh).all_rows("salesorders", "?$select=name") == []


def test_only_active_orders_and_their_lines_can_be_edited(
    integration_session: Crm, admin_session: Crm
) -> None:
    crm = integration_session
    order = new_order(crm)
    bind = {"salesorderid@odata.bind": f"/salesorders({order})"}
    write_in = {"isproductoverridden": True, "quantity": 1}
    line = crm.create("salesorderdetails", {**bind, **write_in, "productdescription": "Wrap"})
    assert crm.patch(f"salesorders({order})", json={"statecode": 1, "statuscode": 3}).ok

    renamed = crm.patch(f"salesorders({order})", json={"name": "Changed"})
    assert renamed.status_code == 400
    assert "Submitted and is read-only" in renamed.json()["error"]["message"]
    more = crm.post("salesorderdetails", json={**bind, **write_in, "productdescription": "Bow"})
    assert more.status_code == 400
    assert crm.patch(f"salesorderdetails({line})", json={"quantity": 2}).status_code == 400
    assert admin_session.patch(f"salesorders({order})", json={"name": "By an admin"}).ok
    assert crm.row("salesorders", order, "name")["name"] == "By an admin"


def test_orders_and_invoices_have_the_columns_the_erp_writes(integration_session: Crm) -> None:
    crm = integration_session
    order = new_order(crm)
    header = {
        "shipto_name": "Adatum", "shipto_line2": "Floor 2", "shipto_stateorprovince": "WA",
        "billto_name": "Adatum HQ", "billto_line2": "PO Box 1", "billto_stateorprovince": "WA",
        "totalamountlessfreight": 100, "totalamount": 125, "discountamount": 5,
    }  # fmt: skip
    assert crm.patch(f"salesorders({order})", json=header).status_code == 204
    written = crm.row("salesorders", order, ",".join(header))
    assert {name: written[name] for name in header} == header
    invoice = crm.create(
        "invoices",
        {"name": "PSI-1", "description": "Work", **header, "freightamount": 0, "totaltax": 25},
    )
    row = crm.row("invoices", invoice, "description,billto_name,totalamountlessfreight")
    assert (row["description"], row["billto_name"], row["totalamountlessfreight"]) == (
        "Work",
        "Adatum HQ",
        100,
    )
