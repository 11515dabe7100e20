"""Submitted CRM orders become ERP sales orders (bc-integration.md §7.1, codeunit 5343 "CRM
Sales Order to Sales Order", and the "Auto Create Sales Orders" job, codeunit 5349).

One CRM order at a time, each in its own transaction: the ERP order with its lines, the coupling
of the pair and the CRM order's LastBackofficeSubmit ("taken over by the ERP") go together or not
at all. An order that cannot be converted leaves nothing behind in the ERP; its reason is kept in
`CrmOrderImport` for the list page, the command and a retry.

The rules, as the reference has them:
- customer: the ERP customer coupled to the order's account, or to the parent account of the
  order's contact;
- lines: the item or resource coupled to the line's product (blocked ones refused); a write-in
  line (no product) becomes the write-in item or resource of `SalesOrderSetup`; description,
  quantity, unit price (price per unit) and discount (manual discount amount) from the CRM line;
- Your Reference = the CRM order number, External Document No. = the CRM order name, currency
  from the coupled transaction currency (the local currency when the CRM's currency is it),
  requested delivery date; bill-to and ship-to addresses only when the CRM order gives one;
- finally LastBackofficeSubmit = today: the order is made active, stamped and submitted again,
  since Dataverse keeps a submitted order read-only.
"""

from __future__ import annotations

import datetime
import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from connection.clients import client_get
from connection.interactive import CrmReadProblem, crm_client, crm_problem
from connection.models import CrmConnection
from connection.selectors import crm_connection_get, crm_connection_settings
from dataverse import errors as dv
from dataverse.client import DataverseClient
from dataverse.odata import LOOKUP_LOGICAL_NAME, odata_literal
from erp.documents import sales_order_create
from erp.models import Currency, Customer, Item, LineType, Resource, SalesOrder
from syncjobs import services as sync_services
from syncjobs.models import CrmCoupling, JobRun, SyncError

from .models import CrmOrderImport, SalesOrderSetup

logger = logging.getLogger(__name__)

ERP_ORDER_TABLE = "erp.salesorder"
CRM_ORDER = "salesorder"
ORDERS = "salesorders"
ORDER_LINES = "salesorderdetails"
ERP_CUSTOMER, CRM_ACCOUNT = "erp.customer", "account"
ERP_CURRENCY, CRM_CURRENCY = "erp.currency", "transactioncurrency"
ERP_ITEM, ERP_RESOURCE, CRM_PRODUCT = "erp.item", "erp.resource", "product"

# salesorder statecode / statuscode (docs/contracts.md, "Sales orders")
ACTIVE, NEW = 0, 1
SUBMITTED, IN_PROGRESS = 1, 3

FORMATTED = "OData.Community.Display.V1.FormattedValue"
ADDRESS_PARTS = (
    # (CRM column suffix, ERP field suffix)
    ("name", "name"),
    ("line1", "address"),
    ("line2", "address_2"),
    ("postalcode", "post_code"),
    ("city", "city"),
    ("stateorprovince", "county"),
    ("country", "country_code"),
)
ORDER_COLUMNS = [
    "salesorderid",
    "ordernumber",
    "name",
    "statecode",
    "statuscode",
    "lastbackofficesubmit",
    "_customerid_value",
    "_transactioncurrencyid_value",
    "requestdeliveryby",
    "totalamount",
    "modifiedon",
    *(f"{kind}_{part}" for kind in ("billto", "shipto") for part, _erp in ADDRESS_PARTS),
]
LINE_COLUMNS = [
    "salesorderdetailid",
    "_productid_value",
    "isproductoverridden",
    "productdescription",
    "quantity",
    "priceperunit",
    "manualdiscountamount",
    "lineitemnumber",
    "sequencenumber",
]
# ERP description lines hold 100 characters (longer CRM descriptions are cut there).
DESCRIPTION_LENGTH = 100
EXTERNAL_DOCUMENT_NO_LENGTH = 35


