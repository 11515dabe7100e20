"""Sales documents: sales orders with their lines, and the posted sales invoices they produce.

Every change to a sales order goes through these services, each in one transaction: numbers
come from a locked number series, prices from the customer's price group in the order's
currency, and posting (shipment, invoice) changes the order, its lines, the items' inventory
and the posted invoice together or not at all. Bad input and refused actions raise Django's
ValidationError with a message a user can act on.

As in Business Central: lines are changed only while the order is open; shipping and invoicing
need a released order; a shipment ships what is outstanding on every line, an invoice bills
what was shipped and not yet invoiced. Inventory may go negative (the reference allows it and
the CRM shows a negative quantity on hand as 0).
"""

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.models import (
    SALES_ORDER_HEADER_FIELDS,
    Currency,
    Customer,
    Item,
    LineType,
    NumberSeries,
    PostedSalesInvoice,
    PostedSalesInvoiceLine,
    Resource,
    SalesOrder,
    SalesOrderLine,
    SalesPrice,
    UnitOfMeasure,
)
from erp.services import PROTECTED_FIELDS

CENT = Decimal("0.01")
LINE_NO_STEP = 10000

# Number series of the documents: code -> prefix of the numbers it hands out.
SALES_ORDER_SERIES = ("SALES-ORDER", "SO")
POSTED_SALES_INVOICE_SERIES = ("POSTED-SALES-INVOICE", "PSI")

# What a user may set on an order header; the rest belongs to the services.
ORDER_FIELDS = frozenset(
    {
        "no",
        *SALES_ORDER_HEADER_FIELDS,
        *(
            f"{kind}_{part}"
            for kind in ("bill_to", "ship_to")
            for part in (
                "name",
                "address",
                "address_2",
                "post_code",
                "city",
                "county",
                "country_code",
            )
        ),
    }
)
LINE_FIELDS = frozenset(
    {
        "type",
        "item",
        "resource",
        "description",
        "quantity",
        "unit_of_measure",
        "unit_price",
        "line_discount_percent",
        "line_discount_amount",
    }
)
# Line values found or computed when given as None (or not at all).
COMPUTED_UNLESS_GIVEN = frozenset({"unit_price", "line_discount_percent", "line_discount_amount"})
# Copied from the customer to a new order unless the caller gives them.
CUSTOMER_DEFAULTS = (
    "currency",
    "salesperson",
    "payment_terms",
    "shipment_method",
    "shipping_agent",
)
CUSTOMER_ADDRESS = ("address", "address_2", "post_code", "city", "county", "country_code")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _refuse(message: str) -> ValidationError:
    return ValidationError(message, code="refused")


def _unknown_fields(data: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(data) - allowed - PROTECTED_FIELDS)
    if unknown:
        # A programming error rather than user input: forms and serializers list their fields.
        raise ValueError(f"Not settable on a sales document: {', '.join(unknown)}")


def _next_number(series: tuple[str, str], model: type[SalesOrder | PostedSalesInvoice]) -> str:
    """The next free number of `series`; the row lock holds until the caller's transaction
    ends, so concurrent postings wait for each other rather than take the same number."""
    code, prefix = series
    row, _created = NumberSeries.objects.select_for_update().get_or_create(
        code=code, defaults={"prefix": prefix}
    )
    while True:
        row.last_number += 1
        number = f"{row.prefix}{row.last_number:06d}"
        # A number typed by hand may already hold the next one: skip it.
        if not model._base_manager.filter(no=number).exists():
            break
    row.save(update_fields=["last_number"])
    return number


def _locked_order(order: SalesOrder) -> SalesOrder:
    """The order as stored, locked for the rest of the transaction: two clicks on "Post
    shipment" must not ship twice."""
    try:
        # of=self: the customer is read, not locked.
        rows = SalesOrder.objects.select_for_update(of=("self",)).select_related("customer")
        return rows.get(pk=order.pk)
    except SalesOrder.DoesNotExist as exc:
        raise _refuse(_("Sales order %(no)s no longer exists.") % {"no": order.no}) from exc


def _require_open(order: SalesOrder) -> None:
    if order.status != SalesOrder.Status.OPEN:
        raise _refuse(
            _("Sales order %(no)s is released: reopen it before changing it.") % {"no": order.no}
        )


