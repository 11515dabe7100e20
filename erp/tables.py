"""The registry of ERP tables shown in the web UI.

One `Table` per model says what the generic list and card views need: columns, search
fields, filters and form fields. Adding a table means adding one entry here, not a view.
"""

from dataclasses import dataclass, field

from django.db import models

from erp import models as erp

# Foreign keys to tables that can hold 100,000 rows are typed as a number, not picked from a
# drop-down that would render every row.
BIG_TABLES: tuple[type[models.Model], ...] = (erp.Contact, erp.Customer, erp.Item, erp.Resource)


@dataclass(frozen=True)
class Table:
    slug: str
    model: type[erp.SyncedModel]
    columns: tuple[str, ...]
    search_fields: tuple[str, ...]
    form_fields: tuple[str, ...]
    filters: tuple[str, ...] = ()
    # Fields upper-cased on input because the model only accepts upper-case codes.
    upper_fields: tuple[str, ...] = field(default=("code", "no", "country_code"))
    # Posted documents are read, never created, changed or deleted by hand.
    read_only: bool = False

    @property
    def verbose_name(self) -> str:
        return str(self.model._meta.verbose_name)

    @property
    def verbose_name_plural(self) -> str:
        return str(self.model._meta.verbose_name_plural)

    def field(self, name: str) -> models.Field:
        return self.model._meta.get_field(name)  # type: ignore[return-value]


def key_field(model: type[models.Model]) -> str:
    """The human key of a table (`no` or `code`), shown wherever a record is referenced."""
    names = {f.name for f in model._meta.get_fields()}
    for name in ("no", "code"):
        if name in names:
            return name
    return "pk"


CODE_DESCRIPTION_COLUMNS = ("code", "description")


def code_description_table(slug: str, model: type[erp.CodeDescriptionModel]) -> Table:
    """A small setup table that holds just a code and a description."""
    return Table(
        slug=slug,
        model=model,
        columns=(*CODE_DESCRIPTION_COLUMNS, "modified_at"),
        search_fields=CODE_DESCRIPTION_COLUMNS,
        form_fields=CODE_DESCRIPTION_COLUMNS,
    )


ADDRESS_FIELDS = ("address", "address_2", "post_code", "city", "county", "country_code")

TABLES: tuple[Table, ...] = (
    Table(
        slug="salespeople",
        model=erp.Salesperson,
        columns=("code", "name", "email", "phone", "modified_at"),
        search_fields=("code", "name", "email"),
        form_fields=("code", "name", "email", "phone"),
    ),
    Table(
        slug="currencies",
        model=erp.Currency,
        columns=("code", "description", "symbol", "exchange_rate", "modified_at"),
        search_fields=("code", "description"),
        form_fields=("code", "description", "symbol", "exchange_rate"),
    ),
    code_description_table("units-of-measure", erp.UnitOfMeasure),
    Table(
        slug="payment-terms",
        model=erp.PaymentTerms,
        columns=(*CODE_DESCRIPTION_COLUMNS, "due_days", "modified_at"),
        search_fields=CODE_DESCRIPTION_COLUMNS,
        form_fields=(*CODE_DESCRIPTION_COLUMNS, "due_days"),
    ),
    code_description_table("shipment-methods", erp.ShipmentMethod),
    code_description_table("shipping-agents", erp.ShippingAgent),
    code_description_table("customer-price-groups", erp.CustomerPriceGroup),
    Table(
        slug="customers",
        model=erp.Customer,
        columns=(
            "no",
            "name",
            "city",
            "post_code",
            "country_code",
            "email",
            "salesperson",
            "currency",
            "blocked",
        ),
        search_fields=("no", "name", "city", "post_code", "email", "phone", "contact_name"),
        filters=("blocked", "salesperson", "currency", "price_group", "country_code"),
        form_fields=(
            "no",
            "name",
            *ADDRESS_FIELDS,
            "phone",
            "email",
            "fax",
            "home_page",
            "contact_name",
            "company_contact",
            "primary_contact",
            "salesperson",
            "currency",
            "payment_terms",
            "shipment_method",
            "shipping_agent",
            "credit_limit",
            "price_group",
            "blocked",
        ),
    ),
    Table(
        slug="contacts",
        model=erp.Contact,
        columns=("no", "type", "name", "company", "city", "email", "salesperson"),
        search_fields=("no", "name", "city", "post_code", "email", "phone"),
        filters=("type", "salesperson", "currency", "country_code"),
        form_fields=(
            "no",
            "type",
            "name",
            "company",
            "first_name",
            "middle_name",
            "last_name",
            *ADDRESS_FIELDS,
            "email",
            "phone",
            "mobile",
            "pager",
            "home_page",
            "salesperson",
            "currency",
        ),
    ),
    Table(
        slug="items",
        model=erp.Item,
        columns=(
            "no",
            "description",
            "base_unit_of_measure",
            "unit_price",
            "unit_cost",
            "inventory",
            "blocked",
        ),
        search_fields=("no", "description", "vendor_no", "vendor_item_no"),
        filters=("blocked", "base_unit_of_measure"),
        form_fields=(
            "no",
            "description",
            "base_unit_of_measure",
            "unit_price",
            "unit_cost",
            "inventory",
            "gross_weight",
            "unit_volume",
            "vendor_no",
            "vendor_item_no",
            "blocked",
        ),
    ),
    Table(
        slug="resources",
        model=erp.Resource,
        columns=(
            "no",
            "name",
            "base_unit_of_measure",
            "unit_price",
            "unit_cost",
            "capacity",
            "blocked",
        ),
        search_fields=("no", "name"),
        filters=("blocked", "base_unit_of_measure"),
        form_fields=(
            "no",
            "name",
            "base_unit_of_measure",
            "unit_price",
            "unit_cost",
            "capacity",
            "blocked",
        ),
    ),
    Table(
        slug="sales-prices",
        model=erp.SalesPrice,
        columns=(
            "item",
            "price_group",
            "currency",
            "unit_of_measure",
            "minimum_quantity",
            "starting_date",
            "ending_date",
            "unit_price",
        ),
        search_fields=("item__no", "item__description", "price_group__code"),
        filters=("price_group", "currency", "unit_of_measure"),
        form_fields=(
            "item",
            "price_group",
            "currency",
            "unit_of_measure",
            "minimum_quantity",
            "starting_date",
            "ending_date",
            "unit_price",
        ),
    ),
)

