"""The default integration table mappings, legacy Sales set
(docs/reference/business-central.md §2.2 and §2.3).

Pure data: `syncjobs.services.default_setup_create` turns it into rows and scheduled jobs.
ERP fields are our Django field names (`erp` models); CRM columns are Dataverse logical names.
"""

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from .models import Direction

BI, TO, FROM = Direction.BIDIRECTIONAL, Direction.TO_CRM, Direction.FROM_CRM


class Area:
    SALESPEOPLE = "salespeople"
    CURRENCIES = "currencies"
    UNITS = "units"
    CUSTOMERS = "customers"
    CONTACTS = "contacts"
    ITEMS = "items"
    RESOURCES = "resources"
    PRICE_LISTS = "price_lists"
    INVOICES = "invoices"


AREA_CHOICES = [
    (Area.SALESPEOPLE, _("Salespeople (from CRM users)")),
    (Area.CURRENCIES, _("Currencies")),
    (Area.UNITS, _("Units of measure")),
    (Area.CUSTOMERS, _("Customers (accounts)")),
    (Area.CONTACTS, _("Contacts")),
    (Area.ITEMS, _("Items (products)")),
    (Area.RESOURCES, _("Resources (service products)")),
    (Area.PRICE_LISTS, _("Price lists")),
    (Area.INVOICES, _("Posted sales invoices")),
]
ALL_AREAS = [code for code, _label in AREA_CHOICES]


@dataclass(frozen=True)
class FieldDef:
    erp_field: str
    crm_field: str
    direction: str
    constant_value: str = ""
    validate_field: bool = True
    clear_value_on_failed_sync: bool = False
    not_null: bool = False
    match: bool = False
    owner: bool = False  # present only when new CRM records are owned by the salesperson's user
    lookup: str = ""  # CRM table a lookup column points to (through the coupling)
    option: str = ""  # option mapping translating ERP codes to option set values
    transformation: str = ""
    match_priority: int = 0
    enabled: bool = True
    value_map: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MappingDef:
    name: str
    area: str
    erp_table: str
    crm_entity: str
    crm_entity_set: str
    crm_uid_field: str
    direction: str
    fields: list[FieldDef]
    table_filter: dict = field(default_factory=dict)
    integration_table_filter: str = ""
    sync_only_coupled: bool = True
    dependency_filter: str = ""
    crm_uid_type: str = "guid"
    synch_after_match_coupling: bool = False
    create_new_if_no_match: bool = False
    deletion_conflict_resolution: str = "none"
    inactivity_timeout_minutes: int = 720
    has_scheduled_job: bool = True
    priority: int = 100


def _owner_fields() -> list[FieldDef]:
    return [
        FieldDef("", "owneridtype", TO, constant_value="systemuser", owner=True),
        FieldDef("salesperson", "ownerid", TO, not_null=True, owner=True, lookup="systemuser"),
    ]


def _address(prefix: str, direction: str = BI) -> list[FieldDef]:
    return [
        FieldDef("address", f"{prefix}_line1", direction),
        FieldDef("address_2", f"{prefix}_line2", direction),
        FieldDef("post_code", f"{prefix}_postalcode", direction),
        FieldDef("city", f"{prefix}_city", direction),
        FieldDef("country_code", f"{prefix}_country", direction, validate_field=False),
        FieldDef("county", f"{prefix}_stateorprovince", direction),
    ]


def _document_address(erp_prefix: str, crm_prefix: str) -> list[FieldDef]:
    """A document's ship-to or bill-to address (erp.models.DocumentAddressFields)."""
    return [
        FieldDef(f"{erp_prefix}_address", f"{crm_prefix}_line1", TO),
        FieldDef(f"{erp_prefix}_address_2", f"{crm_prefix}_line2", TO),
        FieldDef(f"{erp_prefix}_post_code", f"{crm_prefix}_postalcode", TO),
        FieldDef(f"{erp_prefix}_city", f"{crm_prefix}_city", TO),
        FieldDef(f"{erp_prefix}_country_code", f"{crm_prefix}_country", TO, validate_field=False),
        FieldDef(f"{erp_prefix}_county", f"{crm_prefix}_stateorprovince", TO),
    ]


