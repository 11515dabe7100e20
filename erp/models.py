"""The ERP side: the app's own data, system of record for order processing and finance.

Every table that is synchronized with the CRM derives from `SyncedModel`: an immutable UUID
(the record's identity towards the CRM, never reused) and an indexed `modified_at` that every
write path maintains. Incremental synchronization compares `modified_at` with the coupling's
last synchronized time, so a write that forgot to bump it would be silently lost. That is why
the bump lives at the lowest level we control: `save()`, and the queryset's `update()`,
`bulk_create()` and `bulk_update()`.
"""

import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9 ._\-/]*$",
    _("Use upper-case letters, digits, spaces and . _ - / only."),
)
country_code_validator = RegexValidator(
    r"^[A-Z]{2}$", _("Enter a two-letter ISO 3166 code, for example DE.")
)
iso_currency_validator = RegexValidator(
    r"^[A-Z]{3}$", _("Enter a three-letter ISO 4217 code, for example EUR.")
)


def non_negative_decimal_field(
    verbose_name: "StrOrPromise", *, decimal_places: int = 2, default: Any = Decimal("0")
) -> models.DecimalField:
    """A DecimalField for an amount or quantity that may be zero but never negative.

    `default=models.NOT_PROVIDED` where the user must always enter a value.
    """
    return models.DecimalField(
        verbose_name,
        max_digits=18,
        decimal_places=decimal_places,
        default=default,
        validators=[MinValueValidator(Decimal("0"))],
    )


def sort_indexes(prefix: str, columns: tuple[str, ...]) -> list[models.Index]:
    """One index per sortable list column, on (column, id): the list pages order by the column
    with the pk breaking ties and page by keyset (`erp.pagination`), so the database reads a
    page from where it starts in the index, forwards or (descending, the last page) backwards.
    Unique columns and foreign keys (sorted by the related table's key) need none."""
    return [models.Index(fields=[c, "id"], name=f"{prefix}_{c}_sort") for c in columns]


def group_sort_indexes(prefix: str, foreign_keys: tuple[str, ...]) -> list[models.Index]:
    """One index per foreign-key list column of a big table, on (column, id). A list sorted
    by such a column is ordered by the related table's key, which no index of this table
    holds; the list pages read it one related record at a time instead (the related key's
    order comes from the small related table, `erp.selectors`), each group in id order from
    this index, so a page costs an index range, not a sort of the whole table."""
    return [models.Index(fields=[c, "id"], name=f"{prefix}_{c}_group") for c in foreign_keys]


def changed_index(prefix: str) -> models.Index:
    """(modified_at, id): incremental synchronization reads the records changed since a moment
    in that order, a chunk at a time, from where the last chunk ended; many records may share
    one modified_at (a bulk update), so the id is part of the key."""
    return models.Index(fields=["modified_at", "id"], name=f"{prefix}_changed")


# Sent by the bulk write paths of `SyncedQuerySet` (a single `save()` sends Django's post_save):
# `sender` is the model, `modified_at` the instant every written row now carries, `uuids` the
# records' UUIDs where the call knows them (bulk_update), else None (update, an upsert through
# bulk_create: the rows are those with that `modified_at`). Sent inside the caller's transaction.
# The ERP knows nothing of who listens (the integration does, docs/architecture.md).
records_changed = Signal()


