"""The salesperson's order pages (`/sales/`): sign in, open or start an order, add a product line
and see the ERP's available quantity of that product, fetched through the integration's item
availability function (sandbox/availability.py) as the signed-in user.

The stand-in for the order form of Dynamics 365 Sales with the integration solution's
availability lookup. Sign-in is with an interactive sandbox user (README: the administrator);
the session is a random id in an HttpOnly, SameSite=Strict cookie, kept in memory, and a POST
from another origin is refused, so another site cannot add lines in the user's name.
"""

from __future__ import annotations

import html
import secrets
import threading
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from sandbox import browse, odata, seed
from sandbox.protocol import ApiError, Request, Response

if TYPE_CHECKING:
    from sandbox.app import SandboxApp

COOKIE = "sandbox_sales"
ORDER_STATES = {0: "Active", 1: "Submitted", 2: "Canceled", 3: "Fulfilled", 4: "Invoiced"}
LIST_LIMIT = 500
PAGE_STYLE = (
    "form.inline{display:inline}label{display:block;margin:.5rem 0 .1rem}"
    ".notice{padding:.5rem .75rem;border-radius:4px;margin:.75rem 0;max-width:48rem}"
    ".ok{background:#e8f5e9;border:1px solid #8bc34a}.error{background:#fdecea;"
    "border:1px solid #e57373}"
)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _quantity(value: Any) -> str:
    try:
        return f"{Decimal(str(value)).normalize():f}"
    except InvalidOperation:
        return _e(value)