DEFAULT_MAPPINGS: list[MappingDef] = [
    MappingDef(
        "SALESPEOPLE",
        Area.SALESPEOPLE,
        "erp.Salesperson",
        "systemuser",
        "systemusers",
        "systemuserid",
        FROM,
        [
            FieldDef("email", "internalemailaddress", FROM),
            FieldDef("name", "fullname", FROM),
            FieldDef("phone", "mobilephone", FROM),
        ],
        integration_table_filter=(
            "isdisabled eq false and islicensed eq true and isintegrationuser eq false"
        ),
        inactivity_timeout_minutes=1440,
        priority=1,
    ),
    MappingDef(
        "CURRENCY",
        Area.CURRENCIES,
        "erp.Currency",
        "transactioncurrency",
        "transactioncurrencies",
        "transactioncurrencyid",
        TO,
        [
            FieldDef("code", "isocurrencycode", TO, match=True),
            FieldDef("symbol", "currencysymbol", TO),
            FieldDef("description", "currencyname", TO),
            # Computed in the reference (§2.3): same convention, units per base currency unit.
            FieldDef("exchange_rate", "exchangerate", TO),
            FieldDef("", "currencyprecision", TO, constant_value="2"),
        ],
        priority=2,
    ),
    *[
        MappingDef(
            name,
            Area.CUSTOMERS,
            erp_table,
            "account",
            "accounts",
            attribute,
            TO,
            [FieldDef("code", attribute, TO, match=True)],
            crm_uid_type="option",
            synch_after_match_coupling=True,
            create_new_if_no_match=True,
            inactivity_timeout_minutes=1440,
            priority=priority,
        )
        for name, erp_table, attribute, priority in (
            ("PAYMENT TERMS", "erp.PaymentTerms", "paymenttermscode", 3),
            ("SHIPMENT METHOD", "erp.ShipmentMethod", "address1_freighttermscode", 3),
            ("SHIPPING AGENT", "erp.ShippingAgent", "address1_shippingmethodcode", 3),
        )
    ],
    MappingDef(
        "UNIT OF MEASURE",
        Area.UNITS,
        "erp.UnitOfMeasure",
        "uomschedule",
        "uomschedules",
        "uomscheduleid",
        TO,
        [
            FieldDef("code", "baseuomname", TO),
            # The unit group's own name (the reference computes "NAV <code>").
            FieldDef("code", "name", TO, match=True),
        ],
        priority=3,
    ),
    MappingDef(
        "CUSTOMER",
        Area.CUSTOMERS,
        "erp.Customer",
        "account",
        "accounts",
        "accountid",
        BI,
        [
            *_owner_fields(),
            FieldDef("name", "name", BI),
            FieldDef("contact_name", "address1_primarycontactname", BI, validate_field=False),
            *_address("address1"),
            FieldDef("currency", "transactioncurrencyid", BI, lookup="transactioncurrency"),
            FieldDef("email", "emailaddress1", BI),
            FieldDef("fax", "fax", BI),
            FieldDef("home_page", "websiteurl", BI),
            FieldDef("phone", "telephone1", BI),
            FieldDef("shipment_method", "address1_freighttermscode", BI, option="SHIPMENT METHOD"),
            FieldDef("shipping_agent", "address1_shippingmethodcode", BI, option="SHIPPING AGENT"),
            FieldDef("payment_terms", "paymenttermscode", BI, option="PAYMENT TERMS"),
            FieldDef("credit_limit", "creditlimit", TO),
            FieldDef(
                "primary_contact",
                "primarycontactid",
                BI,
                clear_value_on_failed_sync=True,
                lookup="contact",
            ),
            # New accounts are customers (the reference's CRMACCOUNT template, §2.7).
            FieldDef("", "customertypecode", TO, constant_value="3"),
        ],
        table_filter={"blocked": ""},
        integration_table_filter="statecode eq 0 and customertypecode eq 3",
        dependency_filter="SALESPEOPLE|CURRENCY|PAYMENT TERMS|SHIPMENT METHOD|SHIPPING AGENT",
        priority=4,
    ),
    MappingDef(
        "CONTACT",
        Area.CONTACTS,
        "erp.Contact",
        "contact",
        "contacts",
        "contactid",
        BI,
        [
            *_owner_fields(),
            FieldDef("currency", "transactioncurrencyid", BI, lookup="transactioncurrency"),
            *_address("address1"),
            FieldDef("email", "emailaddress1", BI),
            FieldDef("first_name", "firstname", BI),
            FieldDef("middle_name", "middlename", BI),
            FieldDef("last_name", "lastname", BI),
            FieldDef("home_page", "websiteurl", BI),
            FieldDef("mobile", "mobilephone", BI),
            FieldDef("pager", "pager", BI),
            FieldDef("phone", "telephone1", BI),
            FieldDef("type", "", FROM, constant_value="person"),
            FieldDef("", "parentcustomeridtype", TO, constant_value="account"),
            # The company link (§2.3): the person's company contact is a customer, coupled to
            # an account, which becomes the CRM contact's parent account; and back.
            FieldDef("company__customer", "parentcustomerid", BI, lookup="account"),
        ],
        table_filter={"type": "person", "company__isnull": False},
        integration_table_filter="_parentcustomerid_value ne null and statecode eq 0",
        dependency_filter="CUSTOMER",
        priority=5,
    ),
    MappingDef(
        "ITEM-PRODUCT",
        Area.ITEMS,
        "erp.Item",
        "product",
        "products",
        "productid",
        BI,
        [
            FieldDef("no", "productnumber", TO),
            FieldDef("description", "name", BI),
            FieldDef("unit_price", "price", TO),
            FieldDef("unit_cost", "standardcost", TO),
            FieldDef("unit_cost", "currentcost", TO),
            FieldDef("unit_volume", "stockvolume", TO),
            FieldDef("gross_weight", "stockweight", TO),
            FieldDef("vendor_no", "vendorid", TO),
            FieldDef("vendor_item_no", "vendorpartnumber", TO),
            FieldDef("base_unit_of_measure", "defaultuomscheduleid", BI, lookup="uomschedule"),
            # Computed in the reference: the product type of an item.
            FieldDef("", "producttypecode", TO, constant_value="1"),
        ],
        table_filter={"blocked": False},
        integration_table_filter="producttypecode eq 1 and statecode eq 0",
        dependency_filter="UNIT OF MEASURE",
        inactivity_timeout_minutes=1440,
        priority=6,
    ),
    MappingDef(
        "RESOURCE-PRODUCT",
        Area.RESOURCES,
        "erp.Resource",
        "product",
        "products",
        "productid",
        BI,
        [
            FieldDef("no", "productnumber", TO),
            FieldDef("name", "name", BI),
            FieldDef("unit_price", "price", TO),
            FieldDef("unit_cost", "standardcost", TO),
            FieldDef("unit_cost", "currentcost", TO),
            FieldDef("capacity", "quantityonhand", TO),
            FieldDef("", "producttypecode", TO, constant_value="3"),
        ],
        table_filter={"blocked": False},
        integration_table_filter="producttypecode eq 3 and statecode eq 0",
        dependency_filter="UNIT OF MEASURE",
        priority=7,
    ),
    MappingDef(
        "CUSTPRCGRP-PRICE",
        Area.PRICE_LISTS,
        "erp.CustomerPriceGroup",
        "pricelevel",
        "pricelevels",
        "pricelevelid",
        TO,
        [FieldDef("code", "name", TO)],
        dependency_filter="CURRENCY|ITEM-PRODUCT",
        inactivity_timeout_minutes=1440,
        priority=8,
    ),
    MappingDef(
        "SALESPRC-PRODPRICE",
        Area.PRICE_LISTS,
        "erp.SalesPrice",
        "productpricelevel",
        "productpricelevels",
        "productpricelevelid",
        TO,
        [
            FieldDef("price_group", "pricelevelid", TO, lookup="pricelevel"),
            FieldDef("item", "productid", TO, lookup="product"),
            # In the reference's list, but Dataverse fills both on a price list item itself
            # (from the product and from the price list) and refuses them: kept, disabled.
            FieldDef("item__no", "productnumber", TO, enabled=False),
            FieldDef(
                "currency", "transactioncurrencyid", TO, lookup="transactioncurrency", enabled=False
            ),
            FieldDef("", "pricingmethodcode", TO, constant_value="1"),
            FieldDef("unit_price", "amount", TO),
        ],
        table_filter={"price_group__isnull": False},
        sync_only_coupled=False,
        dependency_filter="CUSTPRCGRP-PRICE|ITEM-PRODUCT",
        inactivity_timeout_minutes=1440,
        priority=9,
    ),
    MappingDef(
        "POSTEDSALESINV-INV",
        Area.INVOICES,
        "erp.PostedSalesInvoice",
        "invoice",
        "invoices",
        "invoiceid",
        TO,
        [
            FieldDef("no", "invoicenumber", TO),
            # The reference names an invoice after its number when no CRM order is linked.
            FieldDef("no", "name", TO),
            *_owner_fields(),
            FieldDef("customer", "customerid", TO, lookup="account"),
            # Linked to the CRM order the ERP order is coupled to (the reference finds it by
            # Your Reference = OrderNumber); an invoice of an order that never came from the
            # CRM goes without a link rather than failing.
            FieldDef(
                "order", "salesorderid", TO, lookup="salesorder", clear_value_on_failed_sync=True
            ),
            FieldDef("currency", "transactioncurrencyid", TO, lookup="transactioncurrency"),
            FieldDef("due_date", "duedate", TO),
            FieldDef("ship_to_name", "shipto_name", TO),
            *_document_address("ship_to", "shipto"),
            FieldDef("order__last_shipment_date", "datedelivered", TO),
            FieldDef("bill_to_name", "billto_name", TO),
            *_document_address("bill_to", "billto"),
            # This ERP keeps no VAT: the amount is the amount including VAT.
            FieldDef("amount", "totalamountlessfreight", TO),
            FieldDef("amount", "totalamount", TO),
            FieldDef("line_discount_amount", "discountamount", TO),
        ],
        # The reference's list says coupled only, yet its job is what sends posted invoices
        # to the CRM: a new posted invoice is created there (an invoice of a customer not
        # coupled waits for CUSTOMER).
        sync_only_coupled=False,
        dependency_filter="CUSTOMER|ITEM-PRODUCT|RESOURCE-PRODUCT",
        inactivity_timeout_minutes=1440,
        priority=10,
    ),
    MappingDef(
        "POSTEDSALESLINE-INV",
        Area.INVOICES,
        "erp.PostedSalesInvoiceLine",
        "invoicedetail",
        "invoicedetails",
        "invoicedetailid",
        TO,
        [
            FieldDef("invoice", "invoiceid", TO, lookup="invoice"),
            FieldDef("item", "productid", TO, lookup="product"),
            # A resource line has no product of its own here: it goes as a write-in line
            # (the reference writes "<No.> <Description>" for a line without a coupled product).
            FieldDef(
                "type", "isproductoverridden", TO, value_map={"item": False, "resource": True}
            ),
            FieldDef("description", "productdescription", TO),
            FieldDef("quantity", "quantity", TO),
            FieldDef("line_discount_amount", "manualdiscountamount", TO),
            FieldDef("unit_price", "priceperunit", TO),
            FieldDef("", "ispriceoverridden", TO, constant_value="true"),
            FieldDef("line_no", "lineitemnumber", TO),
            # In the reference's list, but Dataverse calculates both on a line and refuses
            # them: kept, disabled.
            FieldDef("line_amount", "baseamount", TO, enabled=False),
            FieldDef("line_amount", "extendedamount", TO, enabled=False),
        ],
        sync_only_coupled=False,
        dependency_filter="POSTEDSALESINV-INV",
        # A child: synchronized right after its header mapping (services.mapping_synchronize).
        has_scheduled_job=False,
        priority=10,
    ),
]