def _check_customer(customer: Customer, *, action: str) -> None:
    """Business Central's Blocked: All stops every document, Ship stops shipments, Invoice
    stops invoices."""
    blocked = customer.blocked
    refused = (
        blocked == Customer.Blocked.ALL
        or (action == "ship" and blocked == Customer.Blocked.SHIP)
        or (action == "invoice" and blocked == Customer.Blocked.INVOICE)
    )
    if refused:
        raise _refuse(
            _("Customer %(no)s is blocked (%(blocked)s).")
            % {"no": customer.no, "blocked": customer.get_blocked_display()}
        )


# Prices


def sales_unit_price_get(
    *,
    customer: Customer,
    currency: Currency | None,
    item: Item,
    unit_of_measure: UnitOfMeasure,
    quantity: Decimal,
    on_date: datetime.date,
) -> Decimal:
    """The item's unit price for this customer: the lowest sales price of the customer's price
    group in the order's currency and unit that applies on the date and quantity; else the
    item's unit price, converted into the order's currency at its exchange rate."""
    if customer.price_group_id is not None:
        price = (
            SalesPrice.objects.filter(
                item=item,
                price_group_id=customer.price_group_id,
                currency=currency,
                unit_of_measure=unit_of_measure,
                minimum_quantity__lte=quantity,
            )
            .filter(Q(starting_date__isnull=True) | Q(starting_date__lte=on_date))
            .filter(Q(ending_date__isnull=True) | Q(ending_date__gte=on_date))
            .order_by("unit_price")
            .values_list("unit_price", flat=True)
            .first()
        )
        if price is not None:
            return price
    if unit_of_measure.pk != item.base_unit_of_measure_id:
        raise ValidationError(
            {
                "unit_of_measure": _(
                    "Item %(item)s has no sales price for the unit %(unit)s; enter the unit "
                    "price or use the unit %(base)s."
                )
                % {
                    "item": item.no,
                    "unit": unit_of_measure.code,
                    "base": item.base_unit_of_measure.code,
                }
            }
        )
    return _in_currency(item.unit_price, currency)


def _in_currency(local_amount: Decimal, currency: Currency | None) -> Decimal:
    if currency is None:
        return local_amount
    return _cents(local_amount * currency.exchange_rate)


# Orders


def sales_order_create(
    *, data: Mapping[str, Any], lines: Sequence[Mapping[str, Any]] = ()
) -> SalesOrder:
    """A new open order for `data["customer"]`, its defaults (currency, salesperson, terms,
    addresses) taken from the customer unless given, with `lines` priced as they are added."""
    _unknown_fields(data, ORDER_FIELDS)
    customer = data.get("customer")
    if not isinstance(customer, Customer):
        raise ValidationError({"customer": _("Choose the customer of the order.")})
    _check_customer(customer, action="order")
    with transaction.atomic():
        order = SalesOrder(customer=customer)
        for name in CUSTOMER_DEFAULTS:
            setattr(order, name, getattr(customer, name))
        order.bill_to_name = order.ship_to_name = customer.name
        for part in CUSTOMER_ADDRESS:
            value = getattr(customer, part)
            setattr(order, f"bill_to_{part}", value)
            setattr(order, f"ship_to_{part}", value)
        for name, value in data.items():
            if name not in PROTECTED_FIELDS:
                setattr(order, name, value)
        if not order.no:
            order.no = _next_number(SALES_ORDER_SERIES, SalesOrder)
        order.full_clean(exclude=["modified_at"])
        order.save()
        for index, line in enumerate(lines):
            try:
                _line_add(order=order, data=line)
            except ValidationError as exc:
                raise _in_line(exc, index) from exc
        return order


def _in_line(exc: ValidationError, index: int) -> ValidationError:
    """Say which of the given lines a problem belongs to."""
    return ValidationError({f"lines[{index}]": exc.messages})


