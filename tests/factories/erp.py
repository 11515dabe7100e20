"""factory-boy factories for every ERP table (test-only: factory-boy and Faker are not installed
in the production image; `seed_demo` builds its rows without them, see `erp.demo`).

Tests of every app build ERP records with these. Numbers and codes come from sequences, so
they are unique within a test run.
"""

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from erp import documents, models

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def short_city() -> str:
    # The model's city is 30 characters long; some Faker city names are longer.
    return factory.Faker._get_faker().city()[:30]


class SalespersonFactory(DjangoModelFactory):
    class Meta:
        model = models.Salesperson
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"SP{n:04d}")
    name = factory.Faker("name")
    email = factory.LazyAttribute(lambda o: f"{o.code.lower()}@cronus-demo.example")
    phone = factory.Faker("numerify", text="+1 ### 555 ####")


class CurrencyFactory(DjangoModelFactory):
    class Meta:
        model = models.Currency
        django_get_or_create = ("code",)

    # Three upper-case letters that are not real ISO codes, so they never clash with demo data.
    code = factory.Sequence(
        lambda n: (
            "X"
            + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(n // 26) % 26]
            + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[n % 26]
        )
    )
    symbol = "¤"
    description = factory.LazyAttribute(lambda o: f"Test currency {o.code}")
    exchange_rate = factory.Faker(
        "pydecimal", left_digits=2, right_digits=6, positive=True, min_value=0.1, max_value=50
    )


class CodeDescriptionFactory(DjangoModelFactory):
    class Meta:
        abstract = True

    description = factory.Faker("sentence", nb_words=3)


class UnitOfMeasureFactory(CodeDescriptionFactory):
    class Meta:
        model = models.UnitOfMeasure
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"UOM{n}")
    description = factory.Faker("random_element", elements=("Piece", "Box", "Hour", "Kilogram"))


class PaymentTermsFactory(CodeDescriptionFactory):
    class Meta:
        model = models.PaymentTerms
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"PT{n}")
    due_days = factory.Faker("random_element", elements=(0, 7, 14, 30, 60))
    description = factory.LazyAttribute(lambda o: f"Net {o.due_days} days")


class ShipmentMethodFactory(CodeDescriptionFactory):
    class Meta:
        model = models.ShipmentMethod
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"SM{n}")


class ShippingAgentFactory(CodeDescriptionFactory):
    class Meta:
        model = models.ShippingAgent
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"SA{n}")
    description = factory.Faker("company")


class CustomerPriceGroupFactory(CodeDescriptionFactory):
    class Meta:
        model = models.CustomerPriceGroup
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"PG{n}")


class ContactFactory(DjangoModelFactory):
    """A person contact; `CompanyContactFactory` for a company."""

    class Meta:
        model = models.Contact
        django_get_or_create = ("no",)

    no = factory.Sequence(lambda n: f"CT{n:06d}")
    type = models.Contact.Type.PERSON
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    name = factory.LazyAttribute(lambda o: f"{o.first_name} {o.last_name}".strip())
    address = factory.Faker("street_address")
    post_code = factory.Faker("postcode")
    city = factory.LazyFunction(short_city)
    country_code = "US"
    email = factory.LazyAttribute(
        lambda o: f"{o.first_name}.{o.last_name}.{o.no}@example.com".lower().replace(" ", "")
    )
    phone = factory.Faker("numerify", text="+1 ### ### ####")


class CompanyContactFactory(ContactFactory):
    type = models.Contact.Type.COMPANY
    first_name = ""
    last_name = ""
    name = factory.Faker("company")
    email = factory.LazyAttribute(lambda o: f"info.{o.no.lower()}@example.com")
    home_page = "https://www.example.com"


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = models.Customer
        django_get_or_create = ("no",)

    no = factory.Sequence(lambda n: f"CU{n:06d}")
    name = factory.Faker("company")
    address = factory.Faker("street_address")
    post_code = factory.Faker("postcode")
    city = factory.LazyFunction(short_city)
    country_code = "US"
    phone = factory.Faker("numerify", text="+1 ### ### ####")
    email = factory.LazyAttribute(lambda o: f"info.{o.no.lower()}@example.com")
    home_page = "https://www.example.com"
    contact_name = factory.Faker("name")
    credit_limit = Decimal("10000.00")


