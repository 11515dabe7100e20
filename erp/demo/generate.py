"""Generation of the demo records from the word lists (`erp.demo.words`).

The same seed gives the same records on every machine and every run: every stream is its own
`random.Random` seeded with a string (hashed with SHA-512 by the standard library), never the
global random state or Faker (whose data changes between releases). Record *n* depends only on
the seed and *n*, not on how many records are asked for, so `overlap_customers(40)` is exactly
the first 40 customers `seed_demo` creates.

Everything here returns plain dicts of strings; `erp.demo.load` turns them into rows.
"""

import random
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from itertools import islice

from erp.demo.words import (
    COUNTRIES,
    COUNTRIES_BY_CODE,
    COUNTRY_WEIGHTS,
    GB_LETTERS,
    ITEM_PRODUCTS,
    ITEM_SERIES,
    ITEM_VARIANTS,
    NL_LETTERS,
    PAYMENT_TERMS,
    PRICE_GROUPS,
    RESOURCE_KINDS,
    SALESPEOPLE,
    SALESPEOPLE_EMAIL_DOMAIN,
    SHIPMENT_METHODS,
    SHIPPING_AGENTS,
    Country,
)

DEFAULT_SEED = "erpcrm-demo"


def _rng(seed: str, stream: str) -> random.Random:
    return random.Random(f"{seed}:{stream}")


def order_rng(seed: str = DEFAULT_SEED) -> random.Random:
    """The choices of the demo sales orders (customer, items, quantities)."""
    return _rng(seed, "sales-orders")


def ascii_slug(text: str, sep: str = "") -> str:
    """ASCII-only lower-case slug, for e-mail local parts and host names."""
    text = text.replace("ß", "ss").replace("ø", "o").replace("Ø", "O").replace("æ", "ae")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = "".join(ch if ch.isalnum() else " " for ch in text.lower()).split()
    return sep.join(words)


def _post_code(rng: random.Random, country: Country, prefix: str) -> str:
    if country.code == "GB":
        letters = rng.choice(GB_LETTERS) + rng.choice(GB_LETTERS)
        return f"{prefix} {rng.randint(1, 9)}{letters}"
    if country.code == "NL":
        letters = rng.choice(NL_LETTERS) + rng.choice(NL_LETTERS)
        return f"{prefix}{rng.randint(10, 99)} {letters}"
    if country.code == "DK":
        return f"{prefix}{rng.randint(0, 10 ** (4 - len(prefix)) - 1):0{4 - len(prefix)}d}"
    return f"{prefix}{rng.randint(0, 10 ** (5 - len(prefix)) - 1):0{5 - len(prefix)}d}"


def _phone(rng: random.Random, country: Country) -> str:
    area, exchange, line = rng.randint(20, 99), rng.randint(100, 999), rng.randint(1000, 9999)
    return f"{country.phone_prefix} {area} {exchange} {line}"


def _address(rng: random.Random, country: Country) -> tuple[str, str, str]:
    street = rng.choice(country.streets)
    number = rng.randint(1, 220)
    address = f"{street} {number}" if country.street_first else f"{number} {street}"
    city, prefix = rng.choice(country.cities)
    return address, _post_code(rng, country, prefix), city


def _company_name(rng: random.Random, country: Country) -> str:
    pattern = rng.randint(0, 3)
    last = rng.choice(country.last_names)
    word = rng.choice(country.company_words)
    suffix = rng.choice(country.company_suffixes)
    if pattern == 0:
        other = rng.choice(country.last_names)
        if suffix.startswith("&"):
            suffix = country.company_suffixes[0]
        return f"{last} & {other} {suffix}"
    if pattern == 1:
        city, _prefix = rng.choice(country.cities)
        return f"{city} {word} {suffix}"
    return f"{last} {word} {suffix}"


def customer_no(index: int) -> str:
    return f"C{index + 1:06d}"


def person_contact_no(index: int) -> str:
    return f"CP{index + 1:06d}"


def company_contact_no(customer_index: int) -> str:
    return f"CC{customer_index + 1:06d}"


def item_no(index: int) -> str:
    return f"IT{index + 1:06d}"


def resource_no(index: int) -> str:
    return f"R{index + 1:05d}"


def iter_customers(seed: str = DEFAULT_SEED) -> Iterator[dict[str, str]]:
    """Endless stream of demo customers; the n-th one depends only on the seed and n."""
    rng = _rng(seed, "customers")
    index = 0
    while True:
        country = rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS)[0]
        name = _company_name(rng, country)
        address, post_code, city = _address(rng, country)
        domain = f"{ascii_slug(name.rsplit(' ', 1)[0], '-')[:40]}.{country.tld}"
        contact = f"{rng.choice(country.first_names)} {rng.choice(country.last_names)}"
        yield {
            "no": customer_no(index),
            "name": name,
            "address": address,
            "post_code": post_code,
            "city": city,
            "country_code": country.code,
            "phone": _phone(rng, country),
            "email": f"info@{domain}",
            "home_page": f"https://www.{domain}",
            "contact_name": contact,
        }
        index += 1


