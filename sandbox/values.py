"""Validation of written column values (types, lengths, ranges, states, business rules)."""

from __future__ import annotations

from typing import Any

from sandbox import odata
from sandbox.base import ApiBase
from sandbox.odata import ODataError
from sandbox.protocol import (
    CODE_INVALID_ARGUMENT,
    CODE_REQUIRED,
    CODE_VALIDATION,
    ApiError,
    Request,
)
from sandbox.tables import (
    BIGINT,
    BOOL,
    CHOICE,
    DATE,
    DATETIME,
    DECIMAL,
    GUID,
    INT,
    MEMO,
    MONEY,
    STRING,
    Table,
)

# Order, invoice lines: an existing product, or a write-in product (isproductoverridden and
# productdescription); Microsoft documents no code for the refusal, CODE_REQUIRED is ours.
LINE_TABLES = ("salesorderdetail", "invoicedetail")
ORDER_STATE_COLUMNS = ("statecode", "statuscode")


def write_in_rule(table: Table, row: dict[str, Any]) -> None:
    if row.get("isproductoverridden"):
        if row.get("_productid_value"):
            raise ApiError(
                400,
                CODE_VALIDATION,
                f"A write-in product line ({table.logical} with isproductoverridden = true) "
                "cannot also name an existing product (productid).",
            )
        if not (row.get("productdescription") or "").strip():
            raise ApiError(
                400,
                CODE_REQUIRED,
                f"Required field missing: a write-in product line ({table.logical} with "
                "isproductoverridden = true) needs its productdescription.",
            )
    elif not row.get("_productid_value"):
        raise ApiError(
            400,
            CODE_REQUIRED,
            f"Required field missing: the line ({table.logical}) needs an existing product "
            "(productid), or isproductoverridden = true and a productdescription for a write-in "
            "product.",
        )