def _redirect(location: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(303, [("Location", location), *(headers or [])], b"")


def _text(status: int, message: str) -> Response:
    return Response(status, [("Content-Type", "text/plain; charset=utf-8")], message.encode())


class SalesPages:
    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.sessions: dict[str, str] = {}  # session id -> systemuserid
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ plumbing

    def __call__(self, environ: dict[str, Any], method: str, path: str) -> Response:
        parts = [p for p in path.split("/") if p][1:]  # below /sales/
        user = self.user(environ)
        if method == "POST":
            origin = environ.get("HTTP_ORIGIN")
            if origin and origin.rstrip("/") != self.app.base_url(environ):
                return _text(403, "Cross-origin form posts are refused.")
            form = {
                k: v[0]
                for k, v in parse_qs(self.app.read_body(environ).decode("utf-8", "replace")).items()
            }
            if parts == ["sign-in"]:
                return self.sign_in(form)
            if parts == ["sign-out"]:
                return self.sign_out(environ)
            if user is None:
                return _redirect("/sales/")
            if parts == ["orders"]:
                return self.create_order(environ, user, form)
            if len(parts) == 3 and parts[0] == "orders" and parts[2] == "lines":
                return self.add_line(environ, user, parts[1], form)
            return _text(404, "Not found")
        if method not in ("GET", "HEAD"):
            return _text(405, "Method not allowed")
        if user is None:
            return self.sign_in_page()
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if not parts:
            return self.orders_page(user)
        if len(parts) == 2 and parts[0] == "orders":
            return self.order_page(environ, user, parts[1], query)
        return _text(404, "Not found")

    def user(self, environ: dict[str, Any]) -> str | None:
        for item in environ.get("HTTP_COOKIE", "").split(";"):
            name, _, value = item.strip().partition("=")
            if name == COOKIE:
                with self.lock:
                    return self.sessions.get(value)
        return None

    def order(self, order_id: str) -> dict[str, Any] | None:
        if not odata.GUID_RE.match(order_id):
            return None
        return self.app.store.get("salesorders", order_id.lower())

    def request(self, environ: dict[str, Any], user: str, method: str = "GET") -> Request:
        return Request(method, "", "", {}, b"", self.app.base_url(environ), "v9.2", user)

    def page(self, title: str, body: str, user: str | None = None) -> Response:
        who = ""
        if user is not None:
            name = (self.app.store.get("systemusers", user) or {}).get("fullname") or user
            who = (
                f"<p class='muted'>Signed in as {_e(name)}. <form class='inline' method='post' "
                "action='/sales/sign-out'><button>Sign out</button></form></p>"
            )
        response = browse.document(
            title,
            f"<nav><a href='/sales/'>Orders</a><a href='/'>All tables</a></nav>{who}{body}",
            PAGE_STYLE,
        )
        response.headers.append(("Cache-Control", "no-store"))
        return response

    # ------------------------------------------------------------------ sign-in

    def sign_in_page(self, error: str = "") -> Response:
        message = f"<p class='notice error' role='alert'>{_e(error)}</p>" if error else ""
        return self.page(
            "Sign in - Sandbox CRM sales",
            "<h1>Sales orders</h1><p>Sign in with a sandbox user to work on orders.</p>"
            f"{message}<form method='post' action='/sales/sign-in'>"
            "<label>User name <input name='username' autocomplete='username' required></label>"
            "<label>Password <input name='password' type='password' "
            "autocomplete='current-password' required></label><button>Sign in</button></form>",
        )

    def sign_in(self, form: dict[str, str]) -> Response:
        found = seed.INTERACTIVE_USERS.get(form.get("username", "").strip().lower())
        password = form.get("password", "")
        if found is None or not secrets.compare_digest(password.encode(), found[0].encode()):
            response = self.sign_in_page("The user name or password is not right.")
            response.status = 401
            return response
        account = self.app.store.get("systemusers", found[1]) or {}
        if account.get("isdisabled"):
            response = self.sign_in_page("This user is disabled.")
            response.status = 403
            return response
        session = secrets.token_urlsafe(32)
        with self.lock:
            self.sessions[session] = found[1]
        cookie = f"{COOKIE}={session}; Path=/sales; HttpOnly; SameSite=Strict"
        return _redirect("/sales/", [("Set-Cookie", cookie)])

    def sign_out(self, environ: dict[str, Any]) -> Response:
        for item in environ.get("HTTP_COOKIE", "").split(";"):
            name, _, value = item.strip().partition("=")
            if name == COOKIE:
                with self.lock:
                    self.sessions.pop(value, None)
        expired = f"{COOKIE}=; Path=/sales; HttpOnly; SameSite=Strict; Max-Age=0"
        return _redirect("/sales/", [("Set-Cookie", expired)])

    # ------------------------------------------------------------------ orders

    def orders_page(self, user: str, error: str = "") -> Response:
        store = self.app.store
        orders = sorted(
            store.scan("salesorders"), key=lambda r: r.get("createdon") or "", reverse=True
        )[:LIST_LIMIT]
        accounts = sorted(store.scan("accounts"), key=lambda r: (r.get("name") or "").lower())
        rows = "".join(
            f"<tr><td><a href='/sales/orders/{_e(o['salesorderid'])}/'>{_e(o.get('name'))}</a>"
            f"</td><td>{_e(o.get('ordernumber'))}</td><td>{_e(self.customer_name(o))}</td>"
            f"<td>{_e(ORDER_STATES.get(o.get('statecode') or 0))}</td></tr>"
            for o in orders
        )
        options = "".join(
            f"<option value='{_e(a['accountid'])}'>{_e(a.get('name'))}</option>"
            for a in accounts[:LIST_LIMIT]
        )
        message = f"<p class='notice error' role='alert'>{_e(error)}</p>" if error else ""
        return self.page(
            "Orders - Sandbox CRM sales",
            f"<h1>Orders</h1>{message}<table><tr><th>Name</th><th>Order number</th>"
            f"<th>Customer</th><th>Status</th></tr>{rows}</table>"
            "<h2>New order</h2><form method='post' action='/sales/orders'>"
            "<label>Name <input name='name' required maxlength='300'></label>"
            "<label for='order-customer'>Customer</label>"
            f"<select id='order-customer' name='customer'>{options}</select>"
            "<button>Create order</button></form>",
            user,
        )

    def customer_name(self, order: dict[str, Any]) -> str:
        ref = order.get("_customerid_value")
        if not ref:
            return ""
        row = self.app.store.get("accounts", ref) or self.app.store.get("contacts", ref) or {}
        return str(row.get("name") or row.get("fullname") or "")

    def create_order(self, environ: dict[str, Any], user: str, form: dict[str, str]) -> Response:
        body: dict[str, Any] = {"name": form.get("name", "").strip()}
        customer = form.get("customer", "")
        if customer and odata.GUID_RE.match(customer):
            body["customerid_account@odata.bind"] = f"/accounts({customer})"
        api = self.app.api
        try:
            with self.app.store.transaction():
                row = api.create_row(
                    self.request(environ, user, "POST"), api.table("salesorder"), body
                )
        except ApiError as exc:
            return self.orders_page(user, exc.message)
        return _redirect(f"/sales/orders/{row['salesorderid']}/")

    # ------------------------------------------------------------------ one order

    def order_page(
        self,
        environ: dict[str, Any],
        user: str,
        order_id: str,
        query: dict[str, str],
        error: str = "",
    ) -> Response:
        store = self.app.store
        order = self.order(order_id)
        if order is None:
            return _text(404, "No such order.")
        lines = sorted(
            (
                r
                for r in store.scan("salesorderdetails")
                if r.get("_salesorderid_value") == order["salesorderid"]
            ),
            key=lambda r: (r.get("createdon") or "", r["salesorderdetailid"]),
        )
        products = sorted(
            (p for p in store.scan("products") if p.get("statecode") != 1),  # not retired
            key=lambda p: (p.get("name") or "").lower(),
        )[:LIST_LIMIT]
        uoms = sorted(store.scan("uoms"), key=lambda u: (u.get("name") or "").lower())
        names = {u["uomid"]: u.get("name") for u in uoms}
        product_names = {p["productid"]: p.get("name") for p in store.scan("products")}
        chosen_product = query.get("product", "")
        chosen_uom = query.get("uom", "")
        line_rows = "".join(
            "<tr><td>"
            + _e(
                r.get("productdescription")
                if r.get("isproductoverridden")
                else product_names.get(r.get("_productid_value") or "", "")
            )
            + f"</td><td>{_quantity(r.get('quantity'))}</td>"
            f"<td>{_e(names.get(r.get('_uomid_value') or '', ''))}</td>"
            f"<td>{_e(r.get('priceperunit'))}</td><td>{_e(r.get('extendedamount'))}</td></tr>"
            for r in lines
        )
        product_options = "".join(
            f"<option value='{_e(p['productid'])}'"
            + (" selected" if p["productid"] == chosen_product else "")
            + f">{_e(p.get('name'))} ({_e(p.get('productnumber'))})"
            + (" [draft]" if p.get("statecode") == 2 else "")
            + "</option>"
            for p in products
        )
        uom_options = "<option value=''>The product's default unit</option>" + "".join(
            f"<option value='{_e(u['uomid'])}'"
            + (" selected" if u["uomid"] == chosen_uom else "")
            + f">{_e(u.get('name'))}</option>"
            for u in uoms
        )
        quantity = query.get("quantity", "1")
        notices = ""
        if error:
            notices += f"<p class='notice error' role='alert'>{_e(error)}</p>"
        if query.get("added"):
            notices += "<p class='notice ok' id='line-added'>The line was added to the order.</p>"
        if chosen_product:
            notices += self.availability_notice(environ, user, chosen_product, chosen_uom)
        base = f"/sales/orders/{_e(order['salesorderid'])}/"
        state = ORDER_STATES.get(order.get("statecode") or 0)
        return self.page(
            f"{order.get('name') or 'Order'} - Sandbox CRM sales",
            f"<h1>Order {_e(order.get('name'))}</h1><p>Customer: {_e(self.customer_name(order))}"
            f" &middot; Status: {_e(state)} &middot; Order number: {_e(order.get('ordernumber'))}"
            f"</p>{notices}<h2>Order lines</h2><table id='order-lines'><tr><th>Product</th>"
            "<th>Quantity</th><th>Unit</th><th>Price per unit</th><th>Amount</th></tr>"
            f"{line_rows}</table><h2>Add a product</h2>"
            f"<form method='post' action='{base}lines'>"
            "<label for='line-product'>Product</label><select id='line-product' name='product' "
            f"required>{product_options}</select><label for='line-uom'>Unit</label>"
            f"<select id='line-uom' name='uom'>{uom_options}</select>"
            "<label for='line-quantity'>Quantity</label><input id='line-quantity' name='quantity' "
            f"value='{_e(quantity)}' inputmode='decimal' required>"
            f"<button formmethod='get' formaction='{base}' formnovalidate>Check availability"
            "</button> <button>Add line</button></form>",
            user,
        )

    def availability_notice(
        self, environ: dict[str, Any], user: str, product_id: str, uom_id: str
    ) -> str:
        api = self.app.api
        product = self.app.store.get("products", product_id.lower())
        if product is None:
            return "<p class='notice error' role='alert'>No such product.</p>"
        try:
            result = api.item_availability(
                self.request(environ, user), product, uom_id.lower() or None
            )
        except ApiError as exc:
            hint = (
                " Ask a CRM administrator for the Product Availability User role."
                if exc.status == 403
                else ""
            )
            return (
                "<div class='notice error' id='availability' role='alert'><strong>Item "
                f"availability</strong>: {_e(exc.message)}{hint}</div>"
            )
        blocked = " The item is blocked in the ERP." if result.get("Blocked") else ""
        return (
            "<div class='notice ok' id='availability'><strong>Available in the ERP</strong>: "
            f"<span id='available-quantity'>{_quantity(result['AvailableQuantity'])}</span> "
            f"{_e(result.get('UomName'))} of {_e(product.get('name'))} (item "
            f"{_e(result.get('ItemNo'))}).{blocked}</div>"
        )

    def add_line(
        self, environ: dict[str, Any], user: str, order_id: str, form: dict[str, str]
    ) -> Response:
        store = self.app.store
        order = self.order(order_id)
        if order is None:
            return _text(404, "No such order.")
        product_id = form.get("product", "").lower()
        uom_id = form.get("uom", "").lower()
        query = {"product": product_id, "uom": uom_id, "quantity": form.get("quantity", "")}
        product = store.get("products", product_id) if odata.GUID_RE.match(product_id) else None
        error = ""
        try:
            quantity = Decimal(form.get("quantity", "").strip().replace(",", "."))
            valid_quantity = quantity.is_finite() and quantity > 0
        except InvalidOperation:
            valid_quantity = False
        if product is None:
            error = "Choose a product."
        elif not valid_quantity:
            error = "The quantity must be a number greater than 0."
        elif uom_id and not odata.GUID_RE.match(uom_id):
            error = "Choose a unit."
        if error:
            return self.order_page(environ, user, order_id, query, error)
        assert product is not None
        unit = uom_id or product.get("_defaultuomid_value")
        body: dict[str, Any] = {
            "salesorderid@odata.bind": f"/salesorders({order['salesorderid']})",
            "productid@odata.bind": f"/products({product['productid']})",
            "quantity": float(quantity),
        }
        if unit:
            body["uomid@odata.bind"] = f"/uoms({unit})"
        if product.get("price") is not None:
            body["priceperunit"] = product["price"]
        api = self.app.api
        try:
            with store.transaction():
                api.create_row(
                    self.request(environ, user, "POST"), api.table("salesorderdetail"), body
                )
        except ApiError as exc:
            return self.order_page(environ, user, order_id, query, exc.message)
        after = urlencode({"product": product_id, "uom": uom_id, "added": "1"})
        return _redirect(f"/sales/orders/{order['salesorderid']}/?{after}")
