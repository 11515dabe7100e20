"""Deterministic demo data for the ERP tables.

The same seed gives the same records on every machine and every run: the generator uses its
own word lists and `random.Random` streams seeded with strings (hashed with SHA-512 by the
standard library), never the global random state or Faker (whose data changes between
releases). Record *n* depends only on the seed and *n*, not on how many records are asked for,
so `overlap_customers(40)` is exactly the first 40 customers `seed_demo` creates. The sandbox
CRM seeds accounts and contacts from these functions, so coupling finds matches.

Everything here returns plain dicts; `erp.management.commands.seed_demo` turns them into model
instances with the factories and bulk-creates them.
"""

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

DEFAULT_SEED = "erpcrm-demo"


@dataclass(frozen=True)
class Country:
    code: str
    weight: int
    currency: str  # "" = the local currency (USD)
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[tuple[str, str], ...]  # (city, post code prefix)
    street_first: bool  # "Hauptstraße 12" vs "12 Main Street"
    company_suffixes: tuple[str, ...]
    company_words: tuple[str, ...]
    phone_prefix: str
    tld: str


COUNTRIES: tuple[Country, ...] = (
    Country(
        code="US",
        weight=30,
        currency="",
        first_names=(
            "James",
            "Mary",
            "Robert",
            "Patricia",
            "John",
            "Jennifer",
            "Michael",
            "Linda",
            "David",
            "Elizabeth",
            "William",
            "Barbara",
            "Richard",
            "Susan",
            "Joseph",
            "Jessica",
            "Thomas",
            "Sarah",
            "Charles",
            "Karen",
            "Daniel",
            "Nancy",
            "Matthew",
            "Lisa",
        ),
        last_names=(
            "Smith",
            "Johnson",
            "Williams",
            "Brown",
            "Jones",
            "Garcia",
            "Miller",
            "Davis",
            "Rodriguez",
            "Martinez",
            "Hernandez",
            "Lopez",
            "Wilson",
            "Anderson",
            "Taylor",
            "Thomas",
            "Moore",
            "Jackson",
            "Martin",
            "Lee",
            "Thompson",
            "White",
            "Harris",
            "Clark",
        ),
        streets=(
            "Main Street",
            "Oak Avenue",
            "Maple Drive",
            "Cedar Lane",
            "Pine Street",
            "Elm Street",
            "Washington Avenue",
            "Lake Road",
            "Hill Street",
            "Park Avenue",
            "Sunset Boulevard",
            "River Road",
            "Church Street",
            "Highland Avenue",
        ),
        cities=(
            ("Atlanta", "303"),
            ("Chicago", "606"),
            ("Seattle", "981"),
            ("Denver", "802"),
            ("Boston", "021"),
            ("Austin", "787"),
            ("Portland", "972"),
            ("Phoenix", "850"),
            ("Miami", "331"),
            ("Minneapolis", "554"),
            ("San Diego", "921"),
            ("Nashville", "372"),
        ),
        street_first=False,
        company_suffixes=("Inc.", "LLC", "Corp.", "& Co."),
        company_words=(
            "Supply",
            "Office Solutions",
            "Furniture",
            "Interiors",
            "Trading",
            "Outfitters",
            "Industries",
            "Distributors",
            "Design",
            "Workspace",
        ),
        phone_prefix="+1",
        tld="com",
    ),
    Country(
        code="DE",
        weight=20,
        currency="EUR",
        first_names=(
            "Lukas",
            "Anna",
            "Jonas",
            "Lea",
            "Felix",
            "Sophie",
            "Maximilian",
            "Marie",
            "Paul",
            "Laura",
            "Leon",
            "Julia",
            "Tobias",
            "Katharina",
            "Florian",
            "Lena",
        ),
        last_names=(
            "Müller",
            "Schmidt",
            "Schneider",
            "Fischer",
            "Weber",
            "Meyer",
            "Wagner",
            "Becker",
            "Schulz",
            "Hoffmann",
            "Koch",
            "Richter",
            "Klein",
            "Wolf",
            "Schröder",
            "Neumann",
        ),
        streets=(
            "Hauptstraße",
            "Bahnhofstraße",
            "Gartenstraße",
            "Schulstraße",
            "Lindenallee",
            "Bergstraße",
            "Kirchweg",
            "Rosenweg",
            "Mühlenstraße",
            "Am Markt",
        ),
        cities=(
            ("Berlin", "10"),
            ("Hamburg", "20"),
            ("München", "80"),
            ("Köln", "50"),
            ("Frankfurt am Main", "60"),
            ("Stuttgart", "70"),
            ("Düsseldorf", "40"),
            ("Leipzig", "04"),
            ("Dresden", "01"),
            ("Nürnberg", "90"),
        ),
        street_first=True,
        company_suffixes=("GmbH", "AG", "KG", "GmbH & Co. KG"),
        company_words=(
            "Büromöbel",
            "Einrichtungen",
            "Handel",
            "Bürobedarf",
            "Maschinenbau",
            "Objektausstattung",
            "Werkstätten",
            "Logistik",
        ),
        phone_prefix="+49",
        tld="de",
    ),
    Country(
        code="GB",
        weight=15,
        currency="GBP",
        first_names=(
            "Oliver",
            "Amelia",
            "George",
            "Isla",
            "Harry",
            "Ava",
            "Jack",
            "Emily",
            "Charlie",
            "Poppy",
            "Thomas",
            "Grace",
            "Oscar",
            "Sophia",
            "William",
            "Lily",
        ),
        last_names=(
            "Smith",
            "Jones",
            "Taylor",
            "Brown",
            "Williams",
            "Wilson",
            "Evans",
            "Thomas",
            "Roberts",
            "Walker",
            "Wright",
            "Robinson",
            "Thompson",
            "Hughes",
            "Edwards",
            "Green",
        ),
        streets=(
            "High Street",
            "Station Road",
            "Church Lane",
            "Victoria Road",
            "Green Lane",
            "Manor Road",
            "Park Road",
            "Queens Road",
            "Kings Road",
            "Mill Lane",
        ),
        cities=(
            ("London", "EC1"),
            ("Manchester", "M1"),
            ("Birmingham", "B1"),
            ("Leeds", "LS1"),
            ("Bristol", "BS1"),
            ("Glasgow", "G1"),
            ("Edinburgh", "EH1"),
            ("Liverpool", "L1"),
            ("Cambridge", "CB1"),
            ("Oxford", "OX1"),
        ),
        street_first=False,
        company_suffixes=("Ltd.", "plc", "& Sons Ltd."),
        company_words=(
            "Office Supplies",
            "Furnishings",
            "Trading",
            "Interiors",
            "Joinery",
            "Contracts",
            "Workplace",
            "Stationers",
        ),
        phone_prefix="+44",
        tld="co.uk",
    ),
    Country(
        code="FR",
        weight=10,
        currency="EUR",
        first_names=(
            "Lucas",
            "Emma",
            "Hugo",
            "Louise",
            "Louis",
            "Jade",
            "Gabriel",
            "Alice",
            "Arthur",
            "Chloé",
            "Jules",
            "Inès",
            "Raphaël",
            "Léa",
            "Nathan",
            "Manon",
        ),
        last_names=(
            "Martin",
            "Bernard",
            "Dubois",
            "Thomas",
            "Robert",
            "Richard",
            "Petit",
            "Durand",
            "Leroy",
            "Moreau",
            "Simon",
            "Laurent",
            "Lefèvre",
            "Michel",
            "Garcia",
            "Fournier",
        ),
        streets=(
            "rue de la Paix",
            "avenue Victor Hugo",
            "rue du Moulin",
            "boulevard Voltaire",
            "rue de l'Église",
            "rue des Lilas",
            "place de la République",
            "rue Pasteur",
        ),
        cities=(
            ("Paris", "750"),
            ("Lyon", "690"),
            ("Marseille", "130"),
            ("Toulouse", "310"),
            ("Nantes", "440"),
            ("Bordeaux", "330"),
            ("Lille", "590"),
            ("Strasbourg", "670"),
        ),
        street_first=False,
        company_suffixes=("SARL", "SA", "SAS"),
        company_words=("Mobilier", "Bureautique", "Agencement", "Distribution", "Équipement"),
        phone_prefix="+33",
        tld="fr",
    ),
    Country(
        code="ES",
        weight=10,
        currency="EUR",
        first_names=(
            "Hugo",
            "Lucía",
            "Martín",
            "Sofía",
            "Pablo",
            "María",
            "Alejandro",
            "Paula",
            "Daniel",
            "Valeria",
            "Álvaro",
            "Carmen",
            "Javier",
            "Elena",
            "Diego",
            "Marta",
        ),
        last_names=(
            "García",
            "Rodríguez",
            "González",
            "Fernández",
            "López",
            "Martínez",
            "Sánchez",
            "Pérez",
            "Gómez",
            "Martín",
            "Jiménez",
            "Ruiz",
            "Hernández",
            "Díaz",
            "Moreno",
            "Navarro",
        ),
        streets=(
            "Calle Mayor",
            "Avenida de la Constitución",
            "Calle del Sol",
            "Paseo de Gracia",
            "Calle Real",
            "Plaza de España",
            "Calle de Alcalá",
            "Avenida Diagonal",
        ),
        cities=(
            ("Madrid", "280"),
            ("Barcelona", "080"),
            ("Valencia", "460"),
            ("Sevilla", "410"),
            ("Zaragoza", "500"),
            ("Málaga", "290"),
            ("Bilbao", "480"),
            ("Granada", "180"),
        ),
        street_first=True,
        company_suffixes=("S.L.", "S.A."),
        company_words=("Muebles", "Oficinas", "Suministros", "Distribuciones", "Interiores"),
        phone_prefix="+34",
        tld="es",
    ),
    Country(
        code="NL",
        weight=8,
        currency="EUR",
        first_names=(
            "Daan",
            "Emma",
            "Sem",
            "Julia",
            "Lucas",
            "Mila",
            "Levi",
            "Tess",
            "Finn",
            "Sophie",
            "Milan",
            "Zoë",
            "Bram",
            "Sara",
            "Thijs",
            "Anna",
        ),
        last_names=(
            "de Jong",
            "Jansen",
            "de Vries",
            "van den Berg",
            "van Dijk",
            "Bakker",
            "Janssen",
            "Visser",
            "Smit",
            "Meijer",
            "de Boer",
            "Mulder",
            "de Groot",
            "Bos",
            "Vos",
            "Peters",
        ),
        streets=(
            "Kerkstraat",
            "Dorpsstraat",
            "Stationsweg",
            "Molenweg",
            "Schoolstraat",
            "Julianastraat",
            "Beatrixlaan",
            "Prinsengracht",
            "Marktplein",
        ),
        cities=(
            ("Amsterdam", "10"),
            ("Rotterdam", "30"),
            ("Utrecht", "35"),
            ("Den Haag", "25"),
            ("Eindhoven", "56"),
            ("Groningen", "97"),
            ("Haarlem", "20"),
            ("Leiden", "23"),
        ),
        street_first=True,
        company_suffixes=("B.V.", "N.V."),
        company_words=("Kantoormeubelen", "Interieur", "Handel", "Projectinrichting"),
        phone_prefix="+31",
        tld="nl",
    ),
    Country(
        code="DK",
        weight=7,
        currency="DKK",
        first_names=(
            "William",
            "Ida",
            "Noah",
            "Emma",
            "Oscar",
            "Alma",
            "Lucas",
            "Ella",
            "Carl",
            "Freja",
            "Magnus",
            "Clara",
            "Frederik",
            "Karla",
            "Emil",
            "Anna",
        ),
        last_names=(
            "Nielsen",
            "Jensen",
            "Hansen",
            "Pedersen",
            "Andersen",
            "Christensen",
            "Larsen",
            "Sørensen",
            "Rasmussen",
            "Jørgensen",
            "Petersen",
            "Madsen",
            "Kristensen",
            "Olsen",
        ),
        streets=(
            "Vestergade",
            "Østergade",
            "Nørregade",
            "Søndergade",
            "Strandvejen",
            "Kongensgade",
            "Skovvej",
            "Bredgade",
        ),
        cities=(
            ("København", "1"),
            ("Aarhus", "8"),
            ("Odense", "5"),
            ("Aalborg", "9"),
            ("Esbjerg", "67"),
            ("Roskilde", "40"),
        ),
        street_first=True,
        company_suffixes=("A/S", "ApS"),
        company_words=("Kontormøbler", "Indretning", "Handel", "Design"),
        phone_prefix="+45",
        tld="dk",
    ),
)
COUNTRY_WEIGHTS = tuple(c.weight for c in COUNTRIES)
COUNTRIES_BY_CODE = {c.code: c for c in COUNTRIES}

