"""Sales order messages: FulfillSalesOrder and CancelSalesOrder.

Both take an `OrderClose` (an orderclose activity naming the order with
`salesorderid@odata.bind`) and a `Status`, a status code of the state they move the order to
(Fulfilled: 100001 Complete, 100002 Partial; Canceled: 4 No Money). They record the orderclose
activity, completed, and change the order's state and status; they return nothing (204).
FulfillSalesOrder also stamps `datefulfilled` when the order has none.
"""

from __future__ import annotations

from typing import Any

from sandbox.base import ApiBase
from sandbox.protocol import (
    CODE_INVALID_ARGUMENT,
    CODE_METHOD,
    CODE_VALIDATION,
    ApiError,
    Request,
    Response,
    utcnow_iso,
)

FULFILLED, CANCELED = 3, 2
# message -> (target state, its name); an order is closed from Active or Submitted only
MESSAGES = {
    "FulfillSalesOrder": (FULFILLED, "fulfilled"),
    "CancelSalesOrder": (CANCELED, "canceled"),
}
OPEN_STATES = (0, 1)


class OrderMixin(ApiBase):
    def close_sales_order(self, req: Request, message: str) -> Response:
        if req.method != "POST":
            raise ApiError(405, CODE_METHOD, f"{message} is an action: use POST.")
        state, verb = MESSAGES[message]
        body = req.json_body()
        close = body.get("OrderClose") if isinstance(body, dict) else None
        status = body.get("Status") if isinstance(body, dict) else None
        if not isinstance(close, dict):
            raise ApiError(400, CODE_INVALID_ARGUMENT, "The parameter 'OrderClose' is missing.")
        if isinstance(status, bool) or not isinstance(status, int):
            raise ApiError(
                400, CODE_INVALID_ARGUMENT, "The parameter 'Status' is missing or not an Int32."
            )
        orders = self.table("salesorder")
        reference = close.get("salesorderid@odata.bind")
        if not isinstance(reference, str):
            raise ApiError(
                400,
                CODE_INVALID_ARGUMENT,
                "OrderClose must name the order: 'salesorderid@odata.bind': '/salesorders(<id>)'.",
            )
        ref_table, order_id = self.resolve_reference(req, reference)
        if ref_table.logical != "salesorder":
            raise ApiError(
                400, CODE_INVALID_ARGUMENT, "OrderClose's salesorderid must be a salesorder."
            )
        order = self.find_row(orders, order_id)
        assert order is not None
        if orders.statuses.get(status, ("", None))[1] != state:
            raise ApiError(
                400,
                CODE_VALIDATION,
                f"{status} is not a valid status code for state code "
                f"salesorderState.{orders.states[state][0]} on salesorder.",
            )
        current = int(order.get("statecode") or 0)
        if current not in OPEN_STATES:
            raise ApiError(
                400,
                CODE_VALIDATION,
                f"The order cannot be {verb}: it is {orders.states[current][0]}, and only "
                "active or submitted orders can be closed.",
            )
        activity: dict[str, Any] = {
            k: v for k, v in close.items() if not k.startswith("@") and k != "activityid"
        }
        activity.setdefault("subject", f"Order {verb}")
        closing = self.create_row(req, self.table("orderclose"), activity)
        self.update_row(req, self.table("orderclose"), closing, {"statecode": 1, "statuscode": 2})
        values: dict[str, Any] = {"statecode": state, "statuscode": status}
        if state == FULFILLED and not order.get("datefulfilled"):
            values["datefulfilled"] = utcnow_iso()
        self.update_row(req, orders, order, values, by_message=True)
        return Response(204, [("OData-Version", "4.0")])
