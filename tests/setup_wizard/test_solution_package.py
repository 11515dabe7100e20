"""The integration solution package is a solution zip as Microsoft documents it: the three root
files, a full definition of the erpcrm_connection table, and the integration roles."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree as ET

from connection.selectors import (
    INTEGRATION_ADMINISTRATOR_ROLE,
    INTEGRATION_USER_ROLE,
    PRODUCT_AVAILABILITY_ROLE,
)
from sandbox.solution import parse_package
from setup_wizard.solution_package import solution_version, solution_zip

COLUMNS = {
    "erpcrm_name",
    "erpcrm_erpwebclienturl",
    "erpcrm_availabilityserviceurl",
    "erpcrm_availabilityusername",
    "erpcrm_availabilitykey",
}


def _files() -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(solution_zip()))
    return {name: archive.read(name) for name in archive.namelist()}


def test_zip_holds_the_three_root_files_and_each_parses() -> None:
    files = _files()
    assert list(files) == ["[Content_Types].xml", "solution.xml", "customizations.xml"]
    parsed = {name: ET.fromstring(data) for name, data in files.items()}  # noqa: S314
    types = parsed["[Content_Types].xml"]
    assert types.tag == "{http://schemas.openxmlformats.org/package/2006/content-types}Types"
    assert [d.get("Extension") for d in types] == ["xml"]
    manifest = parsed["solution.xml"].find("SolutionManifest")
    assert manifest is not None
    assert manifest.findtext("UniqueName") == "ErpCrmIntegration"
    assert manifest.findtext("Managed") == "0"  # a hand-built package is unmanaged
    assert manifest.findtext("Publisher/CustomizationPrefix") == "erpcrm"
    assert solution_version() == manifest.findtext("Version") == "1.0.0.0"


def test_the_same_sources_give_the_same_bytes() -> None:
    assert solution_zip() == solution_zip()


def test_customizations_define_the_connection_table_and_the_roles() -> None:
    root = ET.fromstring(_files()["customizations.xml"])  # noqa: S314
    entity = root.find("Entities/Entity/EntityInfo/entity[@Name='erpcrm_connection']")
    assert entity is not None
    assert entity.findtext("EntitySetName") == "erpcrm_connections"
    assert entity.findtext("OwnershipTypeMask") == "UserOwned"
    attributes = {a.findtext("LogicalName"): a for a in entity.iter("attribute")}
    assert set(attributes) == COLUMNS | {"erpcrm_connectionid"}
    assert attributes["erpcrm_connectionid"].findtext("Type") == "primarykey"
    assert "PrimaryName" in (attributes["erpcrm_name"].findtext("DisplayMask") or "")
    roots = {
        r.get("schemaName") or r.get("id")
        for r in ET.fromstring(_files()["solution.xml"]).iter("RootComponent")  # noqa: S314
    }
    roles = {r.get("id"): r for r in root.iter("Role")}
    expected = {INTEGRATION_ADMINISTRATOR_ROLE, INTEGRATION_USER_ROLE, PRODUCT_AVAILABILITY_ROLE}
    assert set(roles) == {f"{{{r}}}" for r in expected}
    assert roots == {
        "erpcrm_connection",
        "erpcrm_accountstatistics",
        "erpcrm_account_erpcrm_accountstatistics",
        *roles,
    }
    privileges = {
        role_id: {p.get("name"): p.get("level") for p in role.iter("RolePrivilege")}
        for role_id, role in roles.items()
    }
    admin = privileges[f"{{{INTEGRATION_ADMINISTRATOR_ROLE}}}"]
    user = privileges[f"{{{INTEGRATION_USER_ROLE}}}"]
    availability = privileges[f"{{{PRODUCT_AVAILABILITY_ROLE}}}"]
    assert admin["prvWriteerpcrm_connection"] == "Global"
    assert user["prvReaderpcrm_connection"] == "Global" and "prvWriteerpcrm_connection" not in user
    assert user["prvCreateAccount"] == user["prvWriteSalesOrder"] == "Global"
    assert set(availability) == {"prvReaderpcrm_connection", "prvReadProduct", "prvReadUoM"}
    # the option mappings add option values to Choice columns (InsertOptionValue)
    assert admin["prvWriteOptionSet"] == admin["prvReadOptionSet"] == "Global"
    assert "prvWriteOptionSet" not in user and "prvWriteOptionSet" not in availability


def test_the_sandbox_reads_the_table_and_roles_from_the_package() -> None:
    package = parse_package(solution_zip())
    assert package["uniquename"] == "ErpCrmIntegration"
    table, statistics = package["tables"]
    # The account statistics (§7.4): one row per account, pointing at it.
    assert statistics["entity_set"] == "erpcrm_accountstatisticses"
    assert statistics["lookups"] == [
        {"name": "erpcrm_accountid", "target": "account", "required": False}
    ]
    assert {"erpcrm_balance", "erpcrm_outstandingorders", "erpcrm_shippednotinvoiced"} <= {
        c["name"] for c in statistics["columns"]
    }
    assert table["entity_set"] == "erpcrm_connections" and table["pk"] == "erpcrm_connectionid"
    assert table["primary_name"] == "erpcrm_name" and table["change_tracking"]
    assert {c["name"] for c in table["columns"]} == COLUMNS
    admin_privileges = package["privileges"][str(INTEGRATION_ADMINISTRATOR_ROLE)]
    assert admin_privileges["prvWriteOptionSet"] == "Global"
    assert "prvWriteOptionSet" not in package["privileges"][str(INTEGRATION_USER_ROLE)]
    assert {name for _, name in package["roles"]} == {
        "Integration Administrator",
        "Integration User",
        "Product Availability User",
    }