class ItemFactory(DjangoModelFactory):
    class Meta:
        model = models.Item
        django_get_or_create = ("no",)

    no = factory.Sequence(lambda n: f"IT{n:06d}")
    description = factory.Faker(
        "random_element",
        elements=("ATHENS Desk", "PARIS Guest Chair, black", "ROME Lamp", "LONDON Swivel Chair"),
    )
    base_unit_of_measure = factory.SubFactory(UnitOfMeasureFactory, code="PCS", description="Piece")
    unit_price = factory.Faker(
        "pydecimal", left_digits=4, right_digits=2, positive=True, min_value=1
    )
    unit_cost = factory.LazyAttribute(
        lambda o: (o.unit_price * Decimal("0.6")).quantize(Decimal("0.01"))
    )
    inventory = factory.Faker("pydecimal", left_digits=3, right_digits=0, positive=True)
    gross_weight = Decimal("12.500")
    unit_volume = Decimal("0.300")


class ResourceFactory(DjangoModelFactory):
    class Meta:
        model = models.Resource
        django_get_or_create = ("no",)

    no = factory.Sequence(lambda n: f"RS{n:05d}")
    name = factory.Faker("name")
    base_unit_of_measure = factory.SubFactory(UnitOfMeasureFactory, code="HOUR", description="Hour")
    unit_price = Decimal("85.00")
    unit_cost = Decimal("50.00")
    capacity = Decimal("40")


class SalesPriceFactory(DjangoModelFactory):
    class Meta:
        model = models.SalesPrice

    item = factory.SubFactory(ItemFactory)
    price_group = factory.SubFactory(CustomerPriceGroupFactory)
    currency = None
    unit_of_measure = factory.SelfAttribute("item.base_unit_of_measure")
    unit_price = factory.LazyAttribute(
        lambda o: (o.item.unit_price * Decimal("0.9")).quantize(Decimal("0.01"))
    )
    minimum_quantity = Decimal("0")


class SalesOrderFactory(DjangoModelFactory):
    """An open order made by `erp.documents` (number, customer defaults, prices): pass
    `lines=[{"item": item, "quantity": Decimal("2")}, ...]` for lines."""

    class Meta:
        model = models.SalesOrder

    customer = factory.SubFactory(CustomerFactory)
    your_reference = factory.Sequence(lambda n: f"ORD-{n:05d}")

    @classmethod
    def _create(cls, model_class: type, *args: object, **kwargs: object) -> models.SalesOrder:
        lines = kwargs.pop("lines", ())
        return documents.sales_order_create(data=kwargs, lines=lines)  # type: ignore[arg-type]


class SalesOrderLineFactory(DjangoModelFactory):
    class Meta:
        model = models.SalesOrderLine

    order = factory.SubFactory(SalesOrderFactory)
    item = factory.SubFactory(ItemFactory)
    quantity = Decimal("2")

    @classmethod
    def _create(cls, model_class: type, *args: object, **kwargs: object) -> models.SalesOrderLine:
        order = kwargs.pop("order")
        return documents.sales_order_line_add(order=order, data=kwargs)  # type: ignore[arg-type]


def invoiced_order(**kwargs: object) -> models.PostedSalesInvoice:
    """An order with one item line, released, shipped and invoiced: its posted invoice."""
    line = SalesOrderLineFactory(**kwargs)
    order = documents.sales_order_release(order=line.order)
    documents.sales_order_ship(order=order)
    return documents.sales_order_invoice(order=order)