SALESPEOPLE: tuple[tuple[str, str, str], ...] = (
    # (code, name, phone)
    ("JO", "Jim Olive", "+1 404 555 0101"),
    ("PS", "Peter Saddow", "+1 404 555 0102"),
    ("HR", "Helen Ray", "+1 312 555 0103"),
    ("OF", "Otis Falls", "+1 206 555 0104"),
    ("LT", "Linda Torres", "+1 617 555 0105"),
    ("MK", "Mette Kjær", "+45 33 55 01 06"),
    ("AS", "Anna Schubert", "+49 30 5550107"),
    ("BH", "Benjamin Hughes", "+44 20 5550 0108"),
    ("CL", "Camille Laurent", "+33 1 55 50 01 09"),
    ("DM", "Diego Moreno", "+34 91 555 0110"),
    ("EV", "Eva de Vries", "+31 20 555 0111"),
    ("RW", "Robert Walker", "+1 512 555 0112"),
)
SALESPEOPLE_EMAIL_DOMAIN = "cronus-demo.example"

# (code, symbol, description, units per 1 USD)
CURRENCIES: tuple[tuple[str, str, str, str], ...] = (
    ("EUR", "€", "Euro", "0.921500"),
    ("GBP", "£", "Pound Sterling", "0.789200"),
    ("DKK", "kr.", "Danish Krone", "6.873400"),
    ("SEK", "kr", "Swedish Krona", "10.482100"),
    ("CHF", "CHF", "Swiss Franc", "0.882300"),
    ("CAD", "$", "Canadian Dollar", "1.361800"),
    ("JPY", "¥", "Japanese Yen", "149.520000"),
)
UNITS_OF_MEASURE: tuple[tuple[str, str], ...] = (
    ("PCS", "Piece"),
    ("BOX", "Box"),
    ("PACK", "Pack"),
    ("SET", "Set"),
    ("KG", "Kilogram"),
    ("M", "Metre"),
    ("HOUR", "Hour"),
    ("DAY", "Day"),
)
PAYMENT_TERMS: tuple[tuple[str, str, int], ...] = (
    ("COD", "Cash on delivery", 0),
    ("7 DAYS", "Net 7 days", 7),
    ("14 DAYS", "Net 14 days", 14),
    ("30 DAYS", "Net 30 days", 30),
    ("60 DAYS", "Net 60 days", 60),
    ("1M(8D)", "1 month, 2% discount within 8 days", 31),
)
SHIPMENT_METHODS: tuple[tuple[str, str], ...] = (
    ("EXW", "Ex works"),
    ("FCA", "Free carrier"),
    ("CIF", "Cost, insurance and freight"),
    ("DAP", "Delivered at place"),
    ("DDP", "Delivered duty paid"),
    ("PICKUP", "Pickup at warehouse"),
)
SHIPPING_AGENTS: tuple[tuple[str, str], ...] = (
    ("DHL", "DHL Express"),
    ("UPS", "United Parcel Service"),
    ("FEDEX", "FedEx"),
    ("DPD", "DPD Group"),
    ("GLS", "General Logistics Systems"),
    ("OWN LOG.", "Own logistics"),
)
# (code, description, price factor relative to the item's unit price)
PRICE_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("RETAIL", "Retail customers", "1.00"),
    ("WHOLESALE", "Wholesale and resellers", "0.82"),
    ("EXPORT", "Export customers", "0.90"),
    ("VIP", "Key accounts", "0.75"),
)
# Sales prices are kept in the local currency and these foreign currencies.
PRICE_CURRENCIES: tuple[str, ...] = ("", "EUR", "GBP", "DKK")