SALES_ORDER_MAPPING = MappingDef(
    "SALESORDER-ORDER",
    "sales_orders",
    "erp.SalesOrder",
    "salesorder",
    "salesorders",
    "salesorderid",
    TO,
    [
        # Not No. -> OrderNumber as in the legacy list: these orders come from the CRM, whose
        # number is the ERP order's Your Reference and links the posted invoice to the order.
        # Nor the currency: Dataverse does not let an order's currency change.
        *_owner_fields(),
        FieldDef("ship_to_name", "shipto_name", TO),
        *_document_address("ship_to", "shipto"),
        FieldDef("last_shipment_date", "datefulfilled", TO),
        FieldDef("bill_to_name", "billto_name", TO),
        *_document_address("bill_to", "billto"),
        FieldDef("amount", "totalamountlessfreight", TO),
        FieldDef("amount", "totalamount", TO),
        FieldDef("requested_delivery_date", "requestdeliveryby", TO),
    ],
    # Released and not shipped yet: once shipped, the CRM order is closed (Fulfilled, then
    # Invoiced: the order status job, salesorders/push.py) and Dataverse refuses edits to it.
    table_filter={"status": "released", "shipped": False},
    dependency_filter="CUSTOMER|ITEM-PRODUCT|RESOURCE-PRODUCT",
    priority=11,
)


