"""Declarative table registry of the sandbox CRM.

Each table says what Dataverse would: entity set, logical name, primary key, primary name,
columns with types, lookups with their navigation properties, alternate keys, state/status
pairs, create-only/read-only columns, change tracking and bulk-message support. Adding a table
is a few lines here; the store and the Web API read everything from these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STRING = "string"
MEMO = "memo"
INT = "int"
DECIMAL = "decimal"
MONEY = "money"
BOOL = "bool"
DATETIME = "datetime"
DATE = "date"
GUID = "guid"
CHOICE = "choice"
BIGINT = "bigint"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = STRING
    max_length: int | None = None
    required: bool = False  # SystemRequired: a create without it fails
    create_only: bool = False  # settable on create, silently not updatable -> error on update
    read_only: bool = False  # never settable by a client
    options: dict[int, str] = field(default_factory=dict)
    minimum: float | None = None
    maximum: float | None = None
    precision: int | None = None  # decimals kept for DECIMAL/MONEY (money: 4)


@dataclass(frozen=True)
class Lookup:
    """A lookup column `name` read as `_<name>_value`, written through one navigation property
    per target (`targets`: navigation property -> target logical name)."""

    name: str
    targets: dict[str, str]
    required: bool = False
    create_only: bool = False
    read_only: bool = False
    also: tuple[str, ...] = ()  # further tables the (single) navigation property accepts


@dataclass(frozen=True)
class OneToMany:
    """Collection-valued navigation property: rows of `table` whose lookup `lookup` points here."""

    name: str
    table: str
    lookup: str


@dataclass(frozen=True)
class ManyToMany:
    name: str  # navigation property (same on both sides, like systemuserroles_association)
    table: str  # the other side's logical name
    relationship: str  # key in the links table
    this_side: str  # "a" or "b"


@dataclass
class Table:
    logical: str
    entity_set: str
    pk: str
    primary_name: str
    columns: list[Column] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)
    one_to_many: list[OneToMany] = field(default_factory=list)
    many_to_many: list[ManyToMany] = field(default_factory=list)
    alternate_keys: list[tuple[str, ...]] = field(default_factory=list)
    unique: dict[str, tuple[tuple[str, ...], str, str]] = field(default_factory=dict)
    # state/status: statecode -> (label, default statuscode); statuscode -> (label, statecode)
    states: dict[int, tuple[str, int]] = field(default_factory=dict)
    statuses: dict[int, tuple[str, int]] = field(default_factory=dict)
    user_owned: bool = False
    change_tracking: bool = True
    bulk: bool = True
    computed: tuple[str, ...] = ()  # read-only columns filled by the sandbox (fullname, ...)

    def __post_init__(self) -> None:
        self.column_map: dict[str, Column] = {c.name: c for c in self.columns}
        self.lookup_map: dict[str, Lookup] = {lk.name: lk for lk in self.lookups}
        self.nav_map: dict[str, tuple[Lookup, str]] = {}
        for lk in self.lookups:
            for nav, target in lk.targets.items():
                self.nav_map[nav] = (lk, target)
        self.collection_map: dict[str, OneToMany | ManyToMany] = {
            **{n.name: n for n in self.one_to_many},
            **{n.name: n for n in self.many_to_many},
        }

    @property
    def money_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.type == MONEY]

    def all_properties(self) -> list[str]:
        """Every property a full row shows, in a stable order."""
        props = [self.pk]
        props += [c.name for c in self.columns if c.name != self.pk]
        props += [f"_{lk.name}_value" for lk in self.lookups]
        return props


SYSTEM_COLUMNS = [
    Column("createdon", DATETIME, read_only=True),
    Column("modifiedon", DATETIME, read_only=True),
    Column("versionnumber", BIGINT, read_only=True),
]
SYSTEM_LOOKUPS = [
    Lookup("createdby", {"createdby": "systemuser"}, read_only=True),
    Lookup("modifiedby", {"modifiedby": "systemuser"}, read_only=True),
]
# Owner: one navigation property `ownerid` that takes a systemuser or a team
OWNER_LOOKUP = Lookup("ownerid", {"ownerid": "systemuser"}, also=("team",))
CURRENCY_LOOKUP = Lookup("transactioncurrencyid", {"transactioncurrencyid": "transactioncurrency"})

ACTIVE_STATES = {0: ("Active", 1), 1: ("Inactive", 2)}
ACTIVE_STATUSES = {1: ("Active", 0), 2: ("Inactive", 1)}

ADDRESS_COLUMNS = [
    Column("address1_line1", max_length=250),
    Column("address1_line2", max_length=250),
    Column("address1_line3", max_length=250),
    Column("address1_city", max_length=80),
    Column("address1_stateorprovince", max_length=50),
    Column("address1_postalcode", max_length=20),
    Column("address1_country", max_length=80),
    Column("address1_composite", MEMO, read_only=True),
    Column("address1_latitude", DECIMAL, minimum=-90, maximum=90, precision=5),
    Column("address1_longitude", DECIMAL, minimum=-180, maximum=180, precision=5),
]

# Ship-to and bill-to addresses of orders and invoices (Dataverse's lengths)
DOCUMENT_ADDRESS_COLUMNS = [
    Column(f"{prefix}_{name}", max_length=length)
    for prefix in ("shipto", "billto")
    for name, length in (
        ("name", 200), ("line1", 250), ("line2", 250), ("line3", 250), ("city", 80),
        ("stateorprovince", 50), ("postalcode", 20), ("country", 80),
    )
]  # fmt: skip

# The default options of account's Choice columns that the ERP's option mappings write
# (Dataverse's out-of-the-box values and labels; InsertOptionValue adds more at run time).
FREIGHT_TERMS = {1: "FOB", 2: "No Charge"}
SHIPPING_METHODS = {
    1: "Airborne", 2: "DHL", 3: "FedEx", 4: "UPS", 5: "Postal Mail", 6: "Full Load", 7: "Will Call",
}  # fmt: skip
PAYMENT_TERMS = {1: "Net 30", 2: "2% 10, Net 30", 3: "Net 45", 4: "Net 60"}


def _table(
    logical: str,
    entity_set: str,
    pk: str,
    primary_name: str,
    columns: list[Column],
    lookups: list[Lookup] | None = None,
    *,
    owned: bool = False,
    currency: bool = False,
    states: dict[int, tuple[str, int]] | None = None,
    statuses: dict[int, tuple[str, int]] | None = None,
    **kwargs: object,
) -> Table:
    lks = list(lookups or [])
    cols = list(columns)
    if owned:
        lks.append(OWNER_LOOKUP)
    if currency:
        lks.append(kwargs.pop("currency_lookup", CURRENCY_LOOKUP))  # type: ignore[arg-type]
        cols.append(Column("exchangerate", DECIMAL, read_only=True))
    if states:
        cols.append(Column("statecode", CHOICE, options={k: v[0] for k, v in states.items()}))
        cols.append(
            Column("statuscode", CHOICE, options={k: v[0] for k, v in (statuses or {}).items()})
        )
    cols += SYSTEM_COLUMNS
    lks += SYSTEM_LOOKUPS
    return Table(
        logical=logical,
        entity_set=entity_set,
        pk=pk,
        primary_name=primary_name,
        columns=cols,
        lookups=lks,
        states=states or {},
        statuses=statuses or {},
        user_owned=owned,
        **kwargs,  # type: ignore[arg-type]
    )


def build_standard_tables() -> dict[str, Table]:
    tables = [
        _table(
            "organization",
            "organizations",
            "organizationid",
            "name",
            [
                Column("name", max_length=160),
                Column("createproductswithoutparentinactivestate", BOOL),
                Column("expirechangetrackingindays", INT),
            ],
            [Lookup("basecurrencyid", {"basecurrencyid": "transactioncurrency"})],
            bulk=False,
        ),
        _table(
            "businessunit",
            "businessunits",
            "businessunitid",
            "name",
            [Column("name", max_length=160, required=True)],
            [Lookup("parentbusinessunitid", {"parentbusinessunitid": "businessunit"})],
            bulk=False,
        ),
        _table(
            "systemuser",
            "systemusers",
            "systemuserid",
            "fullname",
            [
                Column("fullname", max_length=200, read_only=True),
                Column("firstname", max_length=64),
                Column("lastname", max_length=64),
                Column("internalemailaddress", max_length=100),
                Column("domainname", max_length=1024),
                Column("azureactivedirectoryobjectid", GUID),
                Column("applicationid", GUID),
                Column("isdisabled", BOOL),
                Column("islicensed", BOOL),
                Column("isintegrationuser", BOOL),
                Column("accessmode", CHOICE, options={0: "Read-Write", 4: "Non-interactive"}),
                Column("mobilephone", max_length=64),
                Column("title", max_length=128),
            ],
            [Lookup("businessunitid", {"businessunitid": "businessunit"})],
            many_to_many=[
                ManyToMany("systemuserroles_association", "role", "systemuserroles", "a")
            ],
            computed=("fullname",),
            bulk=False,
        ),
        _table(
            "team",
            "teams",
            "teamid",
            "name",
            [
                Column("name", max_length=160, required=True),
                Column("teamtype", CHOICE, options={0: "Owner", 1: "Access"}),
            ],
            [Lookup("businessunitid", {"businessunitid": "businessunit"})],
            bulk=False,
        ),
        _table(
            "role",
            "roles",
            "roleid",
            "name",
            [Column("name", max_length=100, required=True)],
            [Lookup("businessunitid", {"businessunitid": "businessunit"})],
            many_to_many=[
                ManyToMany("systemuserroles_association", "systemuser", "systemuserroles", "b")
            ],
            bulk=False,
        ),
        _table(
            "transactioncurrency",
            "transactioncurrencies",
            "transactioncurrencyid",
            "currencyname",
            [
                Column("isocurrencycode", max_length=5, required=True, create_only=True),
                Column("currencyname", max_length=100, required=True),
                Column("currencysymbol", max_length=10, required=True),
                Column(
                    "exchangerate",
                    DECIMAL,
                    required=True,
                    minimum=0.000000000001,
                    maximum=100000000000,
                ),
                Column("currencyprecision", INT, required=True, minimum=0, maximum=10),
            ],
            states=ACTIVE_STATES,
            statuses=ACTIVE_STATUSES,
            unique={
                "isocurrencycode": (
                    ("isocurrencycode",),
                    "0x80048cf3",
                    "Cannot insert duplicate currency record. Currency with the same currency "
                    "code already exist in the system.",
                )
            },
            bulk=False,
        ),
        _table(
            "uomschedule",
            "uomschedules",
            "uomscheduleid",
            "name",
            [
                Column("name", max_length=200, required=True),
                Column("baseuomname", max_length=100, create_only=True),
                Column("description", MEMO, max_length=2000),
            ],
            states=ACTIVE_STATES,
            statuses=ACTIVE_STATUSES,
        ),
        _table(
            "uom",
            "uoms",
            "uomid",
            "name",
            [
                Column("name", max_length=100, required=True),
                Column("quantity", DECIMAL, minimum=0),
                Column("isschedulebaseuom", BOOL, read_only=True),
            ],
            [
                Lookup("baseuom", {"baseuom": "uom"}),
                Lookup(
                    "uomscheduleid",
                    {"uomscheduleid": "uomschedule"},
                    required=True,
                    create_only=True,
                ),
            ],
        ),
        _table(
            "product",
            "products",
            "productid",
            "name",
            [
                Column("productnumber", max_length=100, required=True),
                Column("name", max_length=100, required=True),
                Column("description", MEMO, max_length=2000),
                Column("price", MONEY),
                Column("standardcost", MONEY),
                Column("currentcost", MONEY),
                Column("quantityonhand", DECIMAL),
                Column("quantitydecimal", INT, minimum=0, maximum=5),
                Column(
                    "producttypecode",
                    CHOICE,
                    options={
                        1: "Sales Inventory",
                        2: "Miscellaneous Charges",
                        3: "Services",
                        4: "Flat Fees",
                    },
                ),
                Column(
                    "productstructure",
                    CHOICE,
                    create_only=True,
                    options={1: "Product", 2: "Product Family", 3: "Product Bundle"},
                ),
                Column("validfromdate", DATE),
                Column("validtodate", DATE),
                Column("stockvolume", DECIMAL, minimum=0, maximum=1000000000, precision=2),
                Column("stockweight", DECIMAL, minimum=0, maximum=1000000000, precision=2),
                Column("vendorid", max_length=100),
                Column("vendorname", max_length=100),
                Column("vendorpartnumber", max_length=100),
            ],
            [
                Lookup("defaultuomscheduleid", {"defaultuomscheduleid": "uomschedule"}),
                Lookup("defaultuomid", {"defaultuomid": "uom"}),
                Lookup("pricelevelid", {"pricelevelid": "pricelevel"}),
            ],
            currency=True,
            states={0: ("Active", 1), 1: ("Retired", 2), 2: ("Draft", 0), 3: ("Under Revision", 3)},
            statuses={
                0: ("Draft", 2),
                1: ("Active", 0),
                2: ("Retired", 1),
                3: ("Under Revision", 3),
            },
            alternate_keys=[("productnumber",)],
            unique={
                "productnumber": (
                    ("productnumber",),
                    "0x80043b06",
                    "The specified product ID conflicts with the product ID of an existing "
                    "record. Specify a different product ID.",
                )
            },
        ),
        _table(
            "pricelevel",
            "pricelevels",
            "pricelevelid",
            "name",
            [
                Column("name", max_length=100, required=True),
                Column("begindate", DATE),
                Column("enddate", DATE),
                Column("description", MEMO, max_length=2000),
            ],
            currency=True,
            currency_lookup=Lookup(
                "transactioncurrencyid",
                {"transactioncurrencyid": "transactioncurrency"},
                create_only=True,
            ),
            states={0: ("Active", 100001), 1: ("Inactive", 100002)},
            statuses={100001: ("Active", 0), 100002: ("Inactive", 1)},
        ),
        _table(
            "productpricelevel",
            "productpricelevels",
            "productpricelevelid",
            "productnumber",
            [
                Column("productnumber", max_length=100, read_only=True),
                Column("amount", MONEY),
                Column(
                    "pricingmethodcode",
                    CHOICE,
                    options={
                        1: "Currency Amount",
                        2: "Percent of List",
                        3: "Percent Markup - Current Cost",
                        4: "Percent Margin - Current Cost",
                        5: "Percent Markup - Standard Cost",
                        6: "Percent Margin - Standard Cost",
                    },
                ),
                Column(
                    "quantitysellingcode",
                    CHOICE,
                    options={1: "No Control", 2: "Whole", 3: "Whole and Fractional"},
                ),
                Column(
                    "roundingpolicycode",
                    CHOICE,
                    options={1: "None", 2: "Up", 3: "Down", 4: "To Nearest"},
                ),
            ],
            [
                Lookup(
                    "pricelevelid", {"pricelevelid": "pricelevel"}, required=True, create_only=True
                ),
                Lookup("productid", {"productid": "product"}, required=True),
                Lookup("uomid", {"uomid": "uom"}),
                Lookup("uomscheduleid", {"uomscheduleid": "uomschedule"}),
            ],
            currency=True,
            currency_lookup=Lookup(
                "transactioncurrencyid",
                {"transactioncurrencyid": "transactioncurrency"},
                read_only=True,
            ),
            unique={
                "productunit": (
                    ("_pricelevelid_value", "_productid_value", "_uomid_value"),
                    "0x80043b08",
                    "This product and unit combination has a price for this price list.",
                )
            },
        ),
        _table(
            "account",
            "accounts",
            "accountid",
            "name",
            [
                Column("name", max_length=160),
                Column("accountnumber", max_length=20),
                Column("telephone1", max_length=50),
                Column("telephone2", max_length=50),
                Column("fax", max_length=50),
                Column("emailaddress1", max_length=100),
                Column("websiteurl", max_length=200),
                *ADDRESS_COLUMNS,
                Column("address1_primarycontactname", max_length=100),
                Column("address1_freighttermscode", CHOICE, options=FREIGHT_TERMS),
                Column("address1_shippingmethodcode", CHOICE, options=SHIPPING_METHODS),
                Column("paymenttermscode", CHOICE, options=PAYMENT_TERMS),
                Column("description", MEMO, max_length=2000),
                Column("creditonhold", BOOL),
                # Dataverse's creditlimit: MinValue 0, MaxValue 100,000,000,000,000.
                Column("creditlimit", MONEY, minimum=0, maximum=100_000_000_000_000),
                Column("revenue", MONEY),
                Column("numberofemployees", INT, minimum=0, maximum=1000000000),
                Column(
                    "accountcategorycode",
                    CHOICE,
                    options={1: "Preferred Customer", 2: "Standard"},
                ),
                Column(
                    "customertypecode",
                    CHOICE,
                    options={
                        1: "Competitor",
                        2: "Consultant",
                        3: "Customer",
                        4: "Investor",
                        5: "Partner",
                        6: "Influencer",
                        7: "Press",
                        8: "Prospect",
                        9: "Reseller",
                        10: "Supplier",
                        11: "Vendor",
                        12: "Other",
                    },
                ),
            ],
            [
                Lookup("primarycontactid", {"primarycontactid": "contact"}),
                Lookup("parentaccountid", {"parentaccountid": "account"}),
                Lookup("defaultpricelevelid", {"defaultpricelevelid": "pricelevel"}),
                Lookup("originatingleadid", {"originatingleadid": "lead"}),
            ],
            owned=True,
            currency=True,
            states=ACTIVE_STATES,
            statuses=ACTIVE_STATUSES,
            alternate_keys=[("accountnumber",)],
            one_to_many=[
                OneToMany("Account_Tasks", "task", "regardingobjectid"),
                OneToMany("contact_customer_accounts", "contact", "parentcustomerid"),
                OneToMany("opportunity_customer_accounts", "opportunity", "customerid"),
                OneToMany("order_customer_accounts", "salesorder", "customerid"),
            ],
        ),
        _table(
            "contact",
            "contacts",
            "contactid",
            "fullname",
            [
                Column("fullname", max_length=160, read_only=True),
                Column("firstname", max_length=50),
                Column("middlename", max_length=50),
                Column("lastname", max_length=50),
                Column("jobtitle", max_length=100),
                Column("emailaddress1", max_length=100),
                Column("telephone1", max_length=50),
                Column("mobilephone", max_length=50),
                Column("pager", max_length=50),
                Column("fax", max_length=50),
                Column("websiteurl", max_length=200),
                *ADDRESS_COLUMNS,
                Column("description", MEMO, max_length=2000),
            ],
            [
                Lookup(
                    "parentcustomerid",
                    {"parentcustomerid_account": "account", "parentcustomerid_contact": "contact"},
                )
            ],
            owned=True,
            currency=True,
            states=ACTIVE_STATES,
            statuses=ACTIVE_STATUSES,
            computed=("fullname",),
        ),
        _table(
            "salesorder",
            "salesorders",
            "salesorderid",
            "name",
            [
                Column("name", max_length=300),
                Column("ordernumber", max_length=100),
                Column("description", MEMO, max_length=2000),
                # Dataverse calculates the totals, and an update may set them (the ERP does)
                Column("totalamount", MONEY),
                Column("totalamountlessfreight", MONEY),
                Column("totallineitemamount", MONEY, read_only=True),
                Column("totaltax", MONEY),
                Column("discountamount", MONEY),
                Column("freightamount", MONEY),
                Column("requestdeliveryby", DATETIME),
                Column("datefulfilled", DATETIME),
                Column("submitdate", DATETIME),
                # when the ERP took the order over (the reference's LastBackofficeSubmit)
                Column("lastbackofficesubmit", DATE),
                *DOCUMENT_ADDRESS_COLUMNS,
            ],
            [
                Lookup(
                    "customerid",
                    {"customerid_account": "account", "customerid_contact": "contact"},
                ),
                Lookup("pricelevelid", {"pricelevelid": "pricelevel"}),
                Lookup("opportunityid", {"opportunityid": "opportunity"}),
            ],
            owned=True,
            currency=True,
            currency_lookup=Lookup(
                "transactioncurrencyid",
                {"transactioncurrencyid": "transactioncurrency"},
                create_only=True,
            ),
            states={
                0: ("Active", 1),
                1: ("Submitted", 3),
                2: ("Canceled", 4),
                3: ("Fulfilled", 100001),
                4: ("Invoiced", 100003),
            },
            statuses={
                1: ("New", 0),
                2: ("Pending", 0),
                3: ("In Progress", 1),
                4: ("No Money", 2),
                100001: ("Complete", 3),
                100002: ("Partial", 3),
                100003: ("Invoiced", 4),
            },
            one_to_many=[
                OneToMany("order_details", "salesorderdetail", "salesorderid"),
                OneToMany("SalesOrder_Posts", "post", "regardingobjectid"),
            ],
        ),
        _table(
            "salesorderdetail",
            "salesorderdetails",
            "salesorderdetailid",
            "productdescription",
            [
                Column("productdescription", max_length=500),
                Column("isproductoverridden", BOOL),
                Column("quantity", DECIMAL),
                Column("priceperunit", MONEY),
                Column("ispriceoverridden", BOOL),
                Column("manualdiscountamount", MONEY),
                Column("tax", MONEY),
                Column("baseamount", MONEY, read_only=True),
                Column("extendedamount", MONEY, read_only=True),
                Column("lineitemnumber", INT),
                Column("sequencenumber", INT),
            ],
            [
                Lookup("salesorderid", {"salesorderid": "salesorder"}, required=True),
                Lookup("productid", {"productid": "product"}),
                Lookup("uomid", {"uomid": "uom"}),
            ],
            currency=True,
            bulk=False,
        ),
        _table(
            "orderclose",
            "ordercloses",
            "activityid",
            "subject",
            [
                Column("subject", max_length=200),
                Column("description", MEMO, max_length=2000),
                Column("actualend", DATETIME),
            ],
            [Lookup("salesorderid", {"salesorderid": "salesorder"})],
            owned=True,
            states={0: ("Open", 1), 1: ("Completed", 2), 2: ("Canceled", 3)},
            statuses={1: ("Open", 0), 2: ("Completed", 1), 3: ("Canceled", 2)},
            bulk=False,
        ),
        _table(
            "invoice",
            "invoices",
            "invoiceid",
            "name",
            [
                Column("name", max_length=300),
                Column("invoicenumber", max_length=100),
                Column("description", MEMO, max_length=2000),
                Column("totalamount", MONEY),
                Column("totalamountlessfreight", MONEY),
                Column("totaltax", MONEY),
                Column("discountamount", MONEY),
                Column("freightamount", MONEY),
                Column("datedelivered", DATETIME),
                Column("duedate", DATETIME),
                *DOCUMENT_ADDRESS_COLUMNS,
            ],
            [
                Lookup(
                    "customerid", {"customerid_account": "account", "customerid_contact": "contact"}
                ),
                Lookup("salesorderid", {"salesorderid": "salesorder"}),
                Lookup("pricelevelid", {"pricelevelid": "pricelevel"}),
            ],
            owned=True,
            currency=True,
            states={
                0: ("Active", 1),
                1: ("Closed (deprecated)", 3),
                2: ("Paid", 100001),
                3: ("Canceled", 100003),
            },
            statuses={
                1: ("New", 0),
                2: ("Partially Shipped", 0),
                3: ("Billed", 1),
                100001: ("Complete", 2),
                100002: ("Partial", 2),
                100003: ("Canceled", 3),
            },
            one_to_many=[OneToMany("invoice_details", "invoicedetail", "invoiceid")],
        ),
        _table(
            "invoicedetail",
            "invoicedetails",
            "invoicedetailid",
            "productdescription",
            [
                Column("productdescription", max_length=500),
                Column("isproductoverridden", BOOL),
                Column("quantity", DECIMAL),
                Column("priceperunit", MONEY),
                Column("ispriceoverridden", BOOL),
                Column("manualdiscountamount", MONEY),
                Column("tax", MONEY),
                Column("baseamount", MONEY, read_only=True),
                Column("extendedamount", MONEY, read_only=True),
                Column("lineitemnumber", INT),
            ],
            [
                Lookup("invoiceid", {"invoiceid": "invoice"}, required=True),
                Lookup("productid", {"productid": "product"}),
                Lookup("uomid", {"uomid": "uom"}),
            ],
            currency=True,
        ),
        # Activity feed posts: the ERP's order status messages on the CRM order's wall (the
        # reference's CRM Post Buffer, §7.1). Posts are created, never changed.
        _table(
            "post",
            "posts",
            "postid",
            "text",
            [
                Column("text", MEMO, max_length=1000, required=True),
                Column("source", CHOICE, options={1: "Auto Post", 2: "Manual Post"}),
                Column(
                    "type",
                    CHOICE,
                    options={
                        1: "Check-in",
                        2: "Idea",
                        3: "News",
                        4: "Private Message",
                        5: "Question",
                        6: "Re-post",
                        7: "Status",
                    },
                ),  # fmt: skip
            ],
            [
                Lookup(
                    "regardingobjectid",
                    {
                        "regardingobjectid_salesorder": "salesorder",
                        "regardingobjectid_account": "account",
                    },
                    required=True,
                )
            ],
            bulk=False,
        ),
        _table(
            "importjob",
            "importjobs",
            "importjobid",
            "name",
            [
                Column("name", max_length=100),
                Column("solutionname", max_length=256),
                Column("progress", DECIMAL),
                Column("startedon", DATETIME),
                Column("completedon", DATETIME),
                Column("data", MEMO),
            ],
            bulk=False,
            change_tracking=False,
        ),
        _table(
            "solution",
            "solutions",
            "solutionid",
            "friendlyname",
            [
                Column("uniquename", max_length=65),
                Column("friendlyname", max_length=256),
                Column("version", max_length=256),
                Column("ismanaged", BOOL),
                Column("installedon", DATETIME),
            ],
            bulk=False,
            change_tracking=False,
        ),
        _table(
            "task",
            "tasks",
            "activityid",
            "subject",
            [
                Column("subject", max_length=200),
                Column("description", MEMO, max_length=2000),
                Column("scheduledend", DATETIME),
            ],
            [
                Lookup(
                    "regardingobjectid",
                    {
                        "regardingobjectid_account_task": "account",
                        "regardingobjectid_contact_task": "contact",
                    },
                )
            ],
            owned=True,
            states={0: ("Open", 2), 1: ("Completed", 5), 2: ("Canceled", 6)},
            statuses={
                2: ("Not Started", 0),
                3: ("In Progress", 0),
                4: ("Waiting on someone else", 0),
                7: ("Deferred", 0),
                5: ("Completed", 1),
                6: ("Canceled", 2),
            },
        ),
        _table(
            "lead",
            "leads",
            "leadid",
            "fullname",
            [
                Column("fullname", max_length=160, read_only=True),
                Column("firstname", max_length=50),
                Column("lastname", max_length=50),
                Column("subject", max_length=300),
                Column("companyname", max_length=100),
                Column("emailaddress1", max_length=100),
            ],
            owned=True,
            computed=("fullname",),
        ),
        _table(
            "opportunity",
            "opportunities",
            "opportunityid",
            "name",
            [
                Column("name", max_length=300),
                Column("estimatedvalue", MONEY),
                Column("description", MEMO, max_length=2000),
            ],
            [
                Lookup(
                    "customerid",
                    {"customerid_account": "account", "customerid_contact": "contact"},
                )
            ],
            owned=True,
            currency=True,
        ),
        _table(
            "example_record",
            "example_records",
            "example_recordid",
            "example_name",
            [
                Column("example_name", max_length=100),
                Column("example_key1", INT),
                Column("example_key2", INT),
            ],
            alternate_keys=[("example_key1", "example_key2")],
        ),
        _table(
            "sample_example",
            "sample_examples",
            "sample_exampleid",
            "sample_name",
            [Column("sample_name", max_length=100), Column("sample_description", MEMO)],
        ),
    ]
    return {t.logical: t for t in tables}


def build_solution_table(
    *,
    logical: str,
    entity_set: str,
    pk: str,
    primary_name: str,
    columns: list[Column],
    change_tracking: bool,
    lookups: list[Lookup] | None = None,
) -> Table:
    """A custom table created by ImportSolution: user-owned columns, no bulk messages."""
    return _table(
        logical,
        entity_set,
        pk,
        primary_name,
        columns,
        lookups,
        owned=True,
        states=ACTIVE_STATES,
        statuses=ACTIVE_STATUSES,
        change_tracking=change_tracking,
        bulk=False,
    )