ITEM_SERIES: tuple[str, ...] = (
    "ATHENS",
    "PARIS",
    "LONDON",
    "ROME",
    "BERLIN",
    "OSLO",
    "MADRID",
    "VIENNA",
    "SYDNEY",
    "TOKYO",
    "AMSTERDAM",
    "LISBON",
    "MUNICH",
    "SEOUL",
    "DUBLIN",
    "PRAGUE",
    "ANTWERP",
    "CHAMONIX",
)
# (product, unit of measure, price range, weight range)
ITEM_PRODUCTS: tuple[tuple[str, str, int, int, float], ...] = (
    ("Desk", "PCS", 250, 1200, 35.0),
    ("Guest Chair", "PCS", 90, 400, 8.0),
    ("Swivel Chair", "PCS", 150, 900, 14.0),
    ("Conference Table", "PCS", 600, 3500, 60.0),
    ("Mobile Pedestal", "PCS", 120, 450, 20.0),
    ("Storage Unit", "PCS", 200, 900, 40.0),
    ("Whiteboard", "PCS", 60, 300, 9.0),
    ("Lamp", "PCS", 25, 180, 1.5),
    ("Bookshelf", "PCS", 110, 700, 30.0),
    ("Filing Cabinet", "PCS", 180, 650, 45.0),
    ("Monitor Arm", "PCS", 40, 220, 3.0),
    ("Cable Tray", "PACK", 15, 60, 1.2),
    ("Acoustic Panel", "SET", 150, 800, 12.0),
    ("Screws", "BOX", 5, 30, 0.8),
)
ITEM_VARIANTS: tuple[str, ...] = (
    "black",
    "white",
    "oak",
    "walnut",
    "grey",
    "blue",
    "green",
    "red",
    "beech",
    "anthracite",
)
RESOURCE_KINDS: tuple[tuple[str, str, int, int], ...] = (
    # (kind, unit, price range)
    ("Installer", "HOUR", 45, 95),
    ("Designer", "HOUR", 70, 160),
    ("Project manager", "DAY", 600, 1100),
    ("Delivery van", "DAY", 150, 350),
    ("Forklift", "HOUR", 30, 70),
)
JOB_TITLES = ("Purchasing", "Office Manager", "Facility Manager", "CFO", "CEO", "Buyer")


def _rng(seed: str, stream: str) -> random.Random:
    return random.Random(f"{seed}:{stream}")


def ascii_slug(text: str, sep: str = "") -> str:
    """ASCII-only lower-case slug, for e-mail local parts and host names."""
    text = text.replace("ß", "ss").replace("ø", "o").replace("Ø", "O").replace("æ", "ae")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = "".join(ch if ch.isalnum() else " " for ch in text.lower()).split()
    return sep.join(words)


GB_LETTERS = "ABDEFGHJLNPQRSTUWXY"
NL_LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"


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