def sales_order_update(*, order: SalesOrder, data: Mapping[str, Any]) -> SalesOrder:
    """Change the header of an open order. Customer and currency stay while it has lines: its
    prices were found for them."""
    _unknown_fields(data, ORDER_FIELDS)
    with transaction.atomic():
        stored = _locked_order(order)
        _require_open(stored)
        has_lines = stored.lines.exists()
        # Their prices were found for this customer and currency.
        fixed = {
            "customer": _("Delete the lines of the order before changing its customer."),
            "currency": _("Delete the lines of the order before changing its currency."),
        }
        for name, message in fixed.items():
            if name in data and has_lines and data[name] != getattr(stored, name):
                raise ValidationError({name: message})
        if "customer" in data and data["customer"] is not None:
            _check_customer(data["customer"], action="order")
        for name, value in data.items():
            if name not in PROTECTED_FIELDS:
                setattr(stored, name, value)
        stored.full_clean(exclude=["modified_at"])
        stored.save()
        return stored


def sales_order_delete(*, order: SalesOrder) -> None:
    with transaction.atomic():
        stored = _locked_order(order)
        if stored.lines.filter(quantity_shipped__gt=0).exists():
            raise _refuse(
                _("Sales order %(no)s has shipped lines and cannot be deleted.") % {"no": order.no}
            )
        stored.lines.all().delete()
        stored.delete()


def _order_amount_refresh(order: SalesOrder) -> None:
    order.amount = sum((line.line_amount for line in order.lines.all()), Decimal("0"))
    order.save(update_fields=["amount"])


# Lines


def _line_priced(*, line: SalesOrderLine, order: SalesOrder, explicit_price: bool) -> None:
    """Fill unit of measure and description (when blank) and the unit price (unless given)
    from the item or resource; refuse a blocked one."""
    if line.type == LineType.ITEM and line.item is not None:
        record: Item | Resource = line.item
    elif line.type == LineType.RESOURCE and line.resource is not None:
        record = line.resource
    else:
        line.full_clean(exclude=["modified_at", "order"])  # names what is missing
        return
    if record.blocked:
        field = "item" if isinstance(record, Item) else "resource"
        raise ValidationError({field: _("%(record)s is blocked.") % {"record": record}})
    if line.unit_of_measure_id is None:
        line.unit_of_measure = record.base_unit_of_measure
    if not line.description:
        line.description = record.description if isinstance(record, Item) else record.name
    if line.quantity is None or line.quantity <= 0:
        raise ValidationError({"quantity": _("Enter a quantity greater than 0.")})
    if not explicit_price:
        if isinstance(record, Item):
            line.unit_price = sales_unit_price_get(
                customer=order.customer,
                currency=order.currency,
                item=record,
                unit_of_measure=line.unit_of_measure,
                quantity=line.quantity,
                on_date=order.order_date,
            )
        else:
            line.unit_price = _in_currency(record.unit_price, order.currency)


def _line_amounts(line: SalesOrderLine, *, discount_amount_given: bool) -> None:
    gross = _cents(line.quantity * line.unit_price)
    if discount_amount_given:
        # The CRM sends a discount amount (volume plus manual discount); the percentage is
        # derived from it, as Business Central does.
        if line.line_discount_amount > gross:
            raise ValidationError(
                {"line_discount_amount": _("The discount cannot exceed the line's amount.")}
            )
        line.line_discount_percent = (
            _cents(line.line_discount_amount * 100 / gross) if gross else Decimal("0")
        )
    else:
        line.line_discount_amount = _cents(gross * (line.line_discount_percent or 0) / 100)
    line.line_amount = gross - line.line_discount_amount


def _line_save(
    *, line: SalesOrderLine, order: SalesOrder, data: Mapping[str, Any], repriced: bool
) -> SalesOrderLine:
    explicit_price = data.get("unit_price") is not None or not repriced
    _line_priced(line=line, order=order, explicit_price=explicit_price)
    line.full_clean(exclude=["modified_at", "line_amount", "line_discount_amount"])
    _line_amounts(line, discount_amount_given=data.get("line_discount_amount") is not None)
    line.full_clean(exclude=["modified_at"])
    line.save()
    _order_amount_refresh(order)
    return line