class OrderRefused(Exception):
    """The CRM order cannot become an ERP order; `message` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PullUnavailable(Exception):
    """Nothing can be pulled now (no connection, integration or sales orders off)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CrmOrder:
    """A CRM sales order as read for the list page and the conversion."""

    id: uuid.UUID
    number: str
    name: str
    state: int
    taken_over_on: str
    customer_id: uuid.UUID | None
    customer_kind: str
    customer_name: str
    currency_id: uuid.UUID | None
    currency_name: str
    total: Decimal | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def submitted(self) -> bool:
        return self.state == SUBMITTED


@dataclass
class PullResult:
    created: list[CrmOrderImport] = field(default_factory=list)
    failed: list[CrmOrderImport] = field(default_factory=list)


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


def crm_order_parse(raw: dict[str, Any]) -> CrmOrder:
    total = raw.get("totalamount")
    return CrmOrder(
        id=uuid.UUID(str(raw["salesorderid"])),
        number=str(raw.get("ordernumber") or ""),
        name=str(raw.get("name") or ""),
        state=int(raw.get("statecode") or 0),
        taken_over_on=str(raw.get("lastbackofficesubmit") or ""),
        customer_id=_uuid(raw.get("_customerid_value")),
        customer_kind=str(raw.get(f"_customerid_value@{LOOKUP_LOGICAL_NAME}") or CRM_ACCOUNT),
        customer_name=str(raw.get(f"_customerid_value@{FORMATTED}") or ""),
        currency_id=_uuid(raw.get("_transactioncurrencyid_value")),
        currency_name=str(raw.get(f"_transactioncurrencyid_value@{FORMATTED}") or ""),
        total=Decimal(str(total)) if total is not None else None,
        raw=raw,
    )


# -- reading the CRM ---------------------------------------------------------------------------


def background_client() -> DataverseClient:
    """The client of jobs and commands: keeps the client's retries (nobody waits on a page)."""
    connection = crm_connection_settings()
    if connection is None:
        raise PullUnavailable(_("No CRM connection is set up yet."))
    return client_get(settings=connection)


def pull_connection_check() -> CrmConnection:
    """The connection, when CRM orders may be taken over now; else PullUnavailable."""
    connection = crm_connection_get()
    if connection is None:
        raise PullUnavailable(_("No CRM connection is set up yet."))
    if not connection.is_enabled:
        raise PullUnavailable(_("The integration is disabled."))
    if not connection.sales_order_integration:
        raise PullUnavailable(
            _("Sales order integration is off: switch it on on the connection page.")
        )
    return connection


def crm_order_read(*, client: DataverseClient, crm_order_id: uuid.UUID) -> CrmOrder | None:
    try:
        raw = client.get(ORDERS, crm_order_id, select=ORDER_COLUMNS, annotations=True)
    except dv.NotFound:
        return None
    return crm_order_parse(raw) if raw else None


def submitted_orders_filter(*, waiting_only: bool) -> str:
    """Submitted orders; `waiting_only`: those no back office has taken over yet (the job's
    filter in the reference: empty LastBackofficeSubmit)."""
    expression = f"statecode eq {SUBMITTED}"
    if waiting_only:
        expression += " and lastbackofficesubmit eq null"
    return expression


def waiting_order_ids(*, client: DataverseClient) -> list[uuid.UUID]:
    """Every submitted CRM order not taken over yet, oldest first."""
    return [
        uuid.UUID(str(row["salesorderid"]))
        for row in client.iter_rows(
            ORDERS,
            select=["salesorderid"],
            filter=submitted_orders_filter(waiting_only=True),
            orderby="createdon asc,salesorderid asc",
        )
    ]