class SyncedQuerySet(models.QuerySet):
    """Bulk write paths that keep `modified_at` true."""

    def update(self, **kwargs: Any) -> int:
        if "uuid" in kwargs:
            raise ValidationError(_("The UUID of a record cannot be changed."))
        kwargs.setdefault("modified_at", timezone.now())
        count = super().update(**kwargs)
        if count:
            records_changed.send(sender=self.model, modified_at=kwargs["modified_at"], uuids=None)
        return count

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        objs = list(objs)
        now = timezone.now()
        for obj in objs:
            obj.modified_at = now
        update_fields = kwargs.get("update_fields")
        if kwargs.get("update_conflicts") and update_fields:
            # An upsert updates only the listed fields on a conflict: the change must still
            # be visible to incremental synchronization, and the identity must not move.
            if "uuid" in update_fields:
                raise ValidationError(_("The UUID of a record cannot be changed."))
            if "modified_at" not in update_fields:
                kwargs["update_fields"] = [*update_fields, "modified_at"]
        created = super().bulk_create(objs, *args, **kwargs)
        if kwargs.get("update_conflicts") and objs:
            # Only an upsert can change existing rows; new rows are coupled to nothing yet.
            records_changed.send(sender=self.model, modified_at=now, uuids=None)
        return created

    def bulk_update(
        self, objs: Iterable[Any], fields: Iterable[str], *args: Any, **kwargs: Any
    ) -> int:
        fields = list(fields)
        if "uuid" in fields:
            raise ValidationError(_("The UUID of a record cannot be changed."))
        objs = list(objs)
        now = timezone.now()
        for obj in objs:
            obj.modified_at = now
        if "modified_at" not in fields:
            fields.append("modified_at")
        count = super().bulk_update(objs, fields, *args, **kwargs)
        if objs:
            records_changed.send(
                sender=self.model, modified_at=now, uuids=[obj.uuid for obj in objs]
            )
        return count


class SyncedModel(models.Model):
    uuid = models.UUIDField(_("UUID"), default=uuid.uuid4, unique=True, editable=False)
    modified_at = models.DateTimeField(_("modified at"), db_index=True, editable=False)

    objects = SyncedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Also when `_state.adding`: an instance built with the pk of an existing row is saved
        # as an UPDATE, and its freshly generated UUID would replace the stored identity.
        if self.pk is not None:
            stored = (
                type(self)._base_manager.filter(pk=self.pk).values_list("uuid", flat=True).first()
            )
            if stored is not None and stored != self.uuid:
                raise ValidationError(_("The UUID of a record cannot be changed."))
        self.modified_at = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "modified_at" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "modified_at"]
        super().save(*args, **kwargs)


class CodeDescriptionModel(SyncedModel):
    code = models.CharField(_("code"), max_length=10, unique=True, validators=[code_validator])
    description = models.CharField(_("description"), max_length=100, blank=True)

    class Meta:
        abstract = True
        ordering = ["code"]
        indexes = [changed_index("%(app_label)s_%(class)s")]

    def __str__(self) -> str:
        return f"{self.code} – {self.description}" if self.description else self.code


