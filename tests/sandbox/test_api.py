"""Behaviour of the sandbox CRM over real HTTP (beyond the published examples)."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests

from sandbox.app import SandboxApp
from sandbox.process import BASE_DIR, SandboxProcess, free_port, wait_for_http
from tests.sandbox.test_replay import solution_zip
from tests.support.examples import parse_multipart
from tests.support.sandbox import ADMIN_APP, ADMIN_USER, INTEGRATION, Crm, start_sandbox

pytestmark = pytest.mark.sandbox

USD = "228f42f8-e646-e111-8eb7-78e7d162ced1"


def batch(
    integration_session: Crm, parts: list[str], *, prefer: str | None = None
) -> requests.Response:
    boundary = "batch_test"
    body = "".join(f"--{boundary}\r\n{p}" for p in parts) + f"--{boundary}--\r\n"
    headers = {"Content-Type": f'multipart/mixed; boundary="{boundary}"'}
    if prefer:
        headers["Prefer"] = prefer
    return integration_session.post("$batch", data=body.encode(), headers=headers)


def http_part(method: str, url: str, body: str = "", content_id: str | None = None) -> str:
    cid = f"Content-ID: {content_id}\r\n" if content_id else ""
    return (
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        f"{cid}\r\n{method} {url} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{body}\r\n"
    )


def changeset(parts: list[str]) -> str:
    inner = "".join(f"--changeset_x\r\n{p}" for p in parts) + "--changeset_x--\r\n"
    return f'Content-Type: multipart/mixed; boundary="changeset_x"\r\n\r\n{inner}'


# ----------------------------------------------------------------------------- auth


def test_wrong_secret_is_invalid_client(fresh) -> None:
    response = requests.post(
        fresh.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": INTEGRATION[0],
            "client_secret": "nope",
            "scope": f"{fresh.url}/.default",
        },
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "AADSTS7000215" in response.json()["error_description"]


def test_wrong_password_is_invalid_grant(fresh) -> None:
    response = requests.post(
        fresh.token_url,
        data={
            "grant_type": "password",
            "client_id": INTEGRATION[0],
            "username": ADMIN_USER[0],
            "password": "wrong",
            "scope": f"{fresh.url}/.default",
        },
        timeout=10,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_expired_token_gets_the_bearer_challenge(fresh) -> None:
    fresh.control("config", {"token_lifetime_seconds": 1})
    integration_session = Crm(fresh)
    assert integration_session.get("WhoAmI").status_code == 200
    fresh.advance_clock(1.2)
    response = integration_session.get("WhoAmI")
    assert response.status_code == 401
    assert "expired" in response.headers["WWW-Authenticate"]
    assert Crm(fresh).get("WhoAmI").status_code == 200


def test_unknown_token_is_refused(fresh) -> None:
    response = requests.get(
        f"{fresh.url}/api/data/v9.2/accounts",
        headers={"Authorization": "Bearer made-up"},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")


def test_whoami_names_the_calling_user(fresh) -> None:
    integration, admin_app = Crm(fresh), Crm(fresh, ADMIN_APP)
    assert integration.get("WhoAmI()").json()["UserId"] == "b1a7c0de-0000-4000-8000-000000000001"
    assert admin_app.get("WhoAmI").json()["UserId"] == "b1a7c0de-0000-4000-8000-000000000003"


def test_seeded_organization_reads_like_dataverse(integration_session: Crm) -> None:
    org = integration_session.get("organizations?$select=_basecurrencyid_value,name").json()[
        "value"
    ][0]
    currency = integration_session.row("transactioncurrencies", org["_basecurrencyid_value"])
    assert currency["isocurrencycode"] == "USD" and currency["currencysymbol"] == "$"
    admin_roles = integration_session.get(
        "systemusers(b1a7c0de-0000-4000-8000-000000000003)/systemuserroles_association?$select=name"
    ).json()["value"]
    assert [r["name"] for r in admin_roles] == ["System Administrator"]
    integration_roles = integration_session.get(
        "systemusers(b1a7c0de-0000-4000-8000-000000000001)/systemuserroles_association"
    ).json()["value"]
    assert integration_roles == []
    disabled = integration_session.get(
        "systemusers?$filter=isdisabled eq true&$select=internalemailaddress"
    )
    assert [u["internalemailaddress"] for u in disabled.json()["value"]] == [
        "disabled@sandbox.example"
    ]
    # isdisabled defaults to false, so "enabled users" is a plain filter, as on Dataverse.
    enabled = integration_session.get(
        "systemusers?$filter=isdisabled eq false&$select=internalemailaddress"
    )
    enabled_emails = {u["internalemailaddress"] for u in enabled.json()["value"]}
    assert "integration@sandbox.example" in enabled_emails
    assert "disabled@sandbox.example" not in enabled_emails
    jim = integration_session.get(
        "systemusers?$filter=fullname eq 'Jim Olive'&$select=fullname"
    ).json()["value"]
    assert len(jim) == 1
    overlap = integration_session.get(
        "accounts(accountnumber='C000001')?$select=name,address1_city"
    ).json()
    assert overlap["name"] == "Klein Büromöbel GmbH"
    integration_session.patch("accounts(accountnumber='Zürich-1')", json={"name": "Grüezi AG"})
    assert (
        integration_session.get("accounts(accountnumber='Zürich-1')").json()["name"] == "Grüezi AG"
    )


# ----------------------------------------------------------------------------- CRUD & queries


def test_create_read_update_delete_round_trip(integration_session: Crm) -> None:
    row_id = integration_session.create(
        "accounts", {"name": "Round trip", "accountnumber": "RT-1", "revenue": 12.5}
    )
    first = integration_session.row("accounts", row_id, "name,revenue")
    assert first["_transactioncurrencyid_value"] == USD
    assert (
        integration_session.patch(
            f"accounts({row_id})", json={"name": "Renamed"}, headers={"If-Match": "*"}
        ).status_code
        == 204
    )
    second = integration_session.row("accounts", row_id, "name")
    assert second["name"] == "Renamed" and second["@odata.etag"] != first["@odata.etag"]
    assert integration_session.get(f"accounts({row_id})/name").json()["value"] == "Renamed"
    assert (
        integration_session.put(f"accounts({row_id})/name", json={"value": "Put"}).status_code
        == 204
    )
    assert (
        integration_session.get("accounts(accountnumber='RT-1')?$select=name").json()["name"]
        == "Put"
    )
    assert integration_session.delete(f"accounts({row_id})").status_code == 204
    missing = integration_session.get(f"accounts({row_id})")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"account With Id = {row_id} Does Not Exist"


def test_retried_create_with_the_same_id_never_makes_a_second_record(
    integration_session: Crm,
) -> None:
    row_id = str(uuid.uuid4())
    integration_session.create("accounts", {"accountid": row_id, "name": "Once"})
    again = integration_session.post("accounts", json={"accountid": row_id, "name": "Once"})
    assert again.status_code == 412
    assert again.json()["error"]["code"] == "0x80040237"
    assert len(integration_session.all_rows("accounts", "?$filter=name eq 'Once'")) == 1


def test_validation_errors_name_the_problem(integration_session: Crm) -> None:
    too_long = integration_session.post("accounts", json={"name": "x" * 161})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "0x80044331"
    assert "'name'" in too_long.json()["error"]["message"]
    wrong_type = integration_session.post("accounts", json={"numberofemployees": "many"})
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["code"] == "0x80044331"
    unknown = integration_session.post("accounts", json={"nonsense": 1})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "0x80048d19"
    bad_select = integration_session.get("accounts?$select=nonsense")
    assert bad_select.status_code == 400
    assert "Could not find a property named 'nonsense'" in bad_select.json()["error"]["message"]
    assert integration_session.get("accounts?$skip=10").status_code == 400
    assert integration_session.patch("accounts", json={}).status_code == 405
    assert integration_session.delete("accounts").status_code == 405


def test_filter_orderby_and_lookup_queries(integration_session: Crm) -> None:
    integration_session.clear("accounts", "accountid")
    contact = integration_session.create("contacts", {"firstname": "Ann", "lastname": "Lee"})
    integration_session.create(
        "accounts",
        {"name": "Alpha", "revenue": 10, "primarycontactid@odata.bind": f"/contacts({contact})"},
    )
    integration_session.create("accounts", {"name": "beta", "revenue": 20, "creditonhold": True})
    integration_session.create("accounts", {"name": "Gamma O'Hara", "revenue": None})

    def names(query: str) -> list[str]:
        response = integration_session.get(f"accounts?$select=name&{query}")
        assert response.status_code == 200, response.text
        return [r["name"] for r in response.json()["value"]]

    assert names("$filter=revenue gt 5 and revenue le 20&$orderby=revenue desc") == [
        "beta",
        "Alpha",
    ]
    assert names("$filter=revenue eq null") == ["Gamma O'Hara"]
    assert names("$filter=contains(name,'ALP') or startswith(name,'gam')&$orderby=name") == [
        "Alpha",
        "Gamma O'Hara",
    ]
    assert names("$filter=name eq 'Gamma O''Hara'") == ["Gamma O'Hara"]
    assert names("$filter=not (creditonhold eq true)&$orderby=name desc") == [
        "Gamma O'Hara",
        "Alpha",
    ]
    assert names(f"$filter=_primarycontactid_value eq {contact}") == ["Alpha"]
    assert names("$filter=primarycontactid/fullname eq 'Ann Lee'") == ["Alpha"]
    assert names("$filter=endswith(name,'ra')&$orderby=name") == ["Gamma O'Hara"]
    assert names("$filter=modifiedon ge 2020-01-01T00:00:00Z&$orderby=name&$top=1") == ["Alpha"]
    expanded = integration_session.get(
        "accounts?$select=name&$filter=name eq 'Alpha'&$expand=primarycontactid($select=fullname)"
    )
    assert expanded.json()["value"][0]["primarycontactid"]["fullname"] == "Ann Lee"


def test_filter_on_primary_keys_is_looked_up_with_the_same_result(integration_session: Crm) -> None:
    integration_session.clear("accounts", "accountid")
    ids = [integration_session.create("accounts", {"name": f"Key {n}"}) for n in range(3)]
    missing = "00000000-0000-4000-8000-00000000beef"

    def names(expression: str) -> list[str]:
        response = integration_session.get(f"accounts?$select=name&$filter={expression}")
        assert response.status_code == 200, response.text
        return sorted(r["name"] for r in response.json()["value"])

    both = f"accountid eq {ids[0]} or (accountid eq {ids[2].upper()}) or accountid eq {missing}"
    assert names(both) == ["Key 0", "Key 2"]
    assert names(f"accountid eq {ids[1]} or accountid eq {ids[1]}") == ["Key 1"]
    # A key lookup combined with anything else is still a filter over the rows.
    assert names(f"accountid eq {ids[0]} or name eq 'Key 1'") == ["Key 0", "Key 1"]
    assert names(f"accountid eq {ids[0]} and name eq 'Key 1'") == []


def test_paging_walks_every_row_once_in_order(integration_session: Crm) -> None:
    targets = [
        {
            "@odata.type": "Microsoft.Dynamics.CRM.account",
            "name": f"Page {n % 17:02d}",
            "numberofemployees": n,
        }
        for n in range(150)
    ]
    assert (
        integration_session.post(
            "accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets}
        ).status_code
        == 200
    )
    query = "?$select=name,numberofemployees&$filter=startswith(name,'Page')&$orderby=name desc"
    rows = integration_session.all_rows("accounts", query, page_size=7)
    assert len(rows) == 150
    assert len({r["accountid"] for r in rows}) == 150
    assert [r["name"] for r in rows] == sorted((r["name"] for r in rows), reverse=True)
    ascending = integration_session.all_rows(
        "accounts",
        "?$select=name,numberofemployees&$filter=startswith(name,'Page')"
        "&$orderby=name,numberofemployees asc",
        page_size=11,
    )
    keys = [(r["name"], r["numberofemployees"]) for r in ascending]
    assert keys == sorted(keys) and len(set(keys)) == 150
    first = integration_session.get("accounts" + query, headers={"Prefer": "odata.maxpagesize=7"})
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=7"
    link = first.json()["@odata.nextLink"]
    assert "$filter=startswith(name,'Page')" in link and "$skiptoken=" in link
    # $top is ignored when a page size is asked for
    top = integration_session.get(
        "accounts" + query + "&$top=3", headers={"Prefer": "odata.maxpagesize=5"}
    )
    assert len(top.json()["value"]) == 5 and "@odata.nextLink" in top.json()


def test_count_is_capped_at_5000(integration_session: Crm) -> None:
    targets = [
        {"@odata.type": "Microsoft.Dynamics.CRM.sample_example", "sample_name": f"n{n}"}
        for n in range(5003)
    ]
    assert (
        integration_session.post(
            "sample_examples/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets}
        ).status_code
        == 200
    )
    response = integration_session.get(
        "sample_examples?$select=sample_name&$count=true",
        headers={
            "Prefer": 'odata.maxpagesize=10,odata.include-annotations="Microsoft.Dynamics.CRM.*"'
        },
    )
    body = response.json()
    assert body["@odata.count"] == 5000
    assert body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is True
    assert len(body["value"]) == 10
    assert integration_session.get("sample_examples/$count").text == "5000"
    assert len(integration_session.all_rows("sample_examples", "?$select=sample_exampleid")) == 5003


def test_formatted_values_and_lookup_annotations(integration_session: Crm) -> None:
    integration_session.create(
        "accounts",
        {
            "name": "Euro GmbH",
            "revenue": 1234.5,
            "accountnumber": "EU-1",
            "transactioncurrencyid@odata.bind": "/transactioncurrencies(238f42f8-e646-e111-8eb7-78e7d162ced1)",  # noqa: E501
        },
    )
    row = integration_session.get(
        "accounts(accountnumber='EU-1')?$select=revenue,statecode,_ownerid_value",
        headers={"Prefer": 'odata.include-annotations="*"'},
    ).json()
    assert row["revenue@OData.Community.Display.V1.FormattedValue"] == "€1,234.50"
    assert row["statecode@OData.Community.Display.V1.FormattedValue"] == "Active"
    assert row["_ownerid_value@OData.Community.Display.V1.FormattedValue"] == "# ERP Integration"
    assert row["_transactioncurrencyid_value@OData.Community.Display.V1.FormattedValue"] == "Euro"


# ----------------------------------------------------------------------------- conditional writes


def test_upsert_matrix(integration_session: Crm) -> None:
    row_id = str(uuid.uuid4())
    absent = integration_session.patch(
        f"accounts({row_id})", json={"name": "x"}, headers={"If-Match": "*"}
    )
    assert absent.status_code == 404
    created = integration_session.patch(f"accounts({row_id})", json={"name": "Upserted"})
    assert created.status_code == 204 and created.headers["OData-EntityId"].endswith(
        f"accounts({row_id})"
    )
    blocked = integration_session.patch(
        f"accounts({row_id})", json={"name": "x"}, headers={"If-None-Match": "*"}
    )
    assert blocked.status_code == 412
    updated = integration_session.patch(
        f"accounts({row_id})", json={"name": "Again"}, headers={"Prefer": "return=representation"}
    )
    assert updated.status_code == 200 and updated.headers["ETag"] == updated.json()["@odata.etag"]
    by_key = integration_session.patch(
        "accounts(accountnumber='UP-9')",
        json={"name": "By key"},
        headers={"Prefer": "return=representation"},
    )
    assert by_key.status_code == 201 and by_key.json()["accountnumber"] == "UP-9"
    stale = integration_session.patch(
        f"accounts({row_id})", json={"name": "late"}, headers={"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "0x80060882"
    etag = integration_session.row("accounts", row_id)["@odata.etag"]
    assert (
        integration_session.get(f"accounts({row_id})", headers={"If-None-Match": etag}).status_code
        == 304
    )
    assert (
        integration_session.delete(f"accounts({row_id})", headers={"If-Match": etag}).status_code
        == 204
    )


# ----------------------------------------------------------------------------- change tracking


def test_change_tracking_reports_changes_and_deletions_page_by_page(
    integration_session: Crm,
) -> None:
    headers = {"Prefer": "odata.track-changes,odata.maxpagesize=10"}
    url = "contacts?$select=fullname"
    initial: list[dict] = []
    delta_link = None
    while url:
        page = integration_session.get(url, headers=headers).json()
        initial += page["value"]
        assert not ("@odata.nextLink" in page and "@odata.deltaLink" in page)
        url = page.get("@odata.nextLink")
        delta_link = page.get("@odata.deltaLink", delta_link)
    assert len(initial) == int(integration_session.get("contacts/$count").text)
    assert delta_link
    first_id = initial[0]["contactid"]
    assert integration_session.delete(f"contacts({first_id})").status_code == 204
    new_ids = [integration_session.create("contacts", {"firstname": f"New {n}"}) for n in range(12)]
    changes: list[dict] = []
    url = delta_link
    while url:
        page = integration_session.get(url, headers={"Prefer": "odata.maxpagesize=5"}).json()
        changes += page["value"]
        url = page.get("@odata.nextLink")
        delta_link = page.get("@odata.deltaLink", delta_link)
    assert [c["contactid"] for c in changes if "contactid" in c] == new_ids
    assert [c["id"] for c in changes if c.get("reason") == "deleted"] == [first_id]
    assert integration_session.get(delta_link).json()["value"] == []


def test_change_tracking_refuses_query_options_and_expired_tokens(
    integration_session: Crm, fresh
) -> None:
    refused = integration_session.get(
        "accounts?$select=name&$filter=name eq 'x'", headers={"Prefer": "odata.track-changes"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == (
        'The "$filter" query parameter isn\'t supported when Change Tracking is enabled.'
    )
    link = integration_session.get(
        "accounts?$select=name", headers={"Prefer": "odata.track-changes"}
    ).json()["@odata.deltaLink"]
    fresh.control("config", {"change_tracking_expiry_seconds": 0})
    fresh.advance_clock(1.1)
    expired = integration_session.get(link)
    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == "0x80044352"


# ----------------------------------------------------------------------------- $batch


def test_failed_change_set_writes_nothing(integration_session: Crm) -> None:
    response = batch(
        integration_session,
        [
            changeset(
                [
                    http_part("POST", "/api/data/v9.2/accounts", '{"name": "Kept?"}', "1"),
                    http_part(
                        "POST",
                        "/api/data/v9.2/contacts",
                        '{"firstname": "Ann", "parentcustomerid_account@odata.bind": "$1"}',
                        "2",
                    ),
                    http_part(
                        "POST", "/api/data/v9.2/accounts", '{"name": "' + "x" * 300 + '"}', "3"
                    ),
                ]
            )
        ],
    )
    assert response.status_code == 400
    parts = parse_multipart(response.content, response.headers["Content-Type"])
    assert len(parts) == 1 and parts[0]["status"] == 400
    assert parts[0]["headers"]["content-id"] == "3"
    assert integration_session.get("accounts?$filter=name eq 'Kept?'").json()["value"] == []
    assert integration_session.get("contacts?$filter=firstname eq 'Ann'").json()["value"] == []


def test_batch_continue_on_error_runs_every_part(integration_session: Crm) -> None:
    response = batch(
        integration_session,
        [
            http_part("POST", "accounts", '{"name": "First"}'),
            http_part("GET", "accounts(00000000-0000-0000-0000-00000000dead)"),
            changeset(
                [
                    http_part("POST", "accounts", '{"name": "Third"}', "1"),
                    http_part("PATCH", "$1", '{"accountnumber": "B-3"}', "2"),
                ]
            ),
        ],
        prefer="odata.continue-on-error",
    )
    assert response.status_code == 200
    parts = parse_multipart(response.content, response.headers["Content-Type"])
    assert [p.get("status") for p in parts[:2]] == [204, 404]
    assert [p["status"] for p in parts[2]["parts"]] == [204, 204]
    assert (
        integration_session.get("accounts(accountnumber='B-3')?$select=name").json()["name"]
        == "Third"
    )
    stopped = batch(
        integration_session,
        [http_part("GET", "nothere"), http_part("POST", "accounts", '{"name": "Never"}')],
    )
    assert stopped.status_code == 404
    assert integration_session.get("accounts?$filter=name eq 'Never'").json()["value"] == []


def test_batch_refuses_more_than_1000_operations_and_gets_in_change_sets(
    integration_session: Crm,
) -> None:
    too_many = batch(integration_session, [http_part("GET", "WhoAmI")] * 1001)
    assert too_many.status_code == 400
    get_in_changeset = batch(
        integration_session, [changeset([http_part("GET", "accounts", "", "1")])]
    )
    assert get_in_changeset.status_code == 400
    undeclared = batch(
        integration_session,
        [
            changeset(
                [
                    http_part(
                        "POST", "contacts", '{"parentcustomerid_account@odata.bind": "$7"}', "1"
                    )
                ]
            )
        ],
    )
    parts = parse_multipart(undeclared.content, undeclared.headers["Content-Type"])
    assert "Content-ID Reference: '$7' does not exist in the batch context." in parts[0]["body"]


# ----------------------------------------------------------------------------- bulk messages


def test_create_multiple_is_all_or_nothing(integration_session: Crm) -> None:
    targets = [
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "Bulk ok"},
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "y" * 200},
    ]
    failed = integration_session.post(
        "accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets}
    )
    assert failed.status_code == 400 and "(target 1)" in failed.json()["error"]["message"]
    assert integration_session.get("accounts?$filter=name eq 'Bulk ok'").json()["value"] == []
    chosen = str(uuid.uuid4())
    ok = integration_session.post(
        "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
        json={
            "Targets": [
                {
                    "@odata.type": "Microsoft.Dynamics.CRM.account",
                    "name": "Bulk ok",
                    "accountid": chosen,
                }
            ]
        },
    )
    assert ok.status_code == 200 and ok.json()["Ids"] == [chosen]
    missing_type = integration_session.post(
        "accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": [{"name": "n"}]}
    )
    assert missing_type.status_code == 400


def test_update_and_upsert_multiple(integration_session: Crm) -> None:
    a = integration_session.create("accounts", {"name": "A", "accountnumber": "UM-1"})
    update = integration_session.post(
        "accounts/Microsoft.Dynamics.CRM.UpdateMultiple",
        json={
            "Targets": [
                {"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": a, "name": "A2"}
            ]
        },
    )
    assert update.status_code == 204
    upsert = integration_session.post(
        "accounts/Microsoft.Dynamics.CRM.UpsertMultiple",
        json={
            "Targets": [
                {
                    "@odata.type": "Microsoft.Dynamics.CRM.account",
                    "@odata.id": "accounts(accountnumber='UM-1')",
                    "name": "A3",
                },
                {
                    "@odata.type": "Microsoft.Dynamics.CRM.account",
                    "@odata.id": "accounts(accountnumber='UM-2')",
                    "name": "B",
                },
            ]
        },
    )
    assert upsert.status_code == 204
    assert integration_session.row("accounts", a, "name")["name"] == "A3"
    assert (
        integration_session.get("accounts(accountnumber='UM-2')?$select=name").json()["name"] == "B"
    )
    missing = integration_session.post(
        "accounts/Microsoft.Dynamics.CRM.UpdateMultiple",
        json={
            "Targets": [
                {
                    "@odata.type": "Microsoft.Dynamics.CRM.account",
                    "accountid": str(uuid.uuid4()),
                    "name": "x",
                },
                {
                    "@odata.type": "Microsoft.Dynamics.CRM.account",
                    "accountid": a,
                    "name": "not written",
                },
            ]
        },
    )
    assert missing.status_code == 404
    assert integration_session.row("accounts", a, "name")["name"] == "A3"


def test_bulk_messages_are_refused_where_dataverse_lacks_them(integration_session: Crm) -> None:
    response = integration_session.post(
        "salesorderdetails/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": []}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80040315"
    assert "not supported" in response.json()["error"]["message"]


# ----------------------------------------------------------------------------- limits & faults


def test_service_protection_limit_answers_429_with_retry_after(
    integration_session: Crm, fresh
) -> None:
    fresh.control("config", {"rate_limit_requests": 3, "rate_limit_window_seconds": 2})
    statuses = [integration_session.get("WhoAmI") for _ in range(4)]
    assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
    throttled = statuses[3]
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "0x80072322"
    retry = int(throttled.headers["Retry-After"])
    assert 1 <= retry <= 2
    assert int(statuses[2].headers["x-ms-ratelimit-burst-remaining-xrm-requests"]) == 0
    fresh.advance_clock(retry + 0.1)
    assert integration_session.get("WhoAmI").status_code == 200
    stats = requests.get(f"{fresh.url}/_sandbox/stats", timeout=5).json()
    assert stats["throttled"] >= 1


def test_commit_then_fail_saves_the_write_but_answers_500(integration_session: Crm, fresh) -> None:
    fresh.control(
        "config",
        {
            "rules": [
                {"method": "POST", "path": "/accounts$", "count": 1, "fault": "commit_then_fail"}
            ]
        },
    )
    row_id = str(uuid.uuid4())
    response = integration_session.post(
        "accounts", json={"accountid": row_id, "name": "Saved anyway"}
    )
    assert response.status_code == 500
    assert integration_session.row("accounts", row_id, "name")["name"] == "Saved anyway"
    retry = integration_session.post("accounts", json={"accountid": row_id, "name": "Saved anyway"})
    assert retry.status_code == 412


def test_fault_rules_hit_only_matching_requests_for_their_count(
    integration_session: Crm, fresh
) -> None:
    fresh.control(
        "config",
        {
            "rules": [
                {"method": "GET", "path": "contacts", "count": 2, "fault": "error", "status": 503}
            ]
        },
    )
    assert integration_session.get("accounts?$top=1").status_code == 200
    assert [integration_session.get("contacts?$top=1").status_code for _ in range(3)] == [
        503,
        503,
        200,
    ]
    fresh.control(
        "config", {"rules": [{"path": ".", "count": 1, "fault": "throttle", "retry_after": 7}]}
    )
    throttled = integration_session.get("accounts?$top=1")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"


def test_control_endpoints_reject_bad_settings(fresh) -> None:
    response = requests.post(f"{fresh.url}/_sandbox/config", json={"nope": 1}, timeout=5)
    assert response.status_code == 400


def test_clock_moves_forward_and_reset_sets_it_back(integration_session: Crm, fresh) -> None:
    assert requests.get(f"{fresh.url}/_sandbox/clock", timeout=5).json()["offset_seconds"] == 0
    assert fresh.advance_clock(600)["offset_seconds"] == 600
    moved = fresh.advance_clock(0.5)
    assert moved["offset_seconds"] == 600.5
    account = integration_session.create("accounts", {"name": "From the future"})
    createdon = integration_session.row("accounts", account, "createdon")["createdon"]
    ahead = datetime.fromisoformat(createdon.replace("Z", "+00:00")) - datetime.now(UTC)
    assert 590 <= ahead.total_seconds() <= 610
    fresh.advance_clock(3600)  # past the token lifetime (3599 s)
    assert integration_session.get("WhoAmI").status_code == 401
    for bad in ({"advance_seconds": -1}, {"advance_seconds": "soon"}, [1]):
        refused = requests.post(f"{fresh.url}/_sandbox/clock", json=bad, timeout=5)
        assert refused.status_code == 400
    assert fresh.advance_clock(0)["offset_seconds"] == 4200.5
    fresh.reset()
    assert requests.get(f"{fresh.url}/_sandbox/clock", timeout=5).json()["offset_seconds"] == 0


def test_clock_endpoint_answers_loopback_callers_only(tmp_path) -> None:
    app = SandboxApp(str(tmp_path / "crm.sqlite3"))
    statuses: list[str] = []
    body = b"".join(
        app(
            {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/_sandbox/clock",
                "REMOTE_ADDR": "10.1.2.3",
                "CONTENT_LENGTH": "25",
                "wsgi.input": io.BytesIO(b'{"advance_seconds": 3600}'),
            },
            lambda status, headers: statuses.append(status),
        )
    )
    assert statuses == ["403 Forbidden"] and b"loopback" in body


# ----------------------------------------------------------------------------- business rules


def test_sales_business_rules(integration_session: Crm) -> None:
    dup = integration_session.post(
        "transactioncurrencies",
        json={
            "isocurrencycode": "usd",
            "currencyname": "Again",
            "currencysymbol": "$",
            "exchangerate": 1,
            "currencyprecision": 2,
        },
    )
    assert dup.status_code == 400 and dup.json()["error"]["code"] == "0x80048cf3"
    missing = integration_session.post("transactioncurrencies", json={"isocurrencycode": "CHF"})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "0x80040200"
    iso = integration_session.patch(
        f"transactioncurrencies({USD})", json={"isocurrencycode": "USX"}
    )
    assert iso.status_code == 400
    unit_group = "c0ffee00-0000-4000-8000-000000000001"
    unit = "c0ffee00-0000-4000-8000-000000000002"
    product = integration_session.create(
        "products",
        {
            "productnumber": "1000",
            "name": "Bicycle",
            "defaultuomscheduleid@odata.bind": f"/uomschedules({unit_group})",
            "defaultuomid@odata.bind": f"/uoms({unit})",
        },
    )
    state = integration_session.row("products", product, "statecode,statuscode")
    assert (state["statecode"], state["statuscode"]) == (2, 0)
    dup_product = integration_session.post(
        "products", json={"productnumber": "1000", "name": "Other"}
    )
    assert dup_product.json()["error"]["code"] == "0x80043b06"
    publish = integration_session.patch(
        f"products({product})", json={"statecode": 0, "statuscode": 1}
    )
    assert publish.status_code == 204
    bad_pair = integration_session.patch(
        f"products({product})", json={"statecode": 1, "statuscode": 1}
    )
    assert bad_pair.status_code == 400
    price_list = "c0ffee00-0000-4000-8000-000000000003"
    item = {
        "pricelevelid@odata.bind": f"/pricelevels({price_list})",
        "productid@odata.bind": f"/products({product})",
        "uomid@odata.bind": f"/uoms({unit})",
        "amount": 10,
    }
    integration_session.create("productpricelevels", item)
    second = integration_session.post("productpricelevels", json=item)
    assert second.status_code == 400 and second.json()["error"]["code"] == "0x80043b08"
    state_on_create = integration_session.post("accounts", json={"name": "x", "statecode": 1})
    assert state_on_create.status_code == 400
    other_currency = integration_session.patch(
        f"pricelevels({price_list})",
        json={
            "transactioncurrencyid@odata.bind": "/transactioncurrencies(238f42f8-e646-e111-8eb7-78e7d162ced1)"  # noqa: E501
        },
    )
    assert other_currency.status_code == 400
    disabled_on_create = integration_session.post(
        "systemusers", json={"firstname": "x", "isdisabled": True}
    )
    assert disabled_on_create.status_code == 400
    uom_group = integration_session.post(f"uoms({unit})", json={})
    assert uom_group.status_code == 405 or uom_group.status_code == 404


# ----------------------------------------------------------------------------- solution import


def test_import_solution_creates_roles_and_table(
    integration_session: Crm, admin_session: Crm
) -> None:
    assert integration_session.get("erpcrm_connections").status_code == 404
    assert integration_session.get("erpcrm_connections").json()["error"]["code"] == "0x80060888"
    body = {
        "OverwriteUnmanagedCustomizations": True,
        "PublishWorkflows": True,
        "CustomizationFile": base64.b64encode(solution_zip()).decode(),
        "ImportJobId": "11111111-2222-3333-4444-555555555555",
    }
    forbidden = integration_session.post("ImportSolution", json=body)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "0x80040220"
    assert admin_session.post("ImportSolution", json=body).status_code == 204
    duplicate = admin_session.post("ImportSolution", json=body)
    assert duplicate.status_code == 400 and duplicate.json()["error"]["code"] == "0x80071152"
    job = admin_session.row(
        "importjobs",
        "11111111-2222-3333-4444-555555555555",
        "progress,completedon,solutionname,data",
    )
    assert job["progress"] == 100 and job["completedon"] and 'result="success"' in job["data"]
    solutions = admin_session.get("solutions?$select=uniquename,version").json()["value"]
    assert [(s["uniquename"], s["version"]) for s in solutions] == [
        ("ErpCrmIntegration", "1.0.0.0")
    ]
    role = admin_session.get("roles(6f960e32-a72b-e511-80d9-3863bb349780)?$select=name").json()
    assert role["name"] == "Integration User"
    connection = integration_session.create(
        "erpcrm_connections", {"erpcrm_name": "ERP", "erpcrm_erpwebclienturl": "http://erp"}
    )
    assert (
        integration_session.row("erpcrm_connections", connection, "erpcrm_name")["erpcrm_name"]
        == "ERP"
    )
    bulk = integration_session.post(
        "erpcrm_connections/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": []}
    )
    assert bulk.status_code == 400 and bulk.json()["error"]["code"] == "0x80040315"
    # role assignment is for administrators only
    ref = {"@odata.id": f"{integration_session.api}roles(6f960e32-a72b-e511-80d9-3863bb349780)"}
    integration_user = "b1a7c0de-0000-4000-8000-000000000001"
    assert (
        integration_session.post(
            f"systemusers({integration_user})/systemuserroles_association/$ref", json=ref
        ).status_code
        == 403
    )
    assert (
        admin_session.post(
            f"systemusers({integration_user})/systemuserroles_association/$ref", json=ref
        ).status_code
        == 204
    )
    roles = integration_session.get(
        f"systemusers({integration_user})/systemuserroles_association?$select=name"
    ).json()["value"]
    assert [r["name"] for r in roles] == ["Integration User"]
    # re-import of a newer version updates the solution row
    body2 = {
        **body,
        "ImportJobId": str(uuid.uuid4()),
        "CustomizationFile": base64.b64encode(solution_zip("1.1.0.0")).decode(),
    }
    assert admin_session.post("ImportSolution", json=body2).status_code == 204
    assert admin_session.get("solutions?$select=version").json()["value"][0]["version"] == "1.1.0.0"


def test_browse_page_lists_tables_and_rows(fresh) -> None:
    index = requests.get(fresh.url + "/", timeout=5)
    assert index.status_code == 200 and "accounts" in index.text
    page = requests.get(fresh.url + "/browse/accounts/?page=1", timeout=5)
    assert page.status_code == 200 and "Klein Büromöbel GmbH" in page.text


def test_start_options_and_restart_keep_settings_and_imported_tables(tmp_path) -> None:

    sb = start_sandbox(tmp_path, "--rate-limit", "3/60", "--token-lifetime", "120")
    try:
        token = requests.post(
            sb.token_url,
            data={"grant_type": "client_credentials", "client_id": ADMIN_APP[0],
                  "client_secret": ADMIN_APP[1], "scope": f"{sb.url}/.default"},
            timeout=10,
        )  # fmt: skip
        assert token.json()["expires_in"] == 120
        admin_session = Crm(sb, ADMIN_APP)
        body = {"CustomizationFile": base64.b64encode(solution_zip()).decode(),
                "OverwriteUnmanagedCustomizations": True}  # fmt: skip
        assert admin_session.post("ImportSolution", json=body).status_code == 204
        assert admin_session.get("erpcrm_connections").status_code == 200
        assert admin_session.get("WhoAmI").status_code == 200  # the third request of three allowed
        assert admin_session.get("WhoAmI").status_code == 429
    finally:
        sb.proc.terminate()
        sb.proc.wait(timeout=10)
    # a restart on the same database file keeps the data and the imported table
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runsandbox", "--port", str(port), "--db", str(sb.db_path)],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "erpcrm.settings.test"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/_sandbox/health", proc=proc)
        again = Crm(SandboxProcess(url, sb.db_path, proc), ADMIN_APP)
        assert again.get("erpcrm_connections").status_code == 200
        assert again.get("solutions?$select=uniquename").json()["value"][0]["uniquename"] == (
            "ErpCrmIntegration"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_dataverse_query_functions_in_filters(integration_session: Crm) -> None:
    integration_session.create("accounts", {"name": "In one", "accountnumber": "IN-1"})
    integration_session.create("accounts", {"name": "In two", "accountnumber": "IN-2"})
    response = integration_session.get(
        "accounts?$select=name&$orderby=name&$filter=Microsoft.Dynamics.CRM.In("
        "PropertyName='accountnumber',PropertyValues=['in-1','IN-2','nope'])"
    )
    assert [r["name"] for r in response.json()["value"]] == ["In one", "In two"]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    recent = integration_session.get(
        "accounts?$select=name&$filter=Microsoft.Dynamics.CRM.OnOrAfter("
        f"PropertyName='createdon',PropertyValue='{today}') and startswith(name,'In ')"
    )
    assert len(recent.json()["value"]) == 2
    unknown = integration_session.get(
        "accounts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='nope',PropertyValues=['x'])"
    )
    assert unknown.status_code == 400


def test_concurrency_limit_refuses_the_request_over_the_limit(
    integration_session: Crm, fresh
) -> None:
    fresh.control("config", {"concurrency_limit": 1, "latency_ms": 400})
    results: list[requests.Response] = []

    def call() -> None:
        results.append(integration_session.get("WhoAmI"))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.1)
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 429]
    throttled = next(r for r in results if r.status_code == 429)
    assert throttled.json()["error"]["code"] == "0x80072326"
    assert throttled.headers["Retry-After"] == "1"
    assert integration_session.get("WhoAmI").status_code == 200  # the slot is free again


def test_execution_time_limit_throttles_after_slow_requests(
    integration_session: Crm, fresh
) -> None:
    fresh.control(
        "config",
        {"execution_time_limit_seconds": 0.3, "rate_limit_window_seconds": 5, "latency_ms": 200},
    )
    assert integration_session.get("WhoAmI").status_code == 200
    assert integration_session.get("WhoAmI").status_code == 200
    throttled = integration_session.get("WhoAmI")
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "0x80072321"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 5


def test_token_scope_must_name_this_environment(fresh) -> None:
    def scope_status(scope: str) -> int:
        return requests.post(
            fresh.token_url,
            data={"grant_type": "client_credentials", "client_id": INTEGRATION[0],
                  "client_secret": INTEGRATION[1], "scope": scope},
            timeout=10,
        ).status_code  # fmt: skip

    port = fresh.url.rsplit(":", 1)[1]
    assert scope_status(f"{fresh.url}/.default") == 200
    assert scope_status(f"{fresh.url}//.default") == 200
    assert scope_status(f"http://localhost:{port}/.default") == 200
    assert scope_status("https://graph.microsoft.com/.default") == 400
    assert scope_status(f"{fresh.url}/user_impersonation") == 400
    assert scope_status(f"http://127.0.0.1:{int(port) + 1}/.default") == 400


def test_a_disabled_user_cannot_call_the_api(integration_session: Crm, admin_session: Crm) -> None:
    integration_user = "b1a7c0de-0000-4000-8000-000000000001"
    disabled = admin_session.patch(f"systemusers({integration_user})", json={"isdisabled": True})
    assert disabled.status_code == 204
    refused = integration_session.get("WhoAmI")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "0x80040225"
    assert "is disabled" in refused.json()["error"]["message"]
    assert (
        admin_session.patch(
            f"systemusers({integration_user})", json={"isdisabled": False}
        ).status_code
        == 204
    )
    assert integration_session.get("WhoAmI").status_code == 200


def test_a_new_product_is_a_draft_until_published(integration_session) -> None:
    crm = integration_session
    product_id = crm.create(
        "products",
        {
            "productnumber": "PUB-1",
            "name": "Publishable",
            "defaultuomscheduleid@odata.bind": "/uomschedules("
            + crm.all_rows("uomschedules")[0]["uomscheduleid"]
            + ")",
        },
    )
    assert crm.row("products", product_id)["statecode"] == 2  # Draft
    response = crm.post(
        f"products({product_id})/Microsoft.Dynamics.CRM.PublishProductHierarchy", json={}
    )
    assert response.status_code == 204, response.text
    row = crm.row("products", product_id)
    assert (row["statecode"], row["statuscode"]) == (0, 1)
    # Not an action of other tables.
    account_id = crm.create("accounts", {"name": "Not a product"})
    response = crm.post(
        f"accounts({account_id})/Microsoft.Dynamics.CRM.PublishProductHierarchy", json={}
    )
    assert response.status_code == 404