def _line_add(*, order: SalesOrder, data: Mapping[str, Any]) -> SalesOrderLine:
    _unknown_fields(data, LINE_FIELDS)
    last = order.lines.order_by("-line_no").values_list("line_no", flat=True).first() or 0
    line = SalesOrderLine(order=order, line_no=last + LINE_NO_STEP)
    for name, value in data.items():
        if value is None and name in COMPUTED_UNLESS_GIVEN:
            continue
        setattr(line, name, value)
    if not line.type:
        line.type = LineType.RESOURCE if data.get("resource") else LineType.ITEM
    return _line_save(line=line, order=order, data=data, repriced=True)


def sales_order_line_add(*, order: SalesOrder, data: Mapping[str, Any]) -> SalesOrderLine:
    """Add a line to an open order; its unit price is found unless `data` gives one."""
    with transaction.atomic():
        stored = _locked_order(order)
        _require_open(stored)
        return _line_add(order=stored, data=data)


def sales_order_line_update(*, line: SalesOrderLine, data: Mapping[str, Any]) -> SalesOrderLine:
    """Change a line of an open order. A new item, resource, unit or quantity finds the price
    again unless `data` gives one."""
    _unknown_fields(data, LINE_FIELDS)
    with transaction.atomic():
        order = _locked_order(line.order)
        _require_open(order)
        stored = SalesOrderLine.objects.select_for_update().get(pk=line.pk)
        changed = {name for name, value in data.items() if getattr(stored, name) != value}
        repriced = bool(changed & {"type", "item", "resource", "unit_of_measure", "quantity"})
        if changed & {"type", "item", "resource"}:
            # Another item or resource: its own unit and description, unless given.
            if "unit_of_measure" not in data:
                stored.unit_of_measure = None  # type: ignore[assignment]
            if "description" not in data:
                stored.description = ""
        for name, value in data.items():
            if value is None and name in COMPUTED_UNLESS_GIVEN:
                continue
            setattr(stored, name, value)
        return _line_save(line=stored, order=order, data=data, repriced=repriced)


def sales_order_line_delete(*, line: SalesOrderLine) -> None:
    with transaction.atomic():
        order = _locked_order(line.order)
        _require_open(order)
        stored = SalesOrderLine.objects.filter(pk=line.pk).first()
        if stored is None:
            return
        if stored.quantity_shipped:
            raise _refuse(
                _("Line %(line)s has been shipped and cannot be deleted.")
                % {"line": stored.line_no}
            )
        stored.delete()
        _order_amount_refresh(order)


# Status and posting


def sales_order_release(*, order: SalesOrder) -> SalesOrder:
    with transaction.atomic():
        stored = _locked_order(order)
        if stored.status == SalesOrder.Status.RELEASED:
            raise _refuse(_("Sales order %(no)s is already released.") % {"no": stored.no})
        _check_customer(stored.customer, action="order")
        if not stored.lines.exists():
            raise _refuse(
                _("Sales order %(no)s has no lines: there is nothing to release.")
                % {"no": stored.no}
            )
        stored.status = SalesOrder.Status.RELEASED
        stored.save(update_fields=["status"])
        return stored


def sales_order_reopen(*, order: SalesOrder) -> SalesOrder:
    with transaction.atomic():
        stored = _locked_order(order)
        if stored.status == SalesOrder.Status.OPEN:
            raise _refuse(_("Sales order %(no)s is already open.") % {"no": stored.no})
        stored.status = SalesOrder.Status.OPEN
        stored.save(update_fields=["status"])
        return stored


def _require_released(order: SalesOrder) -> None:
    if order.status != SalesOrder.Status.RELEASED:
        raise _refuse(
            _("Sales order %(no)s is open: release it before posting.") % {"no": order.no}
        )


@dataclass(frozen=True)
class Shipment:
    order: SalesOrder
    # (line, quantity shipped now)
    lines: list[tuple[SalesOrderLine, Decimal]]