class Salesperson(SyncedModel):
    code = models.CharField(_("code"), max_length=20, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone no."), max_length=30, blank=True)

    class Meta:
        ordering = ["code"]
        indexes = [changed_index("erp_salesperson")]
        verbose_name = _("salesperson")
        verbose_name_plural = _("salespeople")

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class Currency(SyncedModel):
    code = models.CharField(
        _("ISO code"), max_length=3, unique=True, validators=[iso_currency_validator]
    )
    symbol = models.CharField(_("symbol"), max_length=10, blank=True)
    description = models.CharField(_("description"), max_length=100)
    exchange_rate = models.DecimalField(
        _("exchange rate"),
        max_digits=18,
        decimal_places=6,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.000001"))],
        help_text=_("Units of this currency per one unit of the local currency."),
    )

    class Meta:
        ordering = ["code"]
        indexes = [changed_index("erp_currency")]
        verbose_name = _("currency")
        verbose_name_plural = _("currencies")

    def __str__(self) -> str:
        return self.code


class UnitOfMeasure(CodeDescriptionModel):
    class Meta(CodeDescriptionModel.Meta):
        verbose_name = _("unit of measure")
        verbose_name_plural = _("units of measure")


class PaymentTerms(CodeDescriptionModel):
    due_days = models.PositiveIntegerField(_("due days"), default=30)

    class Meta(CodeDescriptionModel.Meta):
        verbose_name = _("payment terms")
        verbose_name_plural = _("payment terms")


class ShipmentMethod(CodeDescriptionModel):
    class Meta(CodeDescriptionModel.Meta):
        verbose_name = _("shipment method")
        verbose_name_plural = _("shipment methods")


class ShippingAgent(CodeDescriptionModel):
    class Meta(CodeDescriptionModel.Meta):
        verbose_name = _("shipping agent")
        verbose_name_plural = _("shipping agents")


class CustomerPriceGroup(CodeDescriptionModel):
    class Meta(CodeDescriptionModel.Meta):
        verbose_name = _("customer price group")
        verbose_name_plural = _("customer price groups")


class AddressFields(models.Model):
    address = models.CharField(_("address"), max_length=100, blank=True)
    address_2 = models.CharField(_("address 2"), max_length=50, blank=True)
    post_code = models.CharField(_("post code"), max_length=20, blank=True, db_index=True)
    city = models.CharField(_("city"), max_length=30, blank=True, db_index=True)
    county = models.CharField(_("county"), max_length=30, blank=True)
    country_code = models.CharField(
        _("country/region code"),
        max_length=2,
        blank=True,
        validators=[country_code_validator],
    )

    class Meta:
        abstract = True


class Contact(SyncedModel, AddressFields):
    class Type(models.TextChoices):
        COMPANY = "company", _("Company")
        PERSON = "person", _("Person")

    no = models.CharField(_("no."), max_length=20, unique=True, validators=[code_validator])
    type = models.CharField(_("type"), max_length=10, choices=Type.choices, default=Type.PERSON)
    company = models.ForeignKey(
        "self",
        verbose_name=_("company"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="people",
        limit_choices_to={"type": "company"},
    )
    name = models.CharField(
        _("name"),
        max_length=100,
        blank=True,
        db_index=True,
        help_text=_("Company name; for a person it is built from the name parts."),
    )
    first_name = models.CharField(_("first name"), max_length=30, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=30, blank=True)
    last_name = models.CharField(_("last name"), max_length=30, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone no."), max_length=30, blank=True)
    mobile = models.CharField(_("mobile phone no."), max_length=30, blank=True)
    pager = models.CharField(_("pager"), max_length=30, blank=True)
    home_page = models.URLField(_("home page"), blank=True)
    salesperson = models.ForeignKey(
        Salesperson, verbose_name=_("salesperson"), on_delete=models.PROTECT, null=True, blank=True
    )
    currency = models.ForeignKey(
        Currency,
        verbose_name=_("currency"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("Blank means the local currency."),
    )

    class Meta:
        ordering = ["no"]
        indexes = [
            *sort_indexes("erp_cont", ("type", "name", "city", "email")),
            *group_sort_indexes("erp_cont", ("salesperson",)),
            changed_index("erp_cont"),
        ]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return f"{self.no} – {self.name}"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.type == self.Type.PERSON:
            if not (self.first_name or self.last_name):
                errors["last_name"] = _("A person needs a first or last name.")
            self.name = " ".join(
                p for p in (self.first_name, self.middle_name, self.last_name) if p
            )
        else:
            if not self.name:
                errors["name"] = _("A company needs a name.")
            if self.company_id:
                errors["company"] = _("A company cannot belong to another company.")
        if self.company_id and self.company_id == self.pk:
            errors["company"] = _("A contact cannot be its own company.")
        if errors:
            raise ValidationError(errors)


class Customer(SyncedModel, AddressFields):
    class Blocked(models.TextChoices):
        NONE = "", _("Not blocked")
        SHIP = "ship", _("Ship")
        INVOICE = "invoice", _("Invoice")
        ALL = "all", _("All")

    no = models.CharField(_("no."), max_length=20, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100, db_index=True)
    phone = models.CharField(_("phone no."), max_length=30, blank=True)
    email = models.EmailField(_("e-mail"), blank=True, db_index=True)
    fax = models.CharField(_("fax no."), max_length=30, blank=True)
    home_page = models.URLField(_("home page"), blank=True)
    contact_name = models.CharField(_("contact"), max_length=100, blank=True)
    # The company contact that is this customer (Business Central's contact business
    # relation): the people of that company are this customer's contacts.
    company_contact = models.OneToOneField(
        Contact,
        verbose_name=_("company contact"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customer",
        limit_choices_to={"type": "company"},
    )
    primary_contact = models.ForeignKey(
        Contact,
        verbose_name=_("primary contact"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="primary_for_customers",
    )
    salesperson = models.ForeignKey(
        Salesperson, verbose_name=_("salesperson"), on_delete=models.PROTECT, null=True, blank=True
    )
    currency = models.ForeignKey(
        Currency,
        verbose_name=_("currency"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("Blank means the local currency."),
    )
    payment_terms = models.ForeignKey(
        PaymentTerms,
        verbose_name=_("payment terms"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    shipment_method = models.ForeignKey(
        ShipmentMethod,
        verbose_name=_("shipment method"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    shipping_agent = models.ForeignKey(
        ShippingAgent,
        verbose_name=_("shipping agent"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    credit_limit = non_negative_decimal_field(_("credit limit (LCY)"))
    price_group = models.ForeignKey(
        CustomerPriceGroup,
        verbose_name=_("customer price group"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    blocked = models.CharField(
        _("blocked"), max_length=10, choices=Blocked.choices, default="", blank=True
    )

    class Meta:
        ordering = ["no"]
        indexes = [
            *sort_indexes(
                "erp_cust", ("name", "city", "post_code", "country_code", "email", "blocked")
            ),
            *group_sort_indexes("erp_cust", ("salesperson", "currency")),
            changed_index("erp_cust"),
        ]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return f"{self.no} – {self.name}"


class Item(SyncedModel):
    no = models.CharField(_("no."), max_length=20, unique=True, validators=[code_validator])
    description = models.CharField(_("description"), max_length=100, db_index=True)
    base_unit_of_measure = models.ForeignKey(
        UnitOfMeasure, verbose_name=_("base unit of measure"), on_delete=models.PROTECT
    )
    unit_price = non_negative_decimal_field(_("unit price"))
    unit_cost = non_negative_decimal_field(_("unit cost"))
    inventory = models.DecimalField(
        _("inventory"), max_digits=18, decimal_places=2, default=Decimal("0")
    )
    gross_weight = non_negative_decimal_field(_("gross weight"), decimal_places=3)
    unit_volume = non_negative_decimal_field(_("unit volume"), decimal_places=3)
    vendor_no = models.CharField(_("vendor no."), max_length=20, blank=True)
    vendor_item_no = models.CharField(_("vendor item no."), max_length=50, blank=True)
    blocked = models.BooleanField(_("blocked"), default=False)

    class Meta:
        ordering = ["no"]
        indexes = [
            *sort_indexes(
                "erp_item", ("description", "unit_price", "unit_cost", "inventory", "blocked")
            ),
            changed_index("erp_item"),
        ]
        verbose_name = _("item")
        verbose_name_plural = _("items")

    def __str__(self) -> str:
        return f"{self.no} – {self.description}"


class Resource(SyncedModel):
    no = models.CharField(_("no."), max_length=20, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100, db_index=True)
    base_unit_of_measure = models.ForeignKey(
        UnitOfMeasure, verbose_name=_("base unit of measure"), on_delete=models.PROTECT
    )
    unit_price = non_negative_decimal_field(_("unit price"))
    unit_cost = non_negative_decimal_field(_("unit cost"))
    capacity = non_negative_decimal_field(_("capacity"))
    blocked = models.BooleanField(_("blocked"), default=False)

    class Meta:
        ordering = ["no"]
        indexes = [
            *sort_indexes("erp_res", ("name", "unit_price", "unit_cost", "capacity", "blocked")),
            changed_index("erp_res"),
        ]
        verbose_name = _("resource")
        verbose_name_plural = _("resources")

    def __str__(self) -> str:
        return f"{self.no} – {self.name}"


class SalesPrice(SyncedModel):
    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.PROTECT, related_name="sales_prices"
    )
    price_group = models.ForeignKey(
        CustomerPriceGroup,
        verbose_name=_("customer price group"),
        on_delete=models.PROTECT,
        related_name="sales_prices",
    )
    currency = models.ForeignKey(
        Currency,
        verbose_name=_("currency"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("Blank means the local currency."),
    )
    unit_of_measure = models.ForeignKey(
        UnitOfMeasure, verbose_name=_("unit of measure"), on_delete=models.PROTECT
    )
    unit_price = non_negative_decimal_field(_("unit price"), default=models.NOT_PROVIDED)
    starting_date = models.DateField(_("starting date"), null=True, blank=True)
    ending_date = models.DateField(_("ending date"), null=True, blank=True)
    minimum_quantity = non_negative_decimal_field(_("minimum quantity"))

    class Meta:
        ordering = ["item__no", "price_group__code", "starting_date"]
        indexes = [
            *sort_indexes(
                "erp_sp", ("minimum_quantity", "starting_date", "ending_date", "unit_price")
            ),
            changed_index("erp_sp"),
        ]
        verbose_name = _("sales price")
        verbose_name_plural = _("sales prices")
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "item",
                    "price_group",
                    "currency",
                    "unit_of_measure",
                    "starting_date",
                    "minimum_quantity",
                ],
                name="erp_salesprice_unique_line",
                nulls_distinct=False,
                violation_error_message=_(
                    "A sales price for this item, price group, currency, unit, starting date and "
                    "minimum quantity already exists."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.no} / {self.price_group.code}: {self.unit_price}"

    def clean(self) -> None:
        if self.starting_date and self.ending_date and self.ending_date < self.starting_date:
            raise ValidationError(
                {"ending_date": _("The ending date is before the starting date.")}
            )


# Sales documents. A sales order is written by `erp.services` only (numbering, prices, the
# status rules and inventory live there); a posted sales invoice is never changed once posted.


class NumberSeries(models.Model):
    """The last number handed out per kind of document (Business Central's No. Series): the
    services lock the row while they take the next number, so two orders never share one."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    prefix = models.CharField(_("prefix"), max_length=10)
    last_number = models.PositiveIntegerField(_("last number used"), default=0)

    class Meta:
        verbose_name = _("number series")
        verbose_name_plural = _("number series")

    def __str__(self) -> str:
        return self.code


class DocumentAddressFields(models.Model):
    """Who a document is billed and shipped to: copied from the customer when the document is
    created, and changed on the document without touching the customer."""

    bill_to_name = models.CharField(_("bill-to name"), max_length=100, blank=True)
    bill_to_address = models.CharField(_("bill-to address"), max_length=100, blank=True)
    bill_to_address_2 = models.CharField(_("bill-to address 2"), max_length=50, blank=True)
    bill_to_post_code = models.CharField(_("bill-to post code"), max_length=20, blank=True)
    bill_to_city = models.CharField(_("bill-to city"), max_length=30, blank=True)
    bill_to_county = models.CharField(_("bill-to county"), max_length=30, blank=True)
    bill_to_country_code = models.CharField(
        _("bill-to country/region code"),
        max_length=2,
        blank=True,
        validators=[country_code_validator],
    )
    ship_to_name = models.CharField(_("ship-to name"), max_length=100, blank=True)
    ship_to_address = models.CharField(_("ship-to address"), max_length=100, blank=True)
    ship_to_address_2 = models.CharField(_("ship-to address 2"), max_length=50, blank=True)
    ship_to_post_code = models.CharField(_("ship-to post code"), max_length=20, blank=True)
    ship_to_city = models.CharField(_("ship-to city"), max_length=30, blank=True)
    ship_to_county = models.CharField(_("ship-to county"), max_length=30, blank=True)
    ship_to_country_code = models.CharField(
        _("ship-to country/region code"),
        max_length=2,
        blank=True,
        validators=[country_code_validator],
    )

    class Meta:
        abstract = True


class LineType(models.TextChoices):
    ITEM = "item", _("Item")
    RESOURCE = "resource", _("Resource")


def _document_number_field() -> models.CharField:
    return models.CharField(_("no."), max_length=20, unique=True, validators=[code_validator])


class SalesOrder(SyncedModel, DocumentAddressFields):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RELEASED = "released", _("Released")

    no = _document_number_field()
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="sales_orders"
    )
    # What the customer calls the order (the CRM order number when it came from the CRM).
    your_reference = models.CharField(_("your reference"), max_length=100, blank=True)
    external_document_no = models.CharField(_("external document no."), max_length=35, blank=True)
    order_date = models.DateField(_("order date"), default=timezone.localdate)
    requested_delivery_date = models.DateField(_("requested delivery date"), null=True, blank=True)
    currency = models.ForeignKey(
        Currency,
        verbose_name=_("currency"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("Blank means the local currency."),
    )
    salesperson = models.ForeignKey(
        Salesperson, verbose_name=_("salesperson"), on_delete=models.PROTECT, null=True, blank=True
    )
    payment_terms = models.ForeignKey(
        PaymentTerms,
        verbose_name=_("payment terms"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    shipment_method = models.ForeignKey(
        ShipmentMethod,
        verbose_name=_("shipment method"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    shipping_agent = models.ForeignKey(
        ShippingAgent,
        verbose_name=_("shipping agent"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN, editable=False
    )
    # Kept by the posting services (every line fully shipped / invoiced), so that lists,
    # filters and readers of changed records see them without adding up the lines.
    shipped = models.BooleanField(_("completely shipped"), default=False, editable=False)
    invoiced = models.BooleanField(_("completely invoiced"), default=False, editable=False)
    last_shipment_date = models.DateField(
        _("last shipment date"), null=True, blank=True, editable=False
    )
    amount = models.DecimalField(
        _("amount"), max_digits=18, decimal_places=2, default=Decimal("0"), editable=False
    )

    class Meta:
        ordering = ["-no"]
        indexes = [
            *sort_indexes("erp_so", ("order_date", "status", "amount", "your_reference")),
            changed_index("erp_so"),
        ]
        verbose_name = _("sales order")
        verbose_name_plural = _("sales orders")

    def __str__(self) -> str:
        return self.no


# The header fields a person sets on a sales order (pages, API), in the order forms show them;
# the addresses come on top, the rest (number, status, amounts) is the services' to fill.
SALES_ORDER_HEADER_FIELDS = (
    "customer",
    "your_reference",
    "external_document_no",
    "order_date",
    "requested_delivery_date",
    "currency",
    "salesperson",
    "payment_terms",
    "shipment_method",
    "shipping_agent",
)


class SalesOrderLine(SyncedModel):
    order = models.ForeignKey(
        SalesOrder, verbose_name=_("sales order"), on_delete=models.CASCADE, related_name="lines"
    )
    line_no = models.PositiveIntegerField(_("line no."), editable=False)
    type = models.CharField(_("type"), max_length=10, choices=LineType.choices)
    item = models.ForeignKey(
        Item,
        verbose_name=_("item"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sales_order_lines",
    )
    resource = models.ForeignKey(
        Resource,
        verbose_name=_("resource"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sales_order_lines",
    )
    description = models.CharField(_("description"), max_length=100, blank=True)
    quantity = models.DecimalField(
        _("quantity"),
        max_digits=18,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    unit_of_measure = models.ForeignKey(
        UnitOfMeasure, verbose_name=_("unit of measure"), on_delete=models.PROTECT
    )
    unit_price = non_negative_decimal_field(_("unit price"))
    line_discount_percent = models.DecimalField(
        _("line discount %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    line_discount_amount = non_negative_decimal_field(_("line discount amount"))
    line_amount = models.DecimalField(
        _("line amount"), max_digits=18, decimal_places=2, default=Decimal("0")
    )
    quantity_shipped = non_negative_decimal_field(_("quantity shipped"))
    quantity_invoiced = non_negative_decimal_field(_("quantity invoiced"))
    shipment_date = models.DateField(_("shipment date"), null=True, blank=True)

    class Meta:
        ordering = ["order", "line_no"]
        indexes = [changed_index("erp_sol")]
        verbose_name = _("sales order line")
        verbose_name_plural = _("sales order lines")
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="erp_sol_unique_line_no"),
        ]

    def __str__(self) -> str:
        return f"{self.order.no} / {self.line_no}"

    @property
    def outstanding_quantity(self) -> Decimal:
        return self.quantity - self.quantity_shipped

    @property
    def quantity_to_invoice(self) -> Decimal:
        return self.quantity_shipped - self.quantity_invoiced

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.type == LineType.ITEM:
            if self.item_id is None:
                errors["item"] = _("An item line needs an item.")
            if self.resource_id is not None:
                errors["resource"] = _("An item line cannot have a resource.")
        elif self.type == LineType.RESOURCE:
            if self.resource_id is None:
                errors["resource"] = _("A resource line needs a resource.")
            if self.item_id is not None:
                errors["item"] = _("A resource line cannot have an item.")
        if self.quantity is not None and self.quantity < self.quantity_shipped:
            errors["quantity"] = _(
                "The quantity cannot be less than the quantity already shipped (%(shipped)s)."
            ) % {"shipped": self.quantity_shipped}
        if errors:
            raise ValidationError(errors)


class PostedSalesInvoice(SyncedModel, DocumentAddressFields):
    """A posted invoice: created by posting a sales order's invoice, never changed after."""

    no = _document_number_field()
    order = models.ForeignKey(
        SalesOrder,
        verbose_name=_("sales order"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
    )
    # The order's number as it was when posted: the invoice stays readable if the order goes.
    order_no = models.CharField(_("order no."), max_length=20, blank=True)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="posted_sales_invoices",
    )
    your_reference = models.CharField(_("your reference"), max_length=100, blank=True)
    external_document_no = models.CharField(_("external document no."), max_length=35, blank=True)
    posting_date = models.DateField(_("posting date"))
    due_date = models.DateField(_("due date"), null=True, blank=True)
    currency = models.ForeignKey(
        Currency,
        verbose_name=_("currency"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("Blank means the local currency."),
    )
    salesperson = models.ForeignKey(
        Salesperson, verbose_name=_("salesperson"), on_delete=models.PROTECT, null=True, blank=True
    )
    payment_terms = models.ForeignKey(
        PaymentTerms,
        verbose_name=_("payment terms"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
    )
    line_discount_amount = non_negative_decimal_field(_("line discount amount"))
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["-no"]
        indexes = [
            *sort_indexes("erp_psi", ("posting_date", "amount", "order_no")),
            changed_index("erp_psi"),
        ]
        verbose_name = _("posted sales invoice")
        verbose_name_plural = _("posted sales invoices")

    def __str__(self) -> str:
        return self.no


class PostedSalesInvoiceLine(SyncedModel):
    invoice = models.ForeignKey(
        PostedSalesInvoice,
        verbose_name=_("posted sales invoice"),
        on_delete=models.CASCADE,
        related_name="lines",
    )
    line_no = models.PositiveIntegerField(_("line no."))
    # The order line invoiced, by its number on the order (the order may go).
    order_line_no = models.PositiveIntegerField(_("order line no."), null=True, blank=True)
    type = models.CharField(_("type"), max_length=10, choices=LineType.choices)
    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.PROTECT, null=True, blank=True
    )
    resource = models.ForeignKey(
        Resource, verbose_name=_("resource"), on_delete=models.PROTECT, null=True, blank=True
    )
    description = models.CharField(_("description"), max_length=100, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=18, decimal_places=2)
    unit_of_measure = models.ForeignKey(
        UnitOfMeasure, verbose_name=_("unit of measure"), on_delete=models.PROTECT
    )
    unit_price = non_negative_decimal_field(_("unit price"))
    line_discount_percent = models.DecimalField(
        _("line discount %"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    line_discount_amount = non_negative_decimal_field(_("line discount amount"))
    line_amount = models.DecimalField(
        _("line amount"), max_digits=18, decimal_places=2, default=Decimal("0")
    )

    class Meta:
        ordering = ["invoice", "line_no"]
        indexes = [changed_index("erp_psil")]
        verbose_name = _("posted sales invoice line")
        verbose_name_plural = _("posted sales invoice lines")
        constraints = [
            models.UniqueConstraint(fields=["invoice", "line_no"], name="erp_psil_unique_line_no"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice.no} / {self.line_no}"
