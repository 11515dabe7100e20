"""Deterministic demo data for the ERP tables.

- `erp.demo.words`: the word lists and reference tables (declarative data);
- `erp.demo.generate`: records as plain dicts, drawn from the word lists with seeded
  `random.Random` streams;
- `erp.demo.load`: writes them into the database (`seed_demo`).

This package imports neither the ORM nor Django settings, so the sandbox CRM can seed its
accounts and contacts from the same records without loading the ERP models; `erp.demo.load`
is imported only where the database is written.
"""

from erp.demo.generate import (
    DEFAULT_SEED,
    ascii_slug,
    company_contact_no,
    customer_no,
    customer_terms,
    demo_salespeople,
    item_no,
    iter_contacts,
    iter_customers,
    iter_items,
    iter_resources,
    order_rng,
    overlap_contacts,
    overlap_customers,
    person_contact_no,
    resource_no,
)
from erp.demo.words import (
    COUNTRIES,
    COUNTRIES_BY_CODE,
    CURRENCIES,
    PAYMENT_TERMS,
    PRICE_CURRENCIES,
    PRICE_GROUPS,
    SALESPEOPLE,
    SHIPMENT_METHODS,
    SHIPPING_AGENTS,
    UNITS_OF_MEASURE,
    Country,
)

__all__ = [
    "COUNTRIES",
    "COUNTRIES_BY_CODE",
    "CURRENCIES",
    "DEFAULT_SEED",
    "PAYMENT_TERMS",
    "PRICE_CURRENCIES",
    "PRICE_GROUPS",
    "SALESPEOPLE",
    "SHIPMENT_METHODS",
    "SHIPPING_AGENTS",
    "UNITS_OF_MEASURE",
    "Country",
    "ascii_slug",
    "company_contact_no",
    "customer_no",
    "customer_terms",
    "demo_salespeople",
    "item_no",
    "iter_contacts",
    "iter_customers",
    "iter_items",
    "iter_resources",
    "order_rng",
    "overlap_contacts",
    "overlap_customers",
    "person_contact_no",
    "resource_no",
]
