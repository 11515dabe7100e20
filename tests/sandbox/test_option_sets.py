"""The columns the ERP's default field mappings write, and Choice columns: their definitions
(`EntityDefinitions(...)/Attributes(...)`), InsertOptionValue / UpdateOptionValue, and the
check of written option values. Over real HTTP against the sandbox."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.process import free_port, start_sandbox_process
from setup_wizard.solution_package import solution_files, solution_zip
from tests.support.sandbox import ADMIN_APP, Crm

pytestmark = pytest.mark.sandbox

DEMO_DATA = Path(__file__).resolve().parents[2] / "sandbox" / "data" / "demo_overlap.json"
PAYMENT_TERMS = (
    "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='paymenttermscode')"
)
PICKLIST = "Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
# The CRM filter of the SALESPEOPLE mapping (docs: IsDisabled = No, IsLicensed = Yes,
# IsIntegrationUser = No).
SALESPEOPLE_FILTER = "isdisabled eq false and islicensed eq true and isintegrationuser eq false"


def insert_body(label: str, value: int | None = None, attribute: str = "paymenttermscode") -> dict:
    body: dict[str, Any] = {
        "EntityLogicalName": "account",
        "AttributeLogicalName": attribute,
        "Label": {"LocalizedLabels": [{"Label": label, "LanguageCode": 1033}]},
    }
    if value is not None:
        body["Value"] = value
    return body


def options_of(session: Crm, path: str = PAYMENT_TERMS) -> dict[int, str]:
    response = session.get(
        f"{path}/{PICKLIST}?$select=LogicalName&$expand=OptionSet($select=Options)"
    )
    assert response.status_code == 200, response.text
    return {
        o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"]
        for o in response.json()["OptionSet"]["Options"]
    }


# ---------------------------------------------------------------------------- new columns


def test_the_columns_of_the_default_mappings_round_trip(integration_session: Crm) -> None:
    crm = integration_session
    account = {
        "name": "Columns Ltd",
        "address1_primarycontactname": "Ada Lovelace",
        "address1_line2": "Building 2",
        "address1_stateorprovince": "Bavaria",
        "fax": "+49 89 555 0100",
        "address1_freighttermscode": 2,
        "address1_shippingmethodcode": 7,
        "paymenttermscode": 2,
    }
    account_id = crm.create("accounts", account)
    assert {k: v for k, v in crm.row("accounts", account_id).items() if k in account} == account
    contact = {
        "firstname": "Grace",
        "middlename": "Brewster",
        "lastname": "Hopper",
        "websiteurl": "https://hopper.example",
        "pager": "555 0199",
        "fax": "555 0198",
    }
    contact_id = crm.create("contacts", contact)
    row = crm.row("contacts", contact_id)
    assert {k: v for k, v in row.items() if k in contact} == contact
    assert row["fullname"] == "Grace Hopper"
    product = {
        "productnumber": "COL-1",
        "name": "Column product",
        "stockvolume": 1.25,
        "stockweight": 12.5,
        "vendorid": "V00010",
        "vendorname": "Fabrikam Supplies",
        "vendorpartnumber": "FAB-77",
    }
    product_id = crm.create("products", product)
    assert {k: v for k, v in crm.row("products", product_id).items() if k in product} == product


def test_the_new_columns_keep_dataverse_lengths_and_types(integration_session: Crm) -> None:
    crm = integration_session
    for entity_set, body in (
        ("accounts", {"name": "x", "address1_primarycontactname": "n" * 101}),
        ("contacts", {"lastname": "x", "middlename": "m" * 51}),
        ("contacts", {"lastname": "x", "websiteurl": "w" * 201}),
        ("products", {"productnumber": "L-1", "name": "x", "vendorname": "v" * 101}),
        ("products", {"productnumber": "L-2", "name": "x", "stockweight": "heavy"}),
        ("accounts", {"name": "x", "paymenttermscode": "Net 30"}),
    ):
        response = crm.post(entity_set, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == "0x80044331"


def test_unknown_columns_are_still_refused(integration_session: Crm) -> None:
    # BC's "...CodeEnum" names are virtual-table fields, not Dataverse columns.
    response = integration_session.post("accounts", json={"name": "x", "paymenttermscodeenum": 1})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80048d19",
        "message": "Invalid property 'paymenttermscodeenum' was found in entity "
        "'Microsoft.Dynamics.CRM.account'.",
    }


def test_the_salespeople_filter_finds_the_licensed_interactive_users(
    integration_session: Crm,
) -> None:
    rows = integration_session.all_rows(
        "systemusers",
        f"?$select=fullname,internalemailaddress,islicensed,isintegrationuser"
        f"&$filter={SALESPEOPLE_FILTER}",
    )
    emails = {r["internalemailaddress"] for r in rows}
    salespeople = json.loads(DEMO_DATA.read_text(encoding="utf-8"))["salespeople"]
    assert {f"{p['login']}@sandbox.example" for p in salespeople} <= emails
    # the interactive administrator is licensed too; application users and the disabled user
    # are not found
    assert emails - {f"{p['login']}@sandbox.example" for p in salespeople} == {
        "admin@sandbox.example"
    }
    assert all(r["islicensed"] is True and r["isintegrationuser"] is False for r in rows)


def test_application_users_are_unlicensed(integration_session: Crm) -> None:
    rows = integration_session.all_rows(
        "systemusers",
        "?$select=internalemailaddress,islicensed,isintegrationuser&$filter=accessmode eq 4",
    )
    assert {r["internalemailaddress"] for r in rows} == {
        "integration@sandbox.example",
        "admin-app@sandbox.example",
    }
    assert all(r["islicensed"] is False and r["isintegrationuser"] is False for r in rows)


# ---------------------------------------------------------------------------- definitions


def test_option_set_definition_has_dataverses_shape(integration_session: Crm) -> None:
    response = integration_session.get(
        f"{PAYMENT_TERMS}/{PICKLIST}?$select=LogicalName&$expand=OptionSet($select=Options)"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"].endswith(
        "$metadata#EntityDefinitions('account')/Attributes/"
        "Microsoft.Dynamics.CRM.PicklistAttributeMetadata(LogicalName,OptionSet(Options))/$entity"
    )
    assert set(body) == {"@odata.context", "MetadataId", "LogicalName", "OptionSet"}
    assert body["LogicalName"] == "paymenttermscode"
    assert set(body["OptionSet"]) == {"MetadataId", "Options"}
    first = body["OptionSet"]["Options"][0]
    assert first["Value"] == 1 and first["IsManaged"] is True
    assert first["Label"]["UserLocalizedLabel"]["Label"] == "Net 30"
    assert first["Label"]["LocalizedLabels"] == [
        {**first["Label"]["UserLocalizedLabel"], "LanguageCode": 1033}
    ]
    assert first["Description"] == {"LocalizedLabels": [], "UserLocalizedLabel": None}
    assert options_of(integration_session) == {
        1: "Net 30", 2: "2% 10, Net 30", 3: "Net 45", 4: "Net 60",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("address1_freighttermscode", {1: "FOB", 2: "No Charge"}),
        (
            "address1_shippingmethodcode",
            {
                1: "Airborne",
                2: "DHL",
                3: "FedEx",
                4: "UPS",
                5: "Postal Mail",
                6: "Full Load",
                7: "Will Call",
            },
        ),  # fmt: skip
    ],
)
def test_default_options_of_the_shipping_columns(
    integration_session: Crm, attribute: str, expected: dict[int, str]
) -> None:
    path = f"EntityDefinitions(LogicalName='account')/Attributes(LogicalName='{attribute}')"
    assert options_of(integration_session, path) == expected


def test_definition_variants(integration_session: Crm) -> None:
    crm = integration_session
    whole = crm.get(f"{PAYMENT_TERMS}/{PICKLIST}?$expand=OptionSet").json()
    assert whole["AttributeType"] == "Picklist"
    assert whole["OptionSet"]["OptionSetType"] == "Picklist"
    assert len(whole["OptionSet"]["Options"]) == 4
    both = crm.get(
        f"{PAYMENT_TERMS}/{PICKLIST}?$select=LogicalName"
        "&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)"
    ).json()
    assert both["OptionSet"]["Options"] == both["GlobalOptionSet"]["Options"]
    plain = crm.get(PAYMENT_TERMS).json()
    assert plain["@odata.type"] == f"#{PICKLIST}" and "OptionSet" not in plain
    # OptionSet is a property of the Picklist type only: expanding it needs the cast
    refused = crm.get(f"{PAYMENT_TERMS}?$expand=OptionSet")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "0x80060888"
    # a cast to the wrong type, an unknown column, an unknown table
    name = "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')"
    assert crm.get(f"{name}/{PICKLIST}").status_code == 404
    missing = "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='nope')"
    assert crm.get(missing).status_code == 404
    assert crm.get("EntityDefinitions(LogicalName='nope')").status_code == 404
    found = crm.get("EntityDefinitions?$filter=EntitySetName eq 'accounts'&$select=LogicalName")
    assert found.json()["value"] == [
        {"MetadataId": found.json()["value"][0]["MetadataId"], "LogicalName": "account"}
    ]


# ---------------------------------------------------------------------------- InsertOptionValue


def test_insert_option_value_needs_the_write_option_set_privilege(
    integration_session: Crm,
) -> None:
    response = integration_session.post("InsertOptionValue", json=insert_body("NET 14"))
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "0x80040220"
    assert "prvWriteOptionSet" in error["message"]
    assert options_of(integration_session) == {
        1: "Net 30", 2: "2% 10, Net 30", 3: "Net 45", 4: "Net 60",
    }  # fmt: skip


def test_inserted_options_are_accepted_and_unknown_values_refused(
    integration_session: Crm, admin_session: Crm
) -> None:
    response = admin_session.post("InsertOptionValue", json=insert_body("NET 14"))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "@odata.context": f"{admin_session.api}$metadata#"
        "Microsoft.Dynamics.CRM.InsertOptionValueResponse",
        "NewOptionValue": 100000000,
    }
    second = admin_session.post("InsertOptionValue", json=insert_body("NET 7")).json()
    assert second["NewOptionValue"] == 100000001
    chosen = admin_session.post("InsertOptionValue", json=insert_body("NET 21", value=42))
    assert chosen.json()["NewOptionValue"] == 42
    assert options_of(integration_session) == {
        1: "Net 30", 2: "2% 10, Net 30", 3: "Net 45", 4: "Net 60", 42: "NET 21",
        100000000: "NET 14", 100000001: "NET 7",
    }  # fmt: skip

    account_id = integration_session.create(
        "accounts", {"name": "Terms Ltd", "paymenttermscode": 100000000}
    )
    row = integration_session.get(
        f"accounts({account_id})?$select=paymenttermscode",
        headers={"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'},
    ).json()
    assert row["paymenttermscode"] == 100000000
    assert row["paymenttermscode@OData.Community.Display.V1.FormattedValue"] == "NET 14"

    refused = integration_session.patch(
        f"accounts({account_id})", json={"paymenttermscode": 100000005}
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "code": "0x80044331",
        "message": "A validation error occurred.  The value 100000005 of 'paymenttermscode' on "
        "record of type 'account' is outside the valid range. Accepted Values: "
        "1,2,3,4,42,100000000,100000001",
    }
    # the option set of one column is not another's
    other = integration_session.post(
        "accounts", json={"name": "x", "address1_shippingmethodcode": 100000000}
    )
    assert other.status_code == 400


def test_insert_option_value_refusals(admin_session: Crm) -> None:
    duplicate = admin_session.post("InsertOptionValue", json=insert_body("Again", value=3))
    assert duplicate.status_code == 400
    no_label = admin_session.post(
        "InsertOptionValue",
        json={"EntityLogicalName": "account", "AttributeLogicalName": "paymenttermscode"},
    )
    assert no_label.status_code == 400
    not_choice = admin_session.post("InsertOptionValue", json=insert_body("x", attribute="name"))
    assert not_choice.status_code == 400
    state = admin_session.post("InsertOptionValue", json=insert_body("x", attribute="statecode"))
    assert state.status_code == 400
    unknown = admin_session.post(
        "InsertOptionValue", json={**insert_body("x"), "EntityLogicalName": "nope"}
    )
    assert unknown.status_code == 404
    assert admin_session.get("InsertOptionValue").status_code == 405


def test_update_option_value_relabels(admin_session: Crm) -> None:
    body = {**insert_body("Net 30 days", value=1), "MergeLabels": True}
    response = admin_session.post("UpdateOptionValue", json=body)
    assert response.status_code == 204, response.text
    assert options_of(admin_session)[1] == "Net 30 days"
    missing = admin_session.post("UpdateOptionValue", json={**body, "Value": 999})
    assert missing.status_code == 404


def test_reset_removes_inserted_options(fresh: Any) -> None:
    admin = Crm(fresh, ADMIN_APP)
    assert admin.post("InsertOptionValue", json=insert_body("NET 14")).status_code == 200
    assert 100000000 in options_of(admin)
    fresh.reset()
    assert 100000000 not in options_of(admin)
    refused = admin.post("accounts", json={"name": "x", "paymenttermscode": 100000000})
    assert refused.status_code == 400


def test_inserted_options_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "restart.sqlite3"
    with start_sandbox_process(db, port=free_port(), settings_module="erpcrm.settings.test") as sb:
        admin = Crm(sb, ADMIN_APP)
        assert admin.post("InsertOptionValue", json=insert_body("NET 14")).status_code == 200
    with start_sandbox_process(db, port=free_port(), settings_module="erpcrm.settings.test") as sb:
        admin = Crm(sb, ADMIN_APP)
        assert options_of(admin)[100000000] == "NET 14"
        assert admin.post("accounts", json={"name": "x", "paymenttermscode": 100000000}).ok


# ---------------------------------------------------------------------------- privileges of roles

INTEGRATION_ADMINISTRATOR_ROLE = "8c8d4f51-a72b-e511-80d9-3863bb349780"
INTEGRATION_USER_ROLE = "6f960e32-a72b-e511-80d9-3863bb349780"
WRITE_OPTION_SET = b'<RolePrivilege name="prvWriteOptionSet" level="Global" />'


def import_solution(admin: Crm, files: dict[str, bytes] | None = None) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in (files or solution_files()).items():
            archive.writestr(name, data)
    body = {
        "CustomizationFile": base64.b64encode(buffer.getvalue()).decode(),
        "ImportJobId": str(uuid.uuid4()),
    }
    response = admin.post("ImportSolution", json=body)
    assert response.status_code == 204, response.text


def assign_role(admin: Crm, user: Crm, role_id: str) -> None:
    user_id = user.get("WhoAmI").json()["UserId"]
    response = admin.post(
        f"systemusers({user_id})/systemuserroles_association/$ref",
        json={"@odata.id": f"{admin.api}roles({role_id})"},
    )
    assert response.status_code == 204, response.text


def refused_for_write_option_set(response: requests.Response) -> bool:
    error = response.json().get("error") or {}
    return (
        response.status_code == 403
        and error.get("code") == "0x80040220"
        and "prvWriteOptionSet" in error.get("message", "")
    )


def test_a_role_imported_with_write_option_set_lets_its_holders_insert_options(
    integration_session: Crm, admin_session: Crm
) -> None:
    import_solution(admin_session)
    # Integration User does not grant prvWriteOptionSet: still refused
    assign_role(admin_session, integration_session, INTEGRATION_USER_ROLE)
    refused = integration_session.post("InsertOptionValue", json=insert_body("NET 14"))
    assert refused_for_write_option_set(refused)

    assign_role(admin_session, integration_session, INTEGRATION_ADMINISTRATOR_ROLE)
    response = integration_session.post("InsertOptionValue", json=insert_body("NET 14"))
    assert response.status_code == 200, response.text
    assert response.json()["NewOptionValue"] == 100000000
    relabel = {**insert_body("NET 14 days", value=100000000), "MergeLabels": True}
    assert integration_session.post("UpdateOptionValue", json=relabel).status_code == 204
    assert options_of(integration_session)[100000000] == "NET 14 days"

    # the calls the sandbox keeps to System Administrators stay theirs
    user_id = integration_session.get("WhoAmI").json()["UserId"]
    assign = integration_session.post(
        f"systemusers({user_id})/systemuserroles_association/$ref",
        json={"@odata.id": f"{integration_session.api}roles({INTEGRATION_USER_ROLE})"},
    )
    assert assign.status_code == 403 and assign.json()["error"]["code"] == "0x80040220"
    body = {"CustomizationFile": base64.b64encode(solution_zip()).decode()}
    assert integration_session.post("ImportSolution", json=body).status_code == 403


def test_a_re_import_replaces_the_privileges_of_a_role(
    integration_session: Crm, admin_session: Crm
) -> None:
    import_solution(admin_session)
    assign_role(admin_session, integration_session, INTEGRATION_ADMINISTRATOR_ROLE)
    assert integration_session.post("InsertOptionValue", json=insert_body("A")).status_code == 200

    files = solution_files()
    assert WRITE_OPTION_SET in files["customizations.xml"]
    files["customizations.xml"] = files["customizations.xml"].replace(
        WRITE_OPTION_SET, WRITE_OPTION_SET.replace(b'"Global"', b'"None"')
    )
    import_solution(admin_session, files)  # depth None: the privilege is not granted
    assert refused_for_write_option_set(
        integration_session.post("InsertOptionValue", json=insert_body("B"))
    )
    files["customizations.xml"] = files["customizations.xml"].replace(
        WRITE_OPTION_SET.replace(b'"Global"', b'"None"'), b""
    )
    import_solution(admin_session, files)  # left out: not granted either
    assert refused_for_write_option_set(
        integration_session.post("InsertOptionValue", json=insert_body("C"))
    )


def test_reset_forgets_the_privileges_of_imported_roles(fresh: Any) -> None:
    admin = Crm(fresh, ADMIN_APP)
    import_solution(admin)
    fresh.reset()
    # a role with the same id made by hand after the reset grants nothing
    created = admin.post(
        "roles",
        json={"roleid": INTEGRATION_ADMINISTRATOR_ROLE, "name": "Integration Administrator"},
    )
    assert created.status_code == 204, created.text
    integration = Crm(fresh)
    assign_role(admin, integration, INTEGRATION_ADMINISTRATOR_ROLE)
    assert refused_for_write_option_set(
        integration.post("InsertOptionValue", json=insert_body("NET 14"))
    )