class ValuesMixin(ApiBase):
    """Type conversion of written values, read-only / create-only columns, state and status
    pairs, computed columns and the few Sales business rules the sandbox enforces."""

    def convert(self, table: Table, name: str, value: Any) -> Any:
        col = table.column_map[name]
        if value is None:
            return None

        def invalid() -> ApiError:
            return ApiError(
                400,
                CODE_VALIDATION,
                f"A validation error occurred.  The value '{value}' of the '{name}' attribute of "
                f"the '{table.logical}' entity is not valid for its type ({col.type}).",
            )

        if col.type in (STRING, MEMO):
            if not isinstance(value, str):
                raise invalid()
            limit = col.max_length or (1048576 if col.type == MEMO else 4000)
            if len(value) > limit:
                raise ApiError(
                    400,
                    CODE_VALIDATION,
                    f"A validation error occurred.  The length of the '{name}' attribute of the "
                    f"'{table.logical}' entity exceeded the maximum allowed length of '{limit}'.",
                )
            return value
        if col.type in (INT, BIGINT, CHOICE):
            if isinstance(value, bool) or not isinstance(value, int):
                raise invalid()
            options = self.column_options(table, name) if col.type == CHOICE else {}
            if options and value not in options:
                raise ApiError(
                    400,
                    CODE_VALIDATION,
                    f"A validation error occurred.  The value {value} of '{name}' on record of "
                    f"type '{table.logical}' is outside the valid range. Accepted Values: "
                    + ",".join(str(k) for k in options),
                )
        elif col.type in (DECIMAL, MONEY):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                if isinstance(value, str):
                    try:
                        value = float(value)
                    except ValueError:
                        raise invalid() from None
                else:
                    raise invalid()
            value = round(
                float(value),
                col.precision if col.precision is not None else (4 if col.type == MONEY else 10),
            )
        elif col.type == BOOL:
            if not isinstance(value, bool):
                raise invalid()
        elif col.type == DATETIME:
            if not isinstance(value, str):
                raise invalid()
            try:
                value = odata.normalize_datetime(value)
            except ODataError:
                raise invalid() from None
        elif col.type == DATE:
            if not isinstance(value, str) or not odata.DATE_RE.match(value[:10]):
                raise invalid()
            value = value[:10]
        elif col.type == GUID:
            if not isinstance(value, str) or not odata.GUID_RE.match(value):
                raise invalid()
            value = value.lower()
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if numeric and (
            (col.minimum is not None and value < col.minimum)
            or (col.maximum is not None and value > col.maximum)
        ):
            raise ApiError(
                400,
                CODE_VALIDATION,
                f"A validation error occurred.  The value {value} of '{name}' on record of "
                f"type '{table.logical}' is outside the valid range.",
            )
        return value

    def check_writable(
        self,
        table: Table,
        name: str,
        creating: bool,
        row: dict[str, Any],
        read_only: bool,
        create_only: bool,
        value: Any,
        *,
        lookup: bool = False,
    ) -> None:
        if read_only:
            raise ApiError(
                400,
                CODE_VALIDATION,
                f"A validation error occurred.  The '{name}' attribute of the '{table.logical}' "
                "entity is read-only.",
            )
        if create_only and not creating:
            current = row.get(f"_{name}_value" if lookup else name)
            if lookup and isinstance(value, str):
                return  # compared after resolution in set_lookup's caller; keep it simple
            if value != current:
                raise ApiError(
                    400,
                    CODE_VALIDATION,
                    f"A validation error occurred.  The '{name}' attribute of the "
                    f"'{table.logical}' entity is not valid for update.",
                )

    def finish_row(
        self, table: Table, row: dict[str, Any], cache: dict[tuple[str, str], Any]
    ) -> None:
        """Computed columns and state/status consistency."""
        if "fullname" in table.computed:
            row["fullname"] = (
                " ".join(p for p in (row.get("firstname"), row.get("lastname")) if p) or None
            )
        if "address1_composite" in table.column_map:
            parts = [
                row.get("address1_line1"), row.get("address1_postalcode"),
                row.get("address1_city"), row.get("address1_country"),
            ]  # fmt: skip
            row["address1_composite"] = "\n".join(p for p in parts if p) or None
        if table.logical == "productpricelevel" and row.get("_productid_value"):
            product = self.related_row("product", row["_productid_value"], cache)
            row["productnumber"] = product.get("productnumber") if product else None
        if table.logical == "uom":
            row.setdefault("isschedulebaseuom", False)
        if table.logical in LINE_TABLES:
            for flag in ("isproductoverridden", "ispriceoverridden"):
                if row.get(flag) is None:
                    row[flag] = False  # two-option columns default to "no", never null
            # Dataverse calculates these: price x quantity, less the manual discount, plus tax
            base = round((row.get("priceperunit") or 0) * (row.get("quantity") or 0), 4)
            row["baseamount"] = base
            row["extendedamount"] = round(
                base - (row.get("manualdiscountamount") or 0) + (row.get("tax") or 0), 4
            )
        if table.logical == "systemuser":
            # Dataverse's isdisabled, islicensed and isintegrationuser are two-option columns
            # that are never null: isdisabled defaults to "Enabled" (false), so
            # `$filter=isdisabled eq false` finds every enabled user; a user nobody gave a
            # licence is unlicensed; "integration user mode" is off unless set.
            for flag in ("isdisabled", "islicensed", "isintegrationuser"):
                if row.get(flag) is None:
                    row[flag] = False

    def check_state(self, table: Table, row: dict[str, Any], body: dict[str, Any]) -> None:
        if not table.states:
            return
        state, status = row.get("statecode"), row.get("statuscode")
        if "statecode" in body and "statuscode" not in body:
            row["statuscode"] = table.states[state][1] if state in table.states else status
        elif (
            "statuscode" in body
            and "statecode" not in body
            and status in table.statuses
            and table.statuses[status][1] != state
        ):
            raise ApiError(
                400,
                CODE_VALIDATION,
                f"{status} is not a valid status code for state code "
                f"{table.logical}State.{table.states[row['statecode']][0]} on {table.logical}.",
            )
        if row.get("statecode") not in table.states:
            raise ApiError(
                400, CODE_VALIDATION, f"{state} is not a valid state code on {table.logical}."
            )
        status = row.get("statuscode")
        if status not in table.statuses or table.statuses[status][1] != row["statecode"]:
            raise ApiError(
                400,
                CODE_VALIDATION,
                f"{status} is not a valid status code for state code "
                f"{table.logical}State.{table.states[row['statecode']][0]} on {table.logical}.",
            )

    def order_edit_rule(
        self, req: Request, table: Table, row: dict[str, Any], body: dict[str, Any]
    ) -> None:
        """Only active orders can be edited (Dataverse's Sales: a submitted, fulfilled, canceled
        or invoiced order is read-only, its lines too). Changing the state alone is allowed, so
        a client sets the order active, writes, and sets the state back, as the reference does
        for LastBackofficeSubmit; administrators may write read-only orders."""
        if table.logical == "salesorder":
            order: dict[str, Any] | None = row
            if not any(k for k in body if not k.startswith("@") and k not in ORDER_STATE_COLUMNS):
                return
        elif table.logical == "salesorderdetail":
            order = self.store.get("salesorders", row.get("_salesorderid_value") or "")
        else:
            return
        state = (order or {}).get("statecode") or 0
        if state == 0 or self.is_administrator(req):
            return
        name = self.table("salesorder").states.get(state, ("",))[0]
        raise ApiError(
            400,
            CODE_INVALID_ARGUMENT,
            f"The order is {name} and is read-only: only active orders and their lines can be "
            "changed. Set the order active (statecode 0, statuscode 1), make the change, then "
            "set its state back.",
        )

    def business_rules(self, table: Table, row: dict[str, Any], old: dict[str, Any] | None) -> None:
        if table.logical in LINE_TABLES:
            write_in_rule(table, row)
        if (
            table.logical == "transactioncurrency"
            and old is not None
            and row.get("isocurrencycode") != old.get("isocurrencycode")
        ):
            raise ApiError(
                400,
                CODE_VALIDATION,
                "A validation error occurred.  The 'isocurrencycode' attribute of the "
                "'transactioncurrency' entity is not valid for update.",
            )
