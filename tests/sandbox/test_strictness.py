"""Where Dataverse is strict, the sandbox is too, so that client bugs show up in tests:
JSON bodies need `Content-Type: application/json` and a solution zip needs its three root files."""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile

import requests

from setup_wizard.solution_package import solution_files, solution_zip
from tests.support.sandbox import Crm

MISSING_FILES = (
    "The compressed file must contain the following files at its root: solution.xml, "
    "customizations.xml, and [Content_Types].xml"
)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _import(admin_session: Crm, package: bytes, job_id: str | None = None) -> requests.Response:
    body = {
        "OverwriteUnmanagedCustomizations": True,
        "CustomizationFile": base64.b64encode(package).decode(),
        "ImportJobId": job_id or str(uuid.uuid4()),
    }
    return admin_session.post("ImportSolution", json=body)


# ----------------------------------------------------------------------------- Content-Type


def test_json_body_without_content_type_is_refused_with_415(integration_session: Crm) -> None:
    body = json.dumps({"name": "No media type"})
    for headers in ({}, {"Content-Type": "text/plain"}):
        response = integration_session.post("accounts", data=body, headers=headers)
        assert response.status_code == 415
        assert response.headers["Content-Type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "0x80048d19" and "media type" in error["message"]
    assert integration_session.get("accounts?$filter=name eq 'No media type'").json()["value"] == []
    # the header with parameters, as the dataverse client sends it, is fine
    ok = integration_session.post(
        "accounts", data=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert ok.status_code == 204


def test_patch_and_ref_bodies_need_the_header_too(integration_session: Crm) -> None:
    account = integration_session.create("accounts", {"name": "Typed"})
    patch = integration_session.patch(f"accounts({account})", data=json.dumps({"name": "Untyped"}))
    assert patch.status_code == 415
    assert integration_session.row("accounts", account, "name")["name"] == "Typed"
    contact = integration_session.create("contacts", {"lastname": "Ref"})
    ref = integration_session.put(
        f"contacts({contact})/parentcustomerid_account/$ref",
        data=json.dumps({"@odata.id": f"accounts({account})"}),
    )
    assert ref.status_code == 415
    # a stale If-Match is still answered 412 first, as in Microsoft's published exchange
    stale = integration_session.patch(
        f"accounts({account})", data=json.dumps({"name": "x"}), headers={"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412


def test_batch_part_without_content_type_fails_alone(integration_session: Crm) -> None:
    boundary = "batch_strict"
    part = (
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary"
        f'\r\n\r\nPOST accounts HTTP/1.1\r\n\r\n{{"name": "In a batch"}}\r\n--{boundary}--\r\n'
    )
    response = integration_session.post(
        "$batch",
        data=part.encode(),
        headers={"Content-Type": f'multipart/mixed; boundary="{boundary}"'},
    )
    assert response.status_code == 415
    assert "HTTP/1.1 415 Unsupported Media Type" in response.text
    assert integration_session.get("accounts?$filter=name eq 'In a batch'").json()["value"] == []


# ----------------------------------------------------------------------------- solution zip


def test_solution_without_content_types_is_refused_with_dataverses_message(
    admin_session: Crm,
) -> None:
    files = solution_files()
    without = {k: v for k, v in files.items() if k != "[Content_Types].xml"}
    nested = {("package/" + k if k == "[Content_Types].xml" else k): v for k, v in files.items()}
    for package in (_zip(without), _zip(nested)):
        response = _import(admin_session, package)
        assert response.status_code == 400
        assert response.json()["error"] == {"code": "0x80048060", "message": MISSING_FILES}
    # nothing of the refused package exists
    assert admin_session.get("erpcrm_connections").status_code == 404
    assert admin_session.get("importjobs").json()["value"] == []
    assert admin_session.get("roles(6f960e32-a72b-e511-80d9-3863bb349780)").status_code == 404


def test_sandbox_imports_our_package_and_creates_the_table_and_roles(admin_session: Crm) -> None:
    job = str(uuid.uuid4())
    assert _import(admin_session, solution_zip(), job).status_code == 204
    result = admin_session.row("importjobs", job, "solutionname,progress,data")
    assert result["solutionname"] == "ErpCrmIntegration" and result["progress"] == 100
    assert 'result="success"' in result["data"]
    roles = {
        "8c8d4f51-a72b-e511-80d9-3863bb349780": "Integration Administrator",
        "6f960e32-a72b-e511-80d9-3863bb349780": "Integration User",
        "a6e1ba54-a72b-e511-80d9-3863bb349780": "Product Availability User",
    }
    for role_id, name in roles.items():
        assert admin_session.row("roles", role_id, "name")["name"] == name
    # every column the integration writes exists, with the declared lengths
    values = {
        "erpcrm_name": "ERP",
        "erpcrm_erpwebclienturl": "https://erp.example.com/",
        "erpcrm_availabilityserviceurl": "https://erp.example.com/odata/",
        "erpcrm_availabilityusername": "CRM-AVAILABILITY",
        "erpcrm_availabilitykey": "k" * 250,
    }
    connection = admin_session.create("erpcrm_connections", values)
    row = admin_session.row("erpcrm_connections", connection, ",".join(values))
    assert {k: row[k] for k in values} == values
    too_long = admin_session.post("erpcrm_connections", json={"erpcrm_name": "x" * 101})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "0x80044331"
    # change tracking is on, as the package declares
    tracked = admin_session.get("erpcrm_connections", headers={"Prefer": "odata.track-changes"})
    assert "@odata.deltaLink" in tracked.json()