@dataclass(frozen=True)
class JobDef:
    name: str
    task: str
    interval_minutes: int
    description: str
    # A setting that overrides the interval (README "Configuration").
    interval_setting: str = ""


ITEM_AVAILABILITY_JOB = JobDef(
    "ITEM AVAILABILITY",
    "syncjobs.item_availability",
    30,
    "Item availability - CRM synchronization job",
)
AUTO_CREATE_ORDERS_JOB = JobDef(
    "AUTO CREATE SALES ORDERS",
    # Registered by the sales order app (salesorders/tasks.py), which sits above syncjobs.
    "salesorders.auto_create_sales_orders",
    30,
    "Automatically create sales orders from sales orders that are submitted in the CRM",
)

# The lead-to-cash jobs: their tasks live in salesorders/tasks.py (syncjobs cannot import that
# app), beat sends them by name (docs/reference/business-central.md §2.5, §7.1, §7.4).
ORDER_STATUS_JOB = JobDef(
    "SALES ORDER STATUS",
    "salesorders.order_status",
    7,
    "Sales order status - CRM synchronization job",
    interval_setting="ORDER_STATUS_INTERVAL_MINUTES",
)
CUSTOMER_STATISTICS_JOB = JobDef(
    "CUSTOMER STATISTICS",
    "salesorders.customer_statistics",
    30,
    "Customer statistics - CRM synchronization job",
    interval_setting="CUSTOMER_STATISTICS_INTERVAL_MINUTES",
)