def iter_contacts(seed: str = DEFAULT_SEED) -> Iterator[dict[str, str]]:
    """Endless stream of demo person contacts.

    Person n works for customer n (its `company_no`), except every fifth one, a freelancer
    with no company. The first name and last name of a person who works for a customer are
    the customer's `contact_name`, so ERP and CRM agree on who the primary contact is.
    """
    rng = _rng(seed, "contacts")
    for index, customer in enumerate(iter_customers(seed)):
        country = COUNTRIES_BY_CODE[customer["country_code"]]
        freelancer = index % 5 == 4
        if freelancer:
            first_name = rng.choice(country.first_names)
            last_name = rng.choice(country.last_names)
            domain = f"mail.{country.tld}"
        else:
            first_name, last_name = customer["contact_name"].split(" ", 1)
            domain = customer["email"].split("@", 1)[1]
        local = f"{ascii_slug(first_name, '-')}.{ascii_slug(last_name, '-')}"
        if freelancer:
            local = f"{local}{rng.randint(1, 99)}"
        yield {
            "no": person_contact_no(index),
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{local}@{domain}",
            "phone": _phone(rng, country),
            "company_no": "" if freelancer else customer["no"],
        }


def overlap_customers(count: int = 40) -> list[dict[str, str]]:
    """The first `count` demo customers exactly as `seed_demo` (default seed) creates them."""
    return list(islice(iter_customers(DEFAULT_SEED), count))


def overlap_contacts(count: int = 40) -> list[dict[str, str]]:
    """The first `count` demo person contacts exactly as `seed_demo` (default seed) creates them."""
    return list(islice(iter_contacts(DEFAULT_SEED), count))


def demo_salespeople(count: int = len(SALESPEOPLE)) -> list[dict[str, str]]:
    """Demo salespeople (code, name, email, phone); the sandbox seeds CRM users with these."""
    people = []
    for index in range(count):
        if index < len(SALESPEOPLE):
            code, name, phone = SALESPEOPLE[index]
        else:
            rng = _rng(DEFAULT_SEED, f"salesperson-{index}")
            country = rng.choice(COUNTRIES)
            name = f"{rng.choice(country.first_names)} {rng.choice(country.last_names)}"
            code = f"SP{index + 1:03d}"
            phone = _phone(rng, country)
        people.append(
            {
                "code": code,
                "name": name,
                "email": f"{ascii_slug(name, '.')}@{SALESPEOPLE_EMAIL_DOMAIN}",
                "phone": phone,
            }
        )
    return people


def iter_items(seed: str = DEFAULT_SEED) -> Iterator[dict[str, str]]:
    rng = _rng(seed, "items")
    index = 0
    while True:
        product, unit, low, high, weight = rng.choice(ITEM_PRODUCTS)
        series = rng.choice(ITEM_SERIES)
        variant = rng.choice(ITEM_VARIANTS)
        price = Decimal(rng.randint(low * 100, high * 100)) / 100
        cost = (price * Decimal(rng.randint(55, 80)) / 100).quantize(Decimal("0.01"))
        yield {
            "no": item_no(index),
            "description": f"{series} {product}, {variant}",
            "base_unit_of_measure": unit,
            "unit_price": str(price),
            "unit_cost": str(cost),
            "inventory": str(rng.randint(0, 400)),
            "gross_weight": f"{weight * rng.uniform(0.8, 1.3):.3f}",
            "unit_volume": f"{weight / 40 * rng.uniform(0.8, 1.3):.3f}",
            "vendor_no": f"V{rng.randint(1, 40) * 1000:05d}",
            "vendor_item_no": f"{series[:3]}-{rng.randint(10000, 99999)}",
            "blocked": "1" if rng.random() < 0.03 else "",
        }
        index += 1


def iter_resources(seed: str = DEFAULT_SEED) -> Iterator[dict[str, str]]:
    rng = _rng(seed, "resources")
    index = 0
    while True:
        kind, unit, low, high = rng.choice(RESOURCE_KINDS)
        if kind in ("Delivery van", "Forklift"):
            name = f"{kind} {rng.randint(1, 40):02d}"
        else:
            country = rng.choice(COUNTRIES)
            name = f"{rng.choice(country.first_names)} {rng.choice(country.last_names)} ({kind})"
        price = Decimal(rng.randint(low, high))
        yield {
            "no": resource_no(index),
            "name": name,
            "base_unit_of_measure": unit,
            "unit_price": str(price),
            "unit_cost": str((price * Decimal("0.6")).quantize(Decimal("0.01"))),
            "capacity": "40" if unit == "HOUR" else "5",
            "blocked": "",
        }
        index += 1


def customer_terms(seed: str, index: int, salespeople: int) -> dict[str, str]:
    """Codes of the related records of customer `index` (salesperson, terms, ...)."""
    rng = _rng(seed, f"customer-terms-{index}")
    return {
        "salesperson": SALESPEOPLE[rng.randrange(min(salespeople, len(SALESPEOPLE)))][0]
        if salespeople
        else "",
        "payment_terms": rng.choice(PAYMENT_TERMS)[0],
        "shipment_method": rng.choice(SHIPMENT_METHODS)[0],
        "shipping_agent": rng.choice(SHIPPING_AGENTS)[0],
        "price_group": rng.choices(PRICE_GROUPS, weights=(50, 25, 15, 10))[0][0],
        "credit_limit": str(rng.choice((0, 5000, 10000, 25000, 50000, 100000))),
        "blocked": rng.choices(("", "ship", "invoice", "all"), weights=(92, 3, 3, 2))[0],
    }