def _lines_read(client: DataverseClient, order_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = list(
        client.iter_rows(
            ORDER_LINES,
            select=LINE_COLUMNS,
            filter=f"_salesorderid_value eq {odata_literal(order_id)}",
            annotations=True,
        )
    )

    # The CRM's own order of the lines: sequence number, then line item number, then creation.
    def position(row: dict[str, Any]) -> tuple[int, int]:
        return (int(row.get("sequencenumber") or 0), int(row.get("lineitemnumber") or 0))

    return sorted(rows, key=position)


# -- the conversion ----------------------------------------------------------------------------


def _coupled_uuid(*, erp_tables: Sequence[str], crm_entity: str, crm_id: uuid.UUID) -> Any:
    return (
        CrmCoupling.objects.filter(
            erp_table__in=erp_tables,
            crm_entity=crm_entity,
            crm_id=crm_id,
            state=CrmCoupling.State.COUPLED,
        )
        .values_list("erp_table", "erp_uuid")
        .first()
    )


def _customer(client: DataverseClient, order: CrmOrder) -> Customer:
    if order.customer_id is None:
        raise OrderRefused(_("The CRM order has no customer."))
    account_id, account_name = order.customer_id, order.customer_name
    if order.customer_kind == "contact":
        contact = client.get(
            "contacts",
            order.customer_id,
            select=["fullname", "_parentcustomerid_value"],
            annotations=True,
        )
        parent = _uuid((contact or {}).get("_parentcustomerid_value"))
        parent_kind = (contact or {}).get(f"_parentcustomerid_value@{LOOKUP_LOGICAL_NAME}")
        if parent is None or parent_kind not in (None, CRM_ACCOUNT):
            raise OrderRefused(
                _(
                    "The order's customer is the contact %(contact)s, who has no parent "
                    "account: give the contact an account, or the order an account."
                )
                % {"contact": (contact or {}).get("fullname") or order.customer_name}
            )
        account_id = parent
        account_name = str(
            (contact or {}).get(f"_parentcustomerid_value@{FORMATTED}") or account_id
        )
    coupled = _coupled_uuid(erp_tables=[ERP_CUSTOMER], crm_entity=CRM_ACCOUNT, crm_id=account_id)
    if coupled is None:
        raise OrderRefused(
            _(
                "The account %(account)s is not coupled to an ERP customer: couple it (or "
                "create the customer from it) first."
            )
            % {"account": account_name or account_id}
        )
    customer = Customer.objects.filter(uuid=coupled[1]).first()
    if customer is None:
        raise OrderRefused(
            _("The ERP customer coupled to the account %(account)s no longer exists.")
            % {"account": account_name or account_id}
        )
    return customer


def _currency(client: DataverseClient, order: CrmOrder) -> Currency | None:
    if order.currency_id is None:
        return None
    coupled = _coupled_uuid(
        erp_tables=[ERP_CURRENCY], crm_entity=CRM_CURRENCY, crm_id=order.currency_id
    )
    if coupled is not None:
        currency = Currency.objects.filter(uuid=coupled[1]).first()
        if currency is not None:
            return currency
    row = client.get(
        "transactioncurrencies", order.currency_id, select=["isocurrencycode", "currencyname"]
    )
    iso = str((row or {}).get("isocurrencycode") or "")
    if iso == settings.ERP_LOCAL_CURRENCY:
        return None  # the local currency (LCY) is blank on an ERP document
    raise OrderRefused(
        _("The order's currency %(currency)s is not coupled to an ERP currency.")
        % {"currency": iso or order.currency_name or order.currency_id}
    )


def _write_in(setup: SalesOrderSetup | None, index: int, description: str) -> dict[str, Any]:
    if setup is not None:
        if setup.write_in_type == SalesOrderSetup.WriteInType.ITEM and setup.write_in_item:
            return {"type": LineType.ITEM, "item": setup.write_in_item}
        if setup.write_in_type == SalesOrderSetup.WriteInType.RESOURCE and setup.write_in_resource:
            return {"type": LineType.RESOURCE, "resource": setup.write_in_resource}
    raise OrderRefused(
        _(
            "Line %(line)s is a write-in product (%(description)s) and no write-in item or "
            "resource is set up: choose one in the sales order integration setup."
        )
        % {"line": index, "description": description}
    )


def _product_line(row: dict[str, Any], index: int) -> dict[str, Any]:
    product_id = uuid.UUID(str(row["_productid_value"]))
    product_name = str(row.get(f"_productid_value@{FORMATTED}") or product_id)
    coupled = _coupled_uuid(
        erp_tables=[ERP_ITEM, ERP_RESOURCE], crm_entity=CRM_PRODUCT, crm_id=product_id
    )
    if coupled is None:
        raise OrderRefused(
            _("The product %(product)s on line %(line)s is not coupled to an ERP item or resource.")
            % {"product": product_name, "line": index}
        )
    table, erp_uuid = coupled
    record: Item | Resource | None
    if table == ERP_ITEM:
        record = Item.objects.filter(uuid=erp_uuid).first()
        data: dict[str, Any] = {"type": LineType.ITEM, "item": record}
    else:
        record = Resource.objects.filter(uuid=erp_uuid).first()
        data = {"type": LineType.RESOURCE, "resource": record}
    if record is None:
        raise OrderRefused(
            _(
                "The ERP item or resource coupled to the product %(product)s (line %(line)s) "
                "no longer exists."
            )
            % {"product": product_name, "line": index}
        )
    if record.blocked:
        raise OrderRefused(
            _("%(record)s, coupled to the product %(product)s (line %(line)s), is blocked.")
            % {"record": record, "product": product_name, "line": index}
        )
    return data


def _line_data(row: dict[str, Any], index: int, setup: SalesOrderSetup | None) -> dict[str, Any]:
    description = str(row.get("productdescription") or "")
    if row.get("_productid_value"):
        data = _product_line(row, index)
    else:
        data = _write_in(setup, index, description)
    if description:
        data["description"] = description[:DESCRIPTION_LENGTH]
    data["quantity"] = Decimal(str(row.get("quantity") or 0))
    price = row.get("priceperunit")
    data["unit_price"] = Decimal(str(price)) if price is not None else None
    discount = row.get("manualdiscountamount")
    data["line_discount_amount"] = Decimal(str(discount)) if discount else None
    return data


def _address(raw: dict[str, Any]) -> dict[str, Any]:
    """The CRM order's bill-to and ship-to addresses, each only when the CRM gives one (else
    the ERP order keeps the customer's)."""
    data: dict[str, Any] = {}
    for crm_kind, erp_kind in (("billto", "bill_to"), ("shipto", "ship_to")):
        values = {erp: str(raw.get(f"{crm_kind}_{crm}") or "") for crm, erp in ADDRESS_PARTS}
        if not any(values.values()):
            continue
        country = values["country_code"].strip()
        values["country_code"] = country.upper() if len(country) == 2 else country
        for part, value in values.items():
            if part == "name" and not value:
                continue  # the customer's name stays
            data[f"{erp_kind}_{part}"] = value
    return data


def _date(value: Any) -> datetime.date | None:
    if not value:
        return None
    return datetime.date.fromisoformat(str(value)[:10])


def _convert(client: DataverseClient, order: CrmOrder, setup: SalesOrderSetup | None) -> SalesOrder:
    customer = _customer(client, order)
    currency = _currency(client, order)
    lines = [
        _line_data(row, index, setup)
        for index, row in enumerate(_lines_read(client, order.id), start=1)
    ]
    data: dict[str, Any] = {
        "customer": customer,
        "currency": currency,
        "your_reference": order.number,
        "external_document_no": order.name[:EXTERNAL_DOCUMENT_NO_LENGTH],
        "requested_delivery_date": _date(order.raw.get("requestdeliveryby")),
        **_address(order.raw),
    }
    return sales_order_create(data=data, lines=lines)


def _take_over(client: DataverseClient, order_id: uuid.UUID) -> None:
    """LastBackofficeSubmit = today. Dataverse keeps a submitted order read-only, so, as the
    reference does, the order is made active, stamped and submitted again; a failed stamp
    puts the order back to submitted before the error goes on."""
    client.update(ORDERS, order_id, {"statecode": ACTIVE, "statuscode": NEW})
    try:
        client.update(ORDERS, order_id, {"lastbackofficesubmit": timezone.localdate().isoformat()})
    finally:
        client.update(ORDERS, order_id, {"statecode": SUBMITTED, "statuscode": IN_PROGRESS})


def _field_label(name: str) -> str:
    """What the ERP's validation names: an order field by its label, a line by its number."""
    line = re.fullmatch(r"lines\[(\d+)\]", name)
    if line:
        return _("Line %(line)s") % {"line": int(line.group(1)) + 1}
    try:
        model_field = SalesOrder._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(getattr(model_field, "verbose_name", name))


def _refusal_text(exc: Exception) -> str:
    if isinstance(exc, OrderRefused):
        return exc.message
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(
                f"{_field_label(name)}: {' '.join(messages)}"
                if name != "__all__"
                else " ".join(messages)
                for name, messages in exc.message_dict.items()
            )
        return " ".join(exc.messages)
    if isinstance(exc, dv.DataverseError):
        return crm_problem(exc).message
    return str(exc)


def _existing_order(crm_order_id: uuid.UUID) -> SalesOrder | None:
    """The ERP order already made from this CRM order, if it still exists. A coupling whose ERP
    order was deleted is removed: the order may be created again (the reference says so)."""
    coupling = CrmCoupling.objects.filter(crm_entity=CRM_ORDER, crm_id=crm_order_id).first()
    if coupling is None:
        return None
    existing = SalesOrder.objects.filter(uuid=coupling.erp_uuid).first()
    if existing is None:
        coupling.delete()
    return existing


def crm_order_create_in_erp(
    *, crm_order_id: uuid.UUID, client: DataverseClient, connection: CrmConnection
) -> CrmOrderImport:
    """Turn one submitted CRM order into an ERP sales order, or record why not. Safe to call
    again: an order already created is left as it is."""
    record, _created = CrmOrderImport.objects.get_or_create(
        crm_order_id=crm_order_id, defaults={"status": CrmOrderImport.Status.FAILED}
    )
    now = timezone.now()
    number, name = record.crm_order_number, record.crm_order_name
    try:
        with transaction.atomic():
            locked = CrmOrderImport.objects.select_for_update().get(pk=record.pk)
            existing = _existing_order(crm_order_id)
            if existing is not None:
                if locked.status != CrmOrderImport.Status.CREATED:
                    locked.status = CrmOrderImport.Status.CREATED
                    locked.erp_order, locked.erp_order_no, locked.reason = existing, existing.no, ""
                    locked.save()
                return locked
            order = crm_order_read(client=client, crm_order_id=crm_order_id)
            if order is None:
                raise OrderRefused(_("The CRM order no longer exists."))
            number, name = order.number, order.name
            if not order.submitted:
                raise OrderRefused(
                    _("The CRM order is not submitted: only submitted orders are created.")
                )
            if order.taken_over_on and locked.status != CrmOrderImport.Status.CREATED:
                raise OrderRefused(
                    _(
                        "The CRM order was already taken over by a back office on %(date)s "
                        "(LastBackofficeSubmit)."
                    )
                    % {"date": order.taken_over_on}
                )
            setup = SalesOrderSetup.objects.filter(pk=SalesOrderSetup.SINGLETON_ID).first()
            erp_order = _convert(client, order, setup)
            CrmCoupling.objects.create(
                erp_table=ERP_ORDER_TABLE,
                erp_uuid=erp_order.uuid,
                crm_entity=CRM_ORDER,
                crm_id=crm_order_id,
                coupled_at=now,
            )
            # Last: once the CRM says "taken over", nothing here may fail any more.
            _take_over(client, crm_order_id)
            locked.crm_order_number, locked.crm_order_name = number, name
            locked.status = CrmOrderImport.Status.CREATED
            locked.reason = ""
            locked.erp_order, locked.erp_order_no = erp_order, erp_order.no
            locked.taken_over_by = connection.order_processor_name
            locked.attempts += 1
            locked.last_attempt_at = now
            locked.save()
            logger.info("CRM order %s became ERP sales order %s", number, erp_order.no)
            return locked
    except IntegrityError:
        # Another run coupled this CRM order while this one converted it (SQLite serialises
        # the writes rather than the reads): that run's order stands.
        if CrmCoupling.objects.filter(crm_entity=CRM_ORDER, crm_id=crm_order_id).exists():
            record.refresh_from_db()
            return record
        reason = _("The order is being created by another run; try again in a moment.")
    except (OrderRefused, ValidationError, dv.DataverseError) as exc:
        reason = _refusal_text(exc)
    CrmOrderImport.objects.filter(pk=record.pk).update(
        status=CrmOrderImport.Status.FAILED,
        reason=reason,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        crm_order_number=number,
        crm_order_name=name,
    )
    logger.info("CRM order %s was not created: %s", number or crm_order_id, reason)
    record.refresh_from_db()
    return record


def crm_orders_pull(
    *, crm_order_ids: Iterable[uuid.UUID] | None = None, client: DataverseClient | None = None
) -> PullResult:
    """Create the given CRM orders in the ERP, or every submitted one not taken over yet.
    Each order in its own transaction: one failing order does not stop the others."""
    connection = pull_connection_check()
    client = client or background_client()
    ids = list(crm_order_ids) if crm_order_ids is not None else None
    if ids is None:
        ids = waiting_order_ids(client=client)
    result = PullResult()
    for crm_order_id in dict.fromkeys(ids):
        record = crm_order_create_in_erp(
            crm_order_id=crm_order_id, client=client, connection=connection
        )
        created = record.status == CrmOrderImport.Status.CREATED
        (result.created if created else result.failed).append(record)
    return result


def _job_record(run: JobRun, result: PullResult) -> None:
    run.inserted = len(result.created)
    run.failed = len(result.failed)
    run.save(update_fields=["inserted", "failed"])
    SyncError.objects.bulk_create(
        SyncError(
            job=run,
            crm_entity=CRM_ORDER,
            crm_id=record.crm_order_id,
            source=record.crm_order_number or str(record.crm_order_id),
            destination=ERP_ORDER_TABLE,
            message=record.reason,
        )
        for record in result.failed
    )


def auto_create_run(*, job_name: str) -> JobRun:
    """The scheduled job: one job row that says what it did (or why it did nothing)."""
    run = sync_services.job_run_start(job_name=job_name)
    connection = crm_connection_get()
    skipped = None
    if connection is None or not connection.is_enabled:
        skipped = _("The integration is disabled.")
    elif not (connection.sales_order_integration and connection.auto_create_sales_orders):
        skipped = _("Automatic creation of sales orders from the CRM is off.")
    if skipped:
        return sync_services.job_run_finish(run=run, status=JobRun.Status.SKIPPED, message=skipped)
    try:
        result = crm_orders_pull()
    except PullUnavailable as exc:
        return sync_services.job_run_finish(
            run=run, status=JobRun.Status.SKIPPED, message=exc.message
        )
    except dv.DataverseError as exc:
        return sync_services.job_run_finish(
            run=run, status=JobRun.Status.FAILED, message=crm_problem(exc).message
        )
    except Exception as exc:
        # The job row must not stay "running"; the worker logs the traceback.
        sync_services.job_run_finish(
            run=run, status=JobRun.Status.FAILED, message=f"interrupted: {exc!r}"
        )
        raise
    _job_record(run, result)
    message = _("%(created)s created, %(failed)s failed.") % {
        "created": len(result.created),
        "failed": len(result.failed),
    }
    status = JobRun.Status.FAILED if result.failed else JobRun.Status.SUCCEEDED
    return sync_services.job_run_finish(run=run, status=status, message=message)


def crm_order_create_now(*, crm_order_id: uuid.UUID) -> CrmOrderImport:
    """ "Create in ERP" (or Retry) on the CRM orders page: one order now, with the client of
    pages a person waits on."""
    connection = pull_connection_check()
    try:
        client = crm_client()
    except CrmReadProblem as exc:
        raise PullUnavailable(exc.message) from exc
    return crm_order_create_in_erp(crm_order_id=crm_order_id, client=client, connection=connection)


def sales_order_setup_get() -> SalesOrderSetup:
    setup, _created = SalesOrderSetup.objects.get_or_create(pk=SalesOrderSetup.SINGLETON_ID)
    return setup


def sales_order_setup_save(
    *, write_in_type: str, write_in_item: Item | None, write_in_resource: Resource | None
) -> SalesOrderSetup:
    """Save the write-in product: the item or resource that matches the type must be given."""
    if write_in_type == SalesOrderSetup.WriteInType.ITEM and write_in_resource is not None:
        write_in_resource = None
    if write_in_type == SalesOrderSetup.WriteInType.RESOURCE and write_in_item is not None:
        write_in_item = None
    setup = sales_order_setup_get()
    setup.write_in_type = write_in_type
    setup.write_in_item = write_in_item
    setup.write_in_resource = write_in_resource
    setup.full_clean()
    setup.save()
    return setup