def sales_order_ship(*, order: SalesOrder, shipment_date: datetime.date | None = None) -> Shipment:
    """Ship what is outstanding on every line of a released order: fills the lines' quantity
    shipped and shipment date and takes the items' quantities out of inventory."""
    shipment_date = shipment_date or timezone.localdate()
    with transaction.atomic():
        stored = _locked_order(order)
        _require_released(stored)
        _check_customer(stored.customer, action="ship")
        lines = [
            line
            for line in stored.lines.select_for_update().order_by("line_no")
            if line.outstanding_quantity > 0
        ]
        if not lines:
            raise _refuse(_("Sales order %(no)s has nothing left to ship.") % {"no": stored.no})
        shipped = [(line, line.outstanding_quantity) for line in lines]
        taken: dict[int, Decimal] = {}
        for line, quantity in shipped:
            if line.item_id is not None:
                taken[line.item_id] = taken.get(line.item_id, Decimal("0")) + quantity
            line.quantity_shipped = line.quantity
            line.shipment_date = shipment_date
        # In id order, so that two shipments of the same items cannot deadlock.
        items = list(Item.objects.select_for_update().filter(pk__in=taken).order_by("pk"))
        for item in items:
            item.inventory -= taken[item.pk]
        if items:
            Item.objects.bulk_update(items, ["inventory"])
        SalesOrderLine.objects.bulk_update(lines, ["quantity_shipped", "shipment_date"])
        stored.shipped = not stored.lines.filter(quantity_shipped__lt=F("quantity")).exists()
        stored.last_shipment_date = shipment_date
        stored.save(update_fields=["shipped", "last_shipment_date"])
        return Shipment(order=stored, lines=shipped)


def sales_order_invoice(
    *, order: SalesOrder, posting_date: datetime.date | None = None
) -> PostedSalesInvoice:
    """Post an invoice for what was shipped and not yet invoiced: a posted sales invoice with
    one line per such order line. Once everything is shipped and invoiced, the order is
    completely invoiced."""
    posting_date = posting_date or timezone.localdate()
    with transaction.atomic():
        stored = _locked_order(order)
        _require_released(stored)
        _check_customer(stored.customer, action="invoice")
        lines = [
            line
            # of=self: PostgreSQL cannot lock the nullable side of the outer joins.
            for line in stored.lines.select_for_update(of=("self",))
            .select_related("item", "resource")
            .order_by("line_no")
            if line.quantity_to_invoice > 0
        ]
        if not lines:
            raise _refuse(
                _(
                    "Sales order %(no)s has nothing shipped that is not invoiced: post a "
                    "shipment first."
                )
                % {"no": stored.no}
            )
        terms = stored.payment_terms
        invoice = PostedSalesInvoice(
            no=_next_number(POSTED_SALES_INVOICE_SERIES, PostedSalesInvoice),
            order=stored,
            order_no=stored.no,
            customer=stored.customer,
            your_reference=stored.your_reference,
            external_document_no=stored.external_document_no,
            posting_date=posting_date,
            due_date=posting_date + datetime.timedelta(days=terms.due_days) if terms else None,
            currency=stored.currency,
            salesperson=stored.salesperson,
            payment_terms=terms,
            **{
                name: getattr(stored, name)
                for name in ORDER_FIELDS
                if name.startswith(("bill_to_", "ship_to_"))
            },
        )
        invoice.save()
        posted = []
        for index, line in enumerate(lines, start=1):
            quantity = line.quantity_to_invoice
            # A part of the line is billed: its share of the discount, rounded to the cent.
            discount = _cents(line.line_discount_amount * quantity / line.quantity)
            posted.append(
                PostedSalesInvoiceLine(
                    invoice=invoice,
                    line_no=index * LINE_NO_STEP,
                    order_line_no=line.line_no,
                    type=line.type,
                    item=line.item,
                    resource=line.resource,
                    description=line.description,
                    quantity=quantity,
                    unit_of_measure_id=line.unit_of_measure_id,
                    unit_price=line.unit_price,
                    line_discount_percent=line.line_discount_percent,
                    line_discount_amount=discount,
                    line_amount=_cents(quantity * line.unit_price) - discount,
                )
            )
            line.quantity_invoiced = line.quantity_shipped
        PostedSalesInvoiceLine.objects.bulk_create(posted)
        invoice.line_discount_amount = sum((p.line_discount_amount for p in posted), Decimal(0))
        invoice.amount = sum((p.line_amount for p in posted), Decimal(0))
        invoice.save(update_fields=["line_discount_amount", "amount"])
        SalesOrderLine.objects.bulk_update(lines, ["quantity_invoiced"])
        stored.invoiced = not stored.lines.filter(quantity_invoiced__lt=F("quantity")).exists()
        stored.save(update_fields=["invoiced"])
        return invoice