DOCUMENT_ADDRESS_FIELDS = tuple(
    f"{kind}_{part}" for kind in ("bill_to", "ship_to") for part in ("name", *ADDRESS_FIELDS)
)

# Sales documents: their cards, actions and API have views of their own (erp.document_views,
# erp.document_api); lists, filters and links are the generic ones.
SALES_ORDERS = Table(
    slug="sales-orders",
    model=erp.SalesOrder,
    columns=(
        "no",
        "customer",
        "bill_to_name",
        "your_reference",
        "order_date",
        "currency",
        "amount",
        "status",
        "shipped",
        "invoiced",
    ),
    search_fields=("no", "your_reference", "external_document_no", "bill_to_name", "customer__no"),
    filters=("status", "shipped", "invoiced", "salesperson", "currency"),
    form_fields=(
        *erp.SALES_ORDER_HEADER_FIELDS,
        *DOCUMENT_ADDRESS_FIELDS,
    ),
    upper_fields=("bill_to_country_code", "ship_to_country_code"),
)
POSTED_SALES_INVOICES = Table(
    slug="posted-sales-invoices",
    model=erp.PostedSalesInvoice,
    columns=(
        "no",
        "customer",
        "bill_to_name",
        "order_no",
        "your_reference",
        "posting_date",
        "currency",
        "amount",
    ),
    search_fields=("no", "order_no", "your_reference", "bill_to_name", "customer__no"),
    filters=("salesperson", "currency"),
    # The fields a card shows (nothing is edited).
    form_fields=(
        "customer",
        "order",
        "your_reference",
        "external_document_no",
        "posting_date",
        "due_date",
        "currency",
        "salesperson",
        "payment_terms",
        "line_discount_amount",
        "amount",
        *DOCUMENT_ADDRESS_FIELDS,
    ),
    read_only=True,
)
DOCUMENT_TABLES: tuple[Table, ...] = (SALES_ORDERS, POSTED_SALES_INVOICES)
# Lines have no pages of their own (they are edited on the order card), only API routes.
LINE_COLUMNS = ("line_no", "type", "item", "resource", "description", "quantity", "line_amount")
SALES_ORDER_LINES = Table(
    slug="sales-order-lines",
    model=erp.SalesOrderLine,
    columns=("order", *LINE_COLUMNS, "quantity_shipped", "quantity_invoiced"),
    search_fields=("description", "order__no", "item__no", "resource__no"),
    filters=("type",),
    form_fields=(),
)
POSTED_SALES_INVOICE_LINES = Table(
    slug="posted-sales-invoice-lines",
    model=erp.PostedSalesInvoiceLine,
    columns=("invoice", *LINE_COLUMNS),
    search_fields=("description", "invoice__no", "item__no", "resource__no"),
    filters=("type",),
    form_fields=(),
    read_only=True,
)

TABLES_BY_SLUG: dict[str, Table] = {t.slug: t for t in (*TABLES, *DOCUMENT_TABLES)}
TABLES_BY_MODEL: dict[type[models.Model], Table] = {t.model: t for t in (*TABLES, *DOCUMENT_TABLES)}
