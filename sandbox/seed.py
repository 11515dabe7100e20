"""The deterministic demo organization of the sandbox CRM (fixed GUIDs; see docs/contracts.md)."""

from __future__ import annotations

import functools
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandbox.protocol import Request

if TYPE_CHECKING:
    from sandbox.api import Api

# The ERP demo records the CRM overlaps with, written by scripts/sandbox_demo_data.py (the
# sandbox is a stand-alone process and imports none of the ERP's code).
DEMO_DATA_FILE = Path(__file__).resolve().parent / "data" / "demo_overlap.json"

NAMESPACE = uuid.UUID("3f0c1d7e-6a54-4c1b-9f1e-5a9e0d2c7b10")

ORGANIZATION_ID = "4faf1f34-f06d-e511-80d0-00155db07cb1"
ORGANIZATION_NAME = "Sandbox Sales (erpcrm)"
ROOT_BUSINESS_UNIT_ID = "ded5a64f-f06d-e511-80d0-00155db07cb1"
USD_ID = "228f42f8-e646-e111-8eb7-78e7d162ced1"
EUR_ID = "238f42f8-e646-e111-8eb7-78e7d162ced1"
GBP_ID = "248f42f8-e646-e111-8eb7-78e7d162ced1"

SYSTEM_ADMINISTRATOR_ROLE_ID = "6d3a1c2b-0f1e-4c8a-9b7d-000000000001"
SALESPERSON_ROLE_ID = "6d3a1c2b-0f1e-4c8a-9b7d-000000000002"
BASIC_USER_ROLE_ID = "6d3a1c2b-0f1e-4c8a-9b7d-000000000003"

INTEGRATION_CLIENT_ID = "5e1d6c7a-0d1b-4f1e-9c3a-2b7e8f9a0c01"
INTEGRATION_CLIENT_SECRET = "sandbox-integration-secret"  # noqa: S105 - published sandbox credential
INTEGRATION_USER_ID = "b1a7c0de-0000-4000-8000-000000000001"
ADMIN_USERNAME = "admin@sandbox.example"
ADMIN_PASSWORD = "Sandbox-Admin-1!"  # noqa: S105 - published sandbox credential
ADMIN_USER_ID = "b1a7c0de-0000-4000-8000-000000000002"
ADMIN_APP_CLIENT_ID = "5e1d6c7a-0d1b-4f1e-9c3a-2b7e8f9a0c02"
ADMIN_APP_CLIENT_SECRET = "sandbox-admin-app-secret"  # noqa: S105 - published sandbox credential
ADMIN_APP_USER_ID = "b1a7c0de-0000-4000-8000-000000000003"
DISABLED_USERNAME = "disabled@sandbox.example"
DISABLED_USER_ID = "b1a7c0de-0000-4000-8000-000000000004"
# The well-known public client id of Microsoft's Dataverse samples, accepted for password grants.
SAMPLE_PUBLIC_CLIENT_ID = "51f81489-12ee-4a9e-aaae-a2591f45987d"

SALES_TEAM_ID = "39e0dbe4-131b-e111-ba7e-78e7d1620f5e"
UNIT_GROUP_ID = "c0ffee00-0000-4000-8000-000000000001"
UNIT_PIECE_ID = "c0ffee00-0000-4000-8000-000000000002"
PRICE_LIST_ID = "c0ffee00-0000-4000-8000-000000000003"

# An app registration the directory knows but no systemuser is bound to: tokens are issued,
# every Web API call answers 403 0x80072560 "The user is not a member of the organization."
UNBOUND_CLIENT_ID = "5e1d6c7a-0d1b-4f1e-9c3a-2b7e8f9a0c03"
UNBOUND_CLIENT_SECRET = "sandbox-unbound-app-secret"  # noqa: S105 - published sandbox credential

# client id -> (secret, systemuserid)
APPLICATIONS: dict[str, tuple[str, str]] = {
    INTEGRATION_CLIENT_ID: (INTEGRATION_CLIENT_SECRET, INTEGRATION_USER_ID),
    ADMIN_APP_CLIENT_ID: (ADMIN_APP_CLIENT_SECRET, ADMIN_APP_USER_ID),
    UNBOUND_CLIENT_ID: (UNBOUND_CLIENT_SECRET, ""),
}
# username -> (password, systemuserid)
INTERACTIVE_USERS: dict[str, tuple[str, str]] = {
    ADMIN_USERNAME: (ADMIN_PASSWORD, ADMIN_USER_ID),
}
PUBLIC_CLIENT_IDS = {INTEGRATION_CLIENT_ID, ADMIN_APP_CLIENT_ID, SAMPLE_PUBLIC_CLIENT_ID}

