"""`erpcrm_GetItemAvailability`: the integration solution's item availability lookup.

Like the reference's CRM solution (docs/reference/business-central.md §6.1), the CRM reads its
one ERP connection record (`erpcrm_connections`, written by the ERP's setup) and calls the ERP's
item availability OData service with HTTP Basic: the record's user name and web service access
key. A bound function on product:

    GET products(<id>)/Microsoft.Dynamics.CRM.erpcrm_GetItemAvailability()
    GET products(<id>)/Microsoft.Dynamics.CRM.erpcrm_GetItemAvailability(UomId=<uom id>)
    GET products(<id>)/Microsoft.Dynamics.CRM.erpcrm_GetItemAvailability(UomId=@u)?@u=<uom id>

answers the ERP item's inventory, in the given unit when there is one (`uoms.quantity` base
units each). Failures are plug-in errors (`0x80040265`, as Dataverse answers an exception a
custom API's plug-in throws) with a message for the salesperson; the key is never in one.

The sandbox calls only the hosts of its ERP host list (`--erp-hosts`, setting
`SANDBOX_ERP_HOSTS`, loopback by default), never follows a redirect and ignores proxy settings
of the environment: whoever may write the connection record must not be able to point the CRM
server at any other address.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import requests

from sandbox import odata
from sandbox.base import ApiBase
from sandbox.protocol import (
    CODE_INVALID_ARGUMENT,
    CODE_METHOD,
    ApiError,
    Request,
    Response,
    json_response,
)

FUNCTION = "erpcrm_GetItemAvailability"
QUALIFIED = f"Microsoft.Dynamics.CRM.{FUNCTION}"
CONNECTION_TABLE = "erpcrm_connection"
CONNECTION_SET = "erpcrm_connections"
PRIVILEGE = "prvReaderpcrm_connection"
# What Dataverse answers when a plug-in (here: the custom API's) throws
# InvalidPluginExecutionException; the HTTP status is the one the plug-in sets.
CODE_PLUGIN = "0x80040265"
TIMEOUT = (3.05, 15.0)  # connect, read (seconds)
QUANTITY_STEP = Decimal("0.00001")  # Dataverse quantities have 5 decimals
FIX_KEY = (
    "In the ERP, an administrator enters the current key of that user on the CRM connection "
    "page (/connection/), or generates a new one there; the ERP then writes it into this "
    "CRM's ERP connection record."
)


def plugin_error(
    status: int, message: str, headers: list[tuple[str, str]] | None = None
) -> ApiError:
    return ApiError(status, CODE_PLUGIN, message, headers)


def host_list(text: str) -> frozenset[str]:
    return frozenset(h.strip().strip("[]").lower() for h in text.split(",") if h.strip())


@dataclass(frozen=True)
class ErpConnection:
    service_url: str
    username: str
    key: str


def _parameters(req: Request, text: str | None) -> dict[str, Any]:
    """`UomId=<guid>` or `UomId=@alias` (value from the query string) -> {"UomId": guid}."""
    if not text or not text.strip():
        return {}
    values: dict[str, Any] = {}
    for part in text.split(","):
        name, sep, raw = part.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or name != "UomId":
            raise ApiError(
                400,
                CODE_INVALID_ARGUMENT,
                f"The function '{FUNCTION}' has no parameter '{name}'; it takes UomId only.",
            )
        if raw.startswith("@"):
            raw = req.query.get(raw, "null")
        value = odata.parse_literal(raw)
        if value is not None and not (isinstance(value, str) and odata.GUID_RE.match(value)):
            raise ApiError(400, CODE_INVALID_ARGUMENT, f"UomId must be a Guid, not '{raw}'.")
        values[name] = value
    return values


class AvailabilityMixin(ApiBase):
    """The bound function and the lookup behind it (the order page calls `item_availability`)."""

    def availability_function(
        self, req: Request, row: dict[str, Any], parameters: str | None
    ) -> Response:
        if req.method not in ("GET", "HEAD"):
            raise ApiError(405, CODE_METHOD, f"{FUNCTION} is a function: use GET.")
        uom_id = _parameters(req, parameters).get("UomId")
        result = self.item_availability(req, row, uom_id)
        return json_response(
            200,
            {"@odata.context": f"{req.root}$metadata#Microsoft.Dynamics.CRM.{FUNCTION}Response"}
            | result,
        )

    def item_availability(
        self, req: Request, product: dict[str, Any], uom_id: str | None
    ) -> dict[str, Any]:
        """The ERP's availability of `product` (in unit `uom_id` if given), or an ApiError whose
        message a salesperson can act on."""
        uom = self._unit(product, uom_id)
        connection = self.erp_connection(req)
        item = self._erp_item(connection, product)
        try:
            inventory = Decimal(str(item.get("Inventory")))
        except InvalidOperation:
            raise plugin_error(502, "The ERP answered an inventory that is not a number.") from None
        per_unit = Decimal(str(uom.get("quantity") or 1)) if uom else Decimal(1)
        if per_unit <= 0:
            per_unit = Decimal(1)
        available = (inventory / per_unit).quantize(QUANTITY_STEP, rounding=ROUND_DOWN)
        return {
            "ProductId": product["productid"],
            "ItemNo": item.get("ItemNo"),
            "ItemDescription": item.get("Description"),
            "Blocked": bool(item.get("Blocked")),
            "BaseUnitOfMeasure": item.get("BaseUnitOfMeasure"),
            "BaseQuantity": float(inventory),
            "UomId": uom["uomid"] if uom else None,
            "UomName": uom.get("name") if uom else item.get("BaseUnitOfMeasure"),
            "AvailableQuantity": float(available),
        }

    def _unit(self, product: dict[str, Any], uom_id: str | None) -> dict[str, Any] | None:
        if not uom_id:
            return None
        uom = self.find_row(self.table("uom"), uom_id)
        assert uom is not None
        group = product.get("_defaultuomscheduleid_value")
        if group and uom.get("_uomscheduleid_value") != group:
            raise plugin_error(
                400,
                f"The unit '{uom.get('name')}' is not in the unit group of the product "
                f"'{product.get('name')}'; choose one of that group's units.",
            )
        return uom

    def erp_connection(self, req: Request) -> ErpConnection:
        """The ERP connection record, readable by the caller and complete."""
        if CONNECTION_TABLE not in self.tables:
            raise plugin_error(
                400,
                "This CRM has no ERP connection: the ERP integration solution is not imported, "
                "so there is no ERP connection record. In the ERP, an administrator redeploys "
                "the integration solution from the CRM connection page (/connection/).",
            )
        # Salespeople get this privilege from the solution's Product Availability User role.
        self.require_privilege(req, PRIVILEGE)
        rows = sorted(
            (r for r in self.store.scan(CONNECTION_SET) if r.get("statecode", 0) == 0),
            key=lambda r: (r.get("createdon") or "", r[f"{CONNECTION_TABLE}id"]),
        )
        record = rows[0] if rows else {}
        service_url = (record.get("erpcrm_availabilityserviceurl") or "").strip()
        username = record.get("erpcrm_availabilityusername") or ""
        key = record.get("erpcrm_availabilitykey") or ""
        if not rows:
            raise plugin_error(
                400,
                "This CRM has no ERP connection record (erpcrm_connections), so it does not "
                "know where the ERP's item availability service is. In the ERP, an "
                "administrator completes the CRM connection setup (/setup/ or /connection/), "
                "which writes the record.",
            )
        if not (service_url and username and key):
            raise plugin_error(
                400,
                "The item availability web service is not published to this CRM: the ERP "
                "connection record has no service address, user name or key. In the ERP, an "
                "administrator chooses the item availability user on the CRM connection page "
                "(/connection/).",
            )
        return ErpConnection(service_url, username, key)

    def _allowed_url(self, service_url: str) -> str:
        allowed = host_list(self.settings.erp_hosts)
        try:
            parts = urlsplit(service_url)
            host = (parts.hostname or "").lower()
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
            usable = parts.scheme in ("http", "https") and bool(host) and not parts.username
        except ValueError:
            host, usable = "", False
        if not usable:
            # not echoed: an address with user information may hold a password
            raise plugin_error(
                400,
                "The item availability service address in the ERP connection record is not an "
                "http(s) address without user information. In the ERP, check ERP_PUBLIC_URL and "
                "save the CRM connection page (/connection/) again.",
            )
        if host not in allowed:
            raise plugin_error(
                400,
                f"This CRM may not call '{host}': the item availability service address in the "
                "ERP connection record is not on the CRM's list of ERP hosts "
                f"({', '.join(sorted(allowed))}; sandbox setting SANDBOX_ERP_HOSTS).",
            )
        return service_url if service_url.endswith("/") else service_url + "/"

    def _erp_item(self, connection: ErpConnection, product: dict[str, Any]) -> dict[str, Any]:
        base = self._allowed_url(connection.service_url)
        url = f"{base}ProductItemAvailability"
        params = {
            "$filter": f"CrmProductId eq {product['productid']}",
            "$select": "ItemNo,Description,BaseUnitOfMeasure,Inventory,Blocked",
        }
        where = urlsplit(base).netloc
        with requests.Session() as session:
            session.trust_env = False  # no proxy or .netrc from the environment
            try:
                response = session.get(
                    url,
                    params=params,
                    headers={
                        "Accept": "application/json",
                        "OData-Version": "4.0",
                        # UTF-8, as the ERP reads it (requests would encode Latin-1 only)
                        "Authorization": "Basic "
                        + base64.b64encode(
                            f"{connection.username}:{connection.key}".encode()
                        ).decode("ascii"),
                    },
                    timeout=TIMEOUT,
                    allow_redirects=False,
                )
            except requests.Timeout:
                raise plugin_error(
                    504,
                    f"The ERP's item availability service at {where} did not answer in time. "
                    "Try again in a moment.",
                ) from None
            except requests.RequestException:
                raise plugin_error(
                    502,
                    f"The ERP's item availability service at {where} cannot be reached. Check "
                    "that the ERP is running and that the address in the ERP connection record "
                    "is right.",
                ) from None
        return self._erp_answer(response, connection, product, where)

    def _erp_answer(
        self,
        response: requests.Response,
        connection: ErpConnection,
        product: dict[str, Any],
        where: str,
    ) -> dict[str, Any]:
        status = response.status_code
        if status == 401:
            raise plugin_error(
                502,
                "The ERP refused the item availability web service key of user "
                f"'{connection.username}': the key in this CRM's ERP connection record is wrong "
                f"or has expired. {FIX_KEY}",
            )
        if status == 403:
            raise plugin_error(
                502,
                f"The ERP user '{connection.username}' may not use the item availability web "
                'service. In the ERP, an administrator gives that user the permission "Can use '
                'the item availability web service" (/users/).',
            )
        if status == 429:
            retry = response.headers.get("Retry-After", "60")
            retry = retry if retry.isdigit() else "60"
            raise plugin_error(
                503,
                "The ERP is refusing item availability requests for a while after failed "
                f"attempts. Try again in {retry} seconds.",
                [("Retry-After", retry)],
            )
        if status != 200:
            raise plugin_error(
                502,
                f"The ERP's item availability service at {where} answered with HTTP {status}.",
            )
        try:
            rows = response.json().get("value")
        except (ValueError, AttributeError):
            rows = None
        if not isinstance(rows, list):
            raise plugin_error(
                502,
                f"The ERP's item availability service at {where} did not answer an OData "
                "collection. Check the service address in the ERP connection record.",
            )
        if not rows or not isinstance(rows[0], dict):
            raise plugin_error(
                404,
                f"The product '{product.get('name')}' ({product.get('productnumber')}) is not "
                "coupled to an ERP item, so the ERP has no availability for it.",
            )
        return rows[0]


def is_call(segment: str) -> tuple[bool, str | None]:
    """Whether a path segment calls the function, and its parameter text."""
    name, parameters = odata.split_name_and_key(segment)
    if name != QUALIFIED:
        return False, None
    return True, parameters