COUNTRY_NAMES = {
    "US": "United States", "DE": "Germany", "GB": "United Kingdom", "FR": "France",
    "DK": "Denmark", "NL": "Netherlands", "ES": "Spain", "IT": "Italy", "AT": "Austria",
    "CH": "Switzerland", "BE": "Belgium", "SE": "Sweden", "CA": "Canada",
}  # fmt: skip


def stable_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def account_id(customer_no: str) -> str:
    return stable_id("account", customer_no)


def contact_id(contact_no: str) -> str:
    return stable_id("contact", contact_no)


def salesperson_user_id(code: str) -> str:
    return stable_id("systemuser", code)


@functools.cache
def demo_data() -> dict[str, Any]:
    """salespeople, customers and contacts of the ERP demo data that the CRM shares."""
    with DEMO_DATA_FILE.open(encoding="utf-8") as handle:
        return json.load(handle)


def seed(api: Api) -> None:
    """Create the demo organization through the API's own write path (inside one transaction)."""
    req = Request("POST", "", "", {}, b"", "http://sandbox.invalid", "v9.2", ADMIN_USER_ID)

    def create(logical: str, body: dict[str, Any]) -> dict[str, Any]:
        return api.create_row(req, api.table(logical), body)

    def set_state(logical: str, row_id: str, **values: Any) -> None:
        table = api.table(logical)
        row = api.store.get(table.entity_set, row_id)
        assert row is not None
        row.update(values)
        api.store.replace(table.entity_set, row_id, row, api.unique_keys(table, row))

    for cid, iso, name, symbol, rate in (
        (USD_ID, "USD", "US Dollar", "$", 1.0),
        (EUR_ID, "EUR", "Euro", "€", 0.92),
        (GBP_ID, "GBP", "Pound Sterling", "£", 0.79),
    ):
        create(
            "transactioncurrency",
            {
                "transactioncurrencyid": cid,
                "isocurrencycode": iso,
                "currencyname": name,
                "currencysymbol": symbol,
                "exchangerate": rate,
                "currencyprecision": 2,
            },
        )
    create(
        "organization",
        {
            "organizationid": ORGANIZATION_ID,
            "name": ORGANIZATION_NAME,
            "basecurrencyid@odata.bind": f"/transactioncurrencies({USD_ID})",
            "createproductswithoutparentinactivestate": False,
            "expirechangetrackingindays": 7,
        },
    )
    create("businessunit", {"businessunitid": ROOT_BUSINESS_UNIT_ID, "name": "sandbox"})
    bu = f"/businessunits({ROOT_BUSINESS_UNIT_ID})"
    create(
        "team",
        {
            "teamid": SALES_TEAM_ID,
            "name": "Sales Team",
            "teamtype": 0,
            "businessunitid@odata.bind": bu,
        },
    )
    for role_id, name in (
        (SYSTEM_ADMINISTRATOR_ROLE_ID, "System Administrator"),
        (SALESPERSON_ROLE_ID, "Salesperson"),
        (BASIC_USER_ROLE_ID, "Basic User"),
    ):
        create("role", {"roleid": role_id, "name": name, "businessunitid@odata.bind": bu})

    def user(user_id: str, first: str, last: str, email: str, **extra: Any) -> None:
        create(
            "systemuser",
            {
                "systemuserid": user_id,
                "firstname": first,
                "lastname": last,
                "internalemailaddress": email,
                "domainname": email,
                "businessunitid@odata.bind": bu,
                "accessmode": extra.pop("accessmode", 0),
                **extra,
            },
        )

    # Interactive users hold a licence; application users never do (Dataverse's islicensed).
    # isintegrationuser ("integration user mode") is false for every user, the default.
    user(
        ADMIN_USER_ID,
        "Sandbox",
        "Administrator",
        ADMIN_USERNAME,
        azureactivedirectoryobjectid=stable_id("aad", ADMIN_USERNAME),
        islicensed=True,
    )
    user(
        INTEGRATION_USER_ID,
        "# ERP",
        "Integration",
        "integration@sandbox.example",
        applicationid=INTEGRATION_CLIENT_ID,
        accessmode=4,
        islicensed=False,
        azureactivedirectoryobjectid=stable_id("aad", INTEGRATION_CLIENT_ID),
    )
    user(
        ADMIN_APP_USER_ID,
        "# Admin",
        "Application",
        "admin-app@sandbox.example",
        applicationid=ADMIN_APP_CLIENT_ID,
        accessmode=4,
        islicensed=False,
        azureactivedirectoryobjectid=stable_id("aad", ADMIN_APP_CLIENT_ID),
    )
    user(DISABLED_USER_ID, "Dana", "Disabled", DISABLED_USERNAME, islicensed=True)
    set_state("systemuser", DISABLED_USER_ID, isdisabled=True)
    for uid in (ADMIN_USER_ID, ADMIN_APP_USER_ID):
        api.store.link("systemuserroles", uid, SYSTEM_ADMINISTRATOR_ROLE_ID)
    api.store.link("systemuserroles", DISABLED_USER_ID, BASIC_USER_ROLE_ID)

    data = demo_data()
    for person in data["salespeople"]:
        first, _, last = person["name"].partition(" ")
        uid = salesperson_user_id(person["code"])
        user(
            uid,
            first,
            last,
            f"{person['login']}@sandbox.example",
            mobilephone=person["phone"],
            title="Salesperson",
            islicensed=True,
        )
        api.store.link("systemuserroles", uid, SALESPERSON_ROLE_ID)

    create(
        "uomschedule",
        {"uomscheduleid": UNIT_GROUP_ID, "name": "Default Unit", "baseuomname": "Primary Unit"},
    )
    create(
        "uom",
        {
            "uomid": UNIT_PIECE_ID,
            "name": "Primary Unit",
            "quantity": 1.0,
            "uomscheduleid@odata.bind": f"/uomschedules({UNIT_GROUP_ID})",
        },
    )
    set_state("uom", UNIT_PIECE_ID, isschedulebaseuom=True, _baseuom_value=UNIT_PIECE_ID)
    create(
        "pricelevel",
        {
            "pricelevelid": PRICE_LIST_ID,
            "name": "Default Price List (USD)",
            "transactioncurrencyid@odata.bind": f"/transactioncurrencies({USD_ID})",
        },
    )

    customers = data["customers"]
    seeded_accounts: set[str] = set()
    for index, customer in enumerate(customers):
        if index % 3 == 2:
            continue  # about a third of the ERP customers are not in the CRM yet
        phone = customer["phone"]
        city = customer["city"]
        if index % 7 == 1:
            phone = phone[:-1] + str((int(phone[-1]) + 1) % 10)  # a small difference to sync
        if index % 11 == 4:
            city = city.upper()
        create(
            "account",
            {
                "accountid": account_id(customer["no"]),
                "name": customer["name"],
                "accountnumber": customer["no"],
                "address1_line1": customer["address"],
                "address1_postalcode": customer["post_code"],
                "address1_city": city,
                "address1_country": COUNTRY_NAMES.get(
                    customer["country_code"], customer["country_code"]
                ),
                "emailaddress1": customer["email"],
                "telephone1": phone,
                "websiteurl": customer["home_page"],
            },
        )
        seeded_accounts.add(customer["no"])
    for n, (name, city) in enumerate(
        (
            ("Contoso Pharmaceuticals", "Redmond"),
            ("Fabrikam Outdoor Gear", "Seattle"),
            ("Northwind Traders", "Portland"),
            ("Adventure Works Cycles", "Bothell"),
            ("Tailspin Toys", "Boise"),
        )
    ):
        create(
            "account",
            {
                # one CRM-only account is owned by a team, like in Dataverse's own samples
                **({"ownerid@odata.bind": f"/teams({SALES_TEAM_ID})"} if n == 3 else {}),
                "accountid": stable_id("crm-account", name),
                "name": name,
                "address1_city": city,
                "address1_country": "United States",
                "telephone1": f"+1 425 555 01{n:02d}",
                "emailaddress1": f"info@{name.split()[0].lower()}.example",
                # Dataverse's default options (sandbox/tables.py), one mix per account
                "paymenttermscode": n % 4 + 1,
                "address1_shippingmethodcode": n % 7 + 1,
                "address1_freighttermscode": n % 2 + 1,
            },
        )
    for index, person in enumerate(data["contacts"]):
        if index % 4 == 3:
            continue
        body: dict[str, Any] = {
            "contactid": contact_id(person["no"]),
            "firstname": person["first_name"],
            "lastname": person["last_name"],
            "emailaddress1": person["email"],
            "telephone1": person["phone"],
        }
        if person["company_no"] in seeded_accounts:
            body["parentcustomerid_account@odata.bind"] = (
                f"/accounts({account_id(person['company_no'])})"
            )
        create("contact", body)
        if person["company_no"] in seeded_accounts:
            set_state(
                "account",
                account_id(person["company_no"]),
                # the ERP maps its customer's Contact to Address1_PrimaryContactName
                address1_primarycontactname=f"{person['first_name']} {person['last_name']}",
                _primarycontactid_value=body["contactid"],
                **{"_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact"},
            )
