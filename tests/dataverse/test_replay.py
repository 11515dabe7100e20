"""The client understands every response Microsoft publishes (dataverse-examples/*.http).

Each test serves the recorded response as-is from a real local HTTP server and calls the
client method that would have sent the recorded request.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import unquote

import pytest

from dataverse import errors
from dataverse.batch import BatchRequest, ChangeSet
from dataverse.client import bind, formatted_value, lookup_target

from .replay import (
    EXAMPLES_DIR,
    Route,
    parse_request,
    parse_response,
    repair_truncated_json,
    same_escapes,
    section,
    sections,
)


def _recorded(prefix: str, heading: str):
    return parse_response(section(prefix, heading))


def test_whoami_reads_the_three_ids(replay, replay_client):
    replay.add("GET", "/api/data/v9.0/WhoAmI", _recorded("01", "Response"))
    who = replay_client("v9.0").whoami()
    assert who.user_id == uuid.UUID("d96e9f55-f06d-e511-80d0-00155db07cb1")
    assert who.business_unit_id == uuid.UUID("ded5a64f-f06d-e511-80d0-00155db07cb1")
    assert who.organization_id == uuid.UUID("4faf1f34-f06d-e511-80d0-00155db07cb1")
    sent = replay.api_requests()[0]
    assert sent.headers["authorization"].startswith("Bearer eyJ0eXAi")
    assert sent.headers["odata-version"] == "4.0" and sent.headers["odata-maxversion"] == "4.0"
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["if-none-match"] == "null"


def test_whoami_second_published_output(replay, replay_client):
    body = section("01", "Second published output").strip()
    replay.add(
        "GET", "/api/data/v9.2/WhoAmI", Route(200, [("Content-Type", "application/json")], body)
    )
    assert replay_client().whoami().user_id == uuid.UUID("22cc22cc-dd33-ee44-ff55-66aa66aa66aa")


def test_user_not_in_organization_error_keeps_code_and_message(replay, replay_client):
    body = section("01", "not a user of the environment").strip()
    replay.add("GET", "/api/data/v9.2/WhoAmI", Route(403, [], body))
    with pytest.raises(errors.Forbidden) as caught:
        replay_client().whoami()
    assert caught.value.code == "0x80072560"
    assert caught.value.message == "The user is not a member of the organization."


def test_token_request_is_a_client_credentials_form(replay, replay_client):
    replay.add("GET", "/api/data/v9.0/WhoAmI", _recorded("01", "Response"))
    replay_client("v9.0").whoami()
    token_request = next(r for r in replay.received if "/oauth2/" in r.path)
    form = dict(p.split("=", 1) for p in token_request.body.decode().split("&"))
    assert form["grant_type"] == "client_credentials"
    assert form["client_secret"] == "sampleCredentials"
    assert unquote(form["scope"]) == f"{replay.url}/.default"


def test_token_endpoint_error_becomes_authentication_failed(replay, replay_client):
    body = section("02", "Error response").strip()
    replay.routes.clear()
    replay.add("POST", "/tenant/oauth2/v2.0/token", Route(400, [], body))
    with pytest.raises(errors.AuthenticationFailed) as caught:
        replay_client().whoami()
    assert caught.value.code == "invalid_scope"
    assert caught.value.message.startswith("AADSTS70011")
    assert caught.value.status == 400
    assert "sampleCredentials" not in str(caught.value)


def test_service_document_lists_entity_sets(replay, replay_client):
    recorded = _recorded("03", "Response")
    recorded.body = repair_truncated_json(recorded.body)
    replay.add("GET", "/api/data/v9.2/", recorded)
    assert replay_client().entity_sets() == ["aadusers", "accountleadscollection", "accounts"]


def test_bearer_challenge_refreshes_once_then_fails(replay, replay_client):
    replay.add("GET", "/api/data/v9.2/WhoAmI", _recorded("04", "Response"))
    with pytest.raises(errors.AuthenticationFailed) as caught:
        replay_client().whoami()
    assert caught.value.status == 401
    assert caught.value.message.endswith("The access token is missing.")
    assert len(replay.api_requests()) == 2  # the first try and one retry with a new token
    assert sum("/oauth2/" in r.path for r in replay.received) == 2


def test_create_reads_id_from_odata_entityid_and_sends_its_own_guid(replay, replay_client):
    replay.add("POST", "/api/data/v9.0/accounts", _recorded("05", "Response"))
    new_id = replay_client("v9.0").create("accounts", {"name": "Sample Account"})
    assert new_id == uuid.UUID("7eb682f1-ca75-e511-80d4-00155d2a68d1")
    sent = replay.api_requests()[0]
    body = json.loads(sent.body)
    assert uuid.UUID(body["accountid"])  # the client chose a primary key
    assert sent.headers["content-type"].startswith("application/json")


def test_create_with_representation_returns_the_row(replay, replay_client):
    replay.add("POST", "/api/data/v9.0/accounts", _recorded("06", "Response"))
    row = replay_client("v9.0").create_returning(
        "accounts", {"name": "Sample Account"}, select=["name", "revenue"]
    )
    assert row["accountid"] == "d6f193fc-ce85-e611-80d8-00155d2a68de"
    assert row["@odata.etag"] == 'W/"536530"'
    sent = replay.api_requests()[0]
    assert sent.headers["prefer"] == "return=representation"
    assert sent.path == "/api/data/v9.0/accounts?$select=name,revenue"


def test_create_with_odata_bind_and_expand(replay, replay_client):
    replay.add("POST", "/api/data/v9.0/accounts", _recorded("07", "Response"))
    request = parse_request(section("07", "Request"))
    recorded_body = json.loads(request.body)
    data = {
        "name": "Sample Account",
        "primarycontactid@odata.bind": bind("contacts", "00000000-0000-0000-0000-000000000001"),
    }
    assert data["primarycontactid@odata.bind"] == recorded_body["primarycontactid@odata.bind"]
    row = replay_client("v9.0").create_returning(
        "accounts", data, select=["name"], expand="primarycontactid($select=fullname)"
    )
    assert row["primarycontactid"]["fullname"] == "Yvonne McKay (sample)"
    assert [t["subject"] for t in row["Account_Tasks"]] == ["Task 1", "Task 2"]


def test_update_with_if_match_star_and_with_representation(replay, replay_client):
    client = replay_client("v9.0")
    path = "/api/data/v9.0/accounts(00000000-0000-0000-0000-000000000001)"
    replay.add("PATCH", path, _recorded("08", "Example A - Response"))
    assert client.update("accounts", "00000000-0000-0000-0000-000000000001", {"name": "x"}) is None
    assert replay.api_requests()[-1].headers["if-match"] == "*"
    replay.routes.clear()
    replay.add("PATCH", path, _recorded("08", "Example B - Response"))
    row = client.update(
        "accounts",
        uuid.UUID("00000000-0000-0000-0000-000000000001"),
        {"name": "Updated Sample Account"},
        return_select=["name", "createdon"],
    )
    assert row["name"] == "Updated Sample Account"
    assert replay.api_requests()[-1].headers["prefer"] == "return=representation"


def test_delete_succeeds_on_204(replay, replay_client):
    replay.add(
        "DELETE",
        "/api/data/v9.0/accounts(00000000-0000-0000-0000-000000000001)",
        _recorded("09", "Response"),
    )
    replay_client("v9.0").delete("accounts", "00000000-0000-0000-0000-000000000001")
    assert replay.api_requests()[0].method == "DELETE"


def test_paging_follows_nextlink_verbatim_and_lazily(replay, replay_client):
    request_2 = parse_request(section("10", "Request 2"))
    next_path = replay.substitute(request_2.target).removeprefix(replay.url)
    replay.add("GET", "/api/data/v9.2/contacts?$select=fullname", _recorded("10", "Response 1"))
    replay.add("GET", next_path, _recorded("10", "Response 2"))
    pages = replay_client().iter_pages("contacts", select=["fullname"], page_size=2)
    first = next(pages)
    assert len(replay.api_requests()) == 1  # nothing fetched ahead
    assert [r["fullname"] for r in first.rows] == [
        "Yvonne McKay (sample)",
        "Susanna Stubberod (sample)",
    ]
    second = next(pages)
    assert replay.api_requests()[1].path == next_path  # byte for byte
    assert replay.api_requests()[1].headers["prefer"] == "odata.maxpagesize=2"
    assert [r["contactid"] for r in second.rows] == [
        "72bf4d48-34cb-ed11-b596-0022481d68cd",
        "74bf4d48-34cb-ed11-b596-0022481d68cd",
    ]
    assert second.next_link and "pagenumber=%223%22" in second.next_link


def test_filter_on_lookup_with_formatted_value(replay, replay_client):
    replay.add("GET", "/api/data/v9.2/accounts", _recorded("11", "Response"))
    rows = list(
        replay_client().iter_rows(
            "accounts",
            select=["name", "_primarycontactid_value"],
            filter="primarycontactid/fullname eq 'Susanna Stubberod (sample)'",
            annotations="OData.Community.Display.V1.FormattedValue",
        )
    )
    assert formatted_value(rows[0], "_primarycontactid_value") == "Susanna Stubberod (sample)"
    sent = replay.api_requests()[0]
    assert unquote(sent.path).endswith(
        "$filter=primarycontactid/fullname eq 'Susanna Stubberod (sample)'"
    )
    assert "%20" in sent.path and "+" not in sent.path
    assert sent.headers["prefer"] == (
        'odata.include-annotations="OData.Community.Display.V1.FormattedValue",odata.maxpagesize=5000'
    )


def test_select_orderby_top_with_state_labels(replay, replay_client):
    replay.add("GET", "/api/data/v9.2/accounts", _recorded("12", "Response"))
    page = replay_client().get_page(
        "accounts",
        select=["name", "statecode", "statuscode"],
        orderby="name",
        top=1,
        annotations=True,
    )
    assert replay.api_requests()[0].path == (
        "/api/data/v9.2/accounts?$select=name,statecode,statuscode&$orderby=name&$top=1"
    )
    assert formatted_value(page.rows[0], "statecode") == "Active"
    assert page.rows[0]["statuscode"] == 1


def test_counts_and_total_record_count_annotations(replay, replay_client):
    first = _recorded("13", "Example A - Response")
    first.body = repair_truncated_json(first.body)
    replay.add("GET", "/api/data/v9.2/accounts?$select=accountid&$count=true", first)
    client = replay_client()
    assert client.get_page("accounts", select=["accountid"], count=True).count == 9
    replay.add("GET", "/api/data/v9.2/accounts", _recorded("13", "Example B - Response"))
    page = client.get_page(
        "accounts",
        select=["name"],
        filter="contains(name,'sample')",
        count=True,
        page_size=3,
        annotations="Microsoft.Dynamics.CRM.*",
    )
    assert (page.count, page.total_record_count, page.total_record_count_limit_exceeded) == (
        10,
        5000,
        True,
    )
    assert len(page.rows) == 3 and page.next_link.startswith(replay.url)
    assert replay.api_requests()[-1].headers["prefer"] == (
        'odata.include-annotations="Microsoft.Dynamics.CRM.*",odata.maxpagesize=3'
    )
    replay.add("GET", "/api/data/v9.2/accounts/$count", _recorded("13", "Example C - Response"))
    assert client.count("accounts") == 10


def test_formatted_values_of_money_choice_date_and_lookup(replay, replay_client):
    replay.add("GET", "/api/data/v9.2/accounts", _recorded("14", "Response"))
    row = next(replay_client().iter_rows("accounts", select=["name"], annotations=True))
    assert formatted_value(row, "revenue") == "$20,000.00"
    assert formatted_value(row, "customertypecode") == "Competitor"
    assert formatted_value(row, "_transactioncurrencyid_value") == "US Dollar"
    assert row["modifiedon"] == "2023-04-07T21:59:01Z"


def test_owner_lookup_tells_team_from_user(replay, replay_client):
    replay.add("GET", "/api/data/v9.2/accounts", _recorded("15", "Response"))
    rows = list(replay_client().iter_rows("accounts", select=["name", "_ownerid_value"]))
    assert [lookup_target(r, "_ownerid_value") for r in rows] == [
        ("team", "ownerid"),
        ("systemuser", "ownerid"),
    ]


def test_upsert_by_alternate_key_create_update_and_representation(replay, replay_client):
    client = replay_client()
    key = {"example_key1": 2, "example_key2": 2}
    path = "/api/data/v9.2/example_records(example_key1=2,example_key2=2)"
    replay.add("PATCH", path, _recorded("16", "Create with upsert - Response"))
    result = client.upsert("example_records", key, {"example_name": "2:2"})
    assert replay.api_requests()[-1].path == path
    assert result.entity_url == f"{replay.url}{path}" and result.id is None
    assert result.created is None
    replay.add("PATCH", path, _recorded("16", "Update with upsert - Response"))
    assert client.upsert("example_records", key, {"example_name": "2:2 Updated"}).entity_url
    client.register_table("example_records", "example_record")
    key3 = {"example_key1": 3, "example_key2": 3}
    path3 = "/api/data/v9.2/example_records(example_key1=3,example_key2=3)"
    replay.add(
        "PATCH", path3, _recorded("16", "Create with upsert and return=representation - Response")
    )
    replay.add(
        "PATCH", path3, _recorded("16", "Update with upsert and return=representation - Response")
    )
    created = client.upsert(
        "example_records", key3, {"example_name": "3:3"}, return_representation=True
    )
    updated = client.upsert(
        "example_records", key3, {"example_name": "3:3 Updated"}, return_representation=True
    )
    assert created.created is True and updated.created is False
    assert created.id == updated.id == uuid.UUID("ef0d112e-d70e-ed11-82e5-00224822577b")
    assert replay.api_requests()[-1].path == path3 + "?$select=example_recordid"


def test_upsert_if_match_star_on_missing_row_is_not_found(replay, replay_client):
    replay.add(
        "PATCH",
        "/api/data/v9.0/accounts(00000000-0000-0000-0000-000000000001)",
        _recorded("17", "Response"),
    )
    with pytest.raises(errors.NotFound) as caught:
        replay_client("v9.0").upsert(
            "accounts", "00000000-0000-0000-0000-000000000001", {"name": "x"}, if_match="*"
        )
    assert caught.value.message.endswith("Does Not Exist") and caught.value.code == ""
    assert caught.value.permanent


def test_upsert_if_none_match_star_on_existing_row_is_precondition_failed(replay, replay_client):
    replay.add(
        "PATCH",
        "/api/data/v9.0/accounts(00000000-0000-0000-0000-000000000001)",
        _recorded("18", "Response"),
    )
    with pytest.raises(errors.PreconditionFailed) as caught:
        replay_client("v9.0").upsert(
            "accounts", "00000000-0000-0000-0000-000000000001", {"name": "x"}, if_none_match="*"
        )
    assert caught.value.message == "A record with matching key values already exists."
    assert replay.api_requests()[0].headers["if-none-match"] == "*"


def test_stale_etag_on_delete_and_update_is_precondition_failed(replay, replay_client):
    client = replay_client("v9.0")
    path = "/api/data/v9.0/accounts(00000000-0000-0000-0000-000000000001)"
    replay.add("DELETE", path, _recorded("19", "Delete - Response"))
    replay.add("PATCH", path, _recorded("19", "Update - Response"))
    with pytest.raises(errors.PreconditionFailed):
        client.delete("accounts", "00000000-0000-0000-0000-000000000001", if_match='W/"470867"')
    with pytest.raises(errors.PreconditionFailed) as caught:
        client.update(
            "accounts", "00000000-0000-0000-0000-000000000001", {"name": "n"}, if_match='W/"470867"'
        )
    assert "RowVersion" in caught.value.message
    assert replay.api_requests()[0].headers["if-match"] == 'W/"470867"'


def test_conditional_get_304_means_unchanged(replay, replay_client):
    replay.add(
        "GET",
        "/api/data/v9.0/accounts(00000000-0000-0000-0000-000000000001)",
        _recorded("20", "Response"),
    )
    row = replay_client("v9.0").get(
        "accounts",
        "00000000-0000-0000-0000-000000000001",
        select=["name"],
        if_none_match='W/"468026"',
    )
    assert row is None
    assert replay.api_requests()[0].headers["if-none-match"] == 'W/"468026"'


def _task(subject: str) -> BatchRequest:
    return BatchRequest(
        "POST",
        "tasks",
        {
            "subject": subject,
            "regardingobjectid_account_task@odata.bind": bind(
                "accounts", "00000000-0000-0000-0000-000000000001"
            ).lstrip("/"),
        },
    )


def test_batch_without_change_set(replay, replay_client):
    replay.add("POST", "/api/data/v9.2/$batch", _recorded("21", "Response"))
    responses = replay_client().execute_batch(
        [
            _task("Task 1 in batch"),
            _task("Task 2 in batch"),
            _task("Task 3 in batch"),
            BatchRequest(
                "GET",
                "accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject",
            ),
        ]
    )
    assert [r.status for r in responses] == [204, 204, 204, 200]
    assert responses[0].entity_id == uuid.UUID("d31ba648-c592-ed11-aad1-000d3a993550")
    assert [t["subject"] for t in responses[3].json()["value"]] == [
        "Task 1 in batch",
        "Task 2 in batch",
        "Task 3 in batch",
    ]
    sent = replay.api_requests()[0]
    assert sent.headers["content-type"].startswith('multipart/mixed; boundary="batch_')
    assert b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary" in sent.body


def test_batch_change_set_content_ids(replay, replay_client):
    replay.add("POST", "/api/data/v9.2/$batch", _recorded("22", "Response"))
    responses = replay_client().execute_batch(
        [ChangeSet([_task(f"Task {n} in batch") for n in (1, 2, 3)]), BatchRequest("GET", "tasks")]
    )
    assert [(r.content_id, r.changeset, r.status) for r in responses] == [
        ("1", 0, 204),
        ("2", 0, 204),
        ("3", 0, 204),
        (None, None, 200),
    ]
    assert responses[2].entity_id == uuid.UUID("e93ffc82-e292-ed11-aad1-000d3a9933c9")
    body = replay.api_requests()[0].body.decode()
    assert "Content-ID: 1\r\n" in body and "Content-ID: 3\r\n" in body
    assert 'Content-Type: multipart/mixed; boundary="changeset_' in body


def test_batch_content_id_references(replay, replay_client):
    replay.add("POST", "/api/data/v9.2/$batch", _recorded("23", "Response"))
    responses = replay_client().execute_batch(
        [
            ChangeSet(
                [
                    BatchRequest("POST", "leads", {"firstname": "first name"}, content_id="1"),
                    BatchRequest("POST", "contacts", {"firstname": "first name"}, content_id="2"),
                    BatchRequest(
                        "POST",
                        "accounts",
                        {"name": "IcM Account", "originatingleadid@odata.bind": "$1"},
                        content_id="3",
                    ),
                ]
            )
        ]
    )
    assert [r.entity_id for r in responses] == [
        uuid.UUID("425195a4-7a75-e911-a97a-000d3a34a1bd"),
        uuid.UUID("495195a4-7a75-e911-a97a-000d3a34a1bd"),
        uuid.UUID("4f5195a4-7a75-e911-a97a-000d3a34a1bd"),
    ]
    replay.add("POST", "/api/data/v9.2/$batch", _recorded("24", "Response"))
    responses = replay_client().execute_batch(
        [
            ChangeSet(
                [
                    BatchRequest("POST", "accounts", {"name": "Account Name"}),
                    BatchRequest("POST", "contacts", {"firstname": "Contact first name"}),
                    BatchRequest("PUT", "$1/primarycontactid/$ref", {"@odata.id": "$2"}),
                ]
            )
        ]
    )
    assert [r.status for r in responses] == [204, 204, 204]
    assert responses[2].entity_id is None
    assert "PUT $1/primarycontactid/$ref HTTP/1.1" in replay.api_requests()[-1].body.decode()


def test_batch_stops_at_first_error_without_continue_on_error(replay, replay_client):
    replay.add("POST", "/api/data/v9.2/$batch", _recorded("25", "Example A - Response"))
    responses = replay_client().execute_batch([_task("x" * 300), _task("2"), _task("3")])
    assert len(responses) == 1
    error = responses[0].error()
    assert isinstance(error, errors.ValidationFailed)
    assert error.code == "0x80044331" and "maximum allowed length" in error.message


def test_write_many_reports_the_bad_record_and_writes_the_rest(replay, replay_client):
    replay.add("POST", "/api/data/v9.2/$batch", _recorded("25", "Example B - Response"))
    client = replay_client()
    client.register_table("tasks", "task", "activityid")
    results = client.write_many(
        "tasks", [{"subject": "x" * 300}, {"subject": "2"}, {"subject": "3"}], method="batch"
    )
    assert isinstance(results[0].error, errors.ValidationFailed)
    assert results[0].error.code == "0x80044331"
    assert [r.id for r in results[1:]] == [
        uuid.UUID("aed2ae8b-3c94-ed11-aad1-000d3a9933c9"),
        uuid.UUID("b181a991-3c94-ed11-aad1-000d3a9933c9"),
    ]
    assert replay.api_requests()[0].headers["prefer"] == "odata.continue-on-error"


def test_change_tracking_initial_and_delta_with_deletion(replay, replay_client):
    client = replay_client("v9.0")
    replay.add(
        "GET",
        "/api/data/v9.0/accounts?$select=name,accountnumber,telephone1,fax",
        Route(
            200,
            [("Preference-Applied", "odata.track-changes")],
            _recorded("26", "Initial response").body,
        ),
    )
    batches = list(client.changes("accounts", ["name", "accountnumber", "telephone1", "fax"]))
    assert replay.api_requests()[0].headers["prefer"].endswith("odata.track-changes")
    assert [r["name"] for r in batches[-1].upserts] == ["Monte Orton"]
    delta = batches[-1].delta_link
    assert delta.endswith("$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44")
    replay.add("GET", delta.removeprefix(replay.url), _recorded("26", "Delta response"))
    batches = list(client.changes("accounts", ["name"], delta))
    assert same_escapes(replay.api_requests()[-1].path) == same_escapes(
        delta.removeprefix(replay.url)
    )
    assert batches[-1].deleted_ids == [uuid.UUID("2e451703-c686-e711-80e5-00155db19e6d")]
    assert [r["accountid"] for r in batches[-1].upserts] == ["60c4e274-0d87-e711-80e5-00155db19e6d"]
    assert "919058" in batches[-1].delta_link and batches[-1].mode == "delta"


def test_associate_and_disassociate_with_ref(replay, replay_client):
    client = replay_client("v9.0")
    ok = _recorded("27", "A - Response")
    opp = "00000000-0000-0000-0000-000000000001"
    acc = "00000000-0000-0000-0000-000000000002"
    replay.default = Route(ok.status, ok.headers, ok.body)
    client.associate("accounts", acc, "opportunity_customer_accounts", "opportunities", opp)
    client.set_reference("opportunities", opp, "customerid_account", "accounts", acc)
    client.disassociate("accounts", acc, "opportunity_customer_accounts", "opportunities", opp)
    client.disassociate("opportunities", opp, "customerid_account")
    client.update(
        "opportunities",
        opp,
        {"customerid_account@odata.bind": bind("accounts", acc)},
        if_match=None,
    )
    sent = replay.api_requests()
    expected = [
        parse_request(section("27", h))
        for h in ("A. Add", "B. Change", "C. Remove", "C'. Remove", "D. Associate")
    ]
    assert [(r.method, r.path) for r in sent[:2]] == [
        (e.method, replay.substitute(e.target).removeprefix(replay.url)) for e in expected[:2]
    ]
    assert json.loads(sent[0].body) == {
        "@odata.id": f"{replay.url}/api/data/v9.0/opportunities({opp})"
    }
    assert (
        sent[2].path == f"/api/data/v9.0/accounts({acc})/opportunity_customer_accounts({opp})/$ref"
    )
    assert sent[3].path == f"/api/data/v9.0/opportunities({opp})/customerid_account/$ref"
    assert json.loads(sent[4].body) == {"customerid_account@odata.bind": f"/accounts({acc})"}


def test_retrieve_with_select_alternate_key_and_expand(replay, replay_client):
    client = replay_client("v9.0")
    replay.add(
        "GET",
        "/api/data/v9.0/accounts(00000000-0000-0000-0000-000000000001)",
        _recorded("28", "A - Response"),
    )
    row = client.get("accounts", "00000000-0000-0000-0000-000000000001", select=["name", "revenue"])
    assert row["revenue"] == 10000 and row["_transactioncurrencyid_value"]
    assert replay.api_requests()[-1].path.endswith("?$select=name,revenue")
    replay.add(
        "GET",
        "/api/data/v9.0/contacts(firstname='Joe',emailaddress1='abc@example.com')",
        Route(200, [], '{"contactid":"00000000-0000-0000-0000-000000000009"}'),
    )
    client.get("contacts", {"firstname": "Joe", "emailaddress1": "abc@example.com"})
    recorded = parse_request(section("28", "B. Retrieve")).target
    assert replay.api_requests()[-1].path == replay.substitute(recorded).removeprefix(replay.url)
    replay.add(
        "GET",
        "/api/data/v9.0/accounts(00000000-0000-0000-0000-000000000001)",
        _recorded("28", "C - Response"),
    )
    row = client.get(
        "accounts",
        "00000000-0000-0000-0000-000000000001",
        select=["name"],
        expand="primarycontactid($select=contactid,fullname)",
    )
    assert row["primarycontactid"]["fullname"] == "Nancy Anderson (sample)"


def test_import_solution_sends_job_id_and_reads_the_job(replay, replay_client):
    job_id = uuid.uuid4()
    replay.add("POST", "/api/data/v9.2/ImportSolution", _recorded("29", "Response"))
    job_xml = (
        "<importexportxml><solutionManifests><solutionManifest>"
        '<result result="success" errorcode="0" errortext="" />'
        "</solutionManifest></solutionManifests></importexportxml>"
    )
    replay.add(
        "GET",
        f"/api/data/v9.2/importjobs({job_id})",
        Route(
            200,
            [],
            json.dumps(
                {
                    "importjobid": str(job_id),
                    "progress": 100.0,
                    "solutionname": "ErpCrmIntegration",
                    "data": job_xml,
                }
            ),
        ),
    )
    result = replay_client().import_solution(b"PK\x03\x04zip", import_job_id=job_id)
    assert result.success and result.solution_name == "ErpCrmIntegration"
    sent = json.loads(replay.api_requests()[0].body)
    assert sent["ImportJobId"] == str(job_id)
    assert sent["CustomizationFile"] == "UEsDBHppcA=="
    assert sent["OverwriteUnmanagedCustomizations"] is True


def test_plugin_error_with_annotations_keeps_code_and_message(replay, replay_client):
    replay.add("POST", "/api/data/v9.1/accounts", _recorded("30", "Response"))
    with pytest.raises(errors.ValidationFailed) as caught:
        replay_client("v9.1").create("accounts", {"name": "Example Account"})
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        400,
        "0x80040265",
        "Example Error Message.",
    )


def test_wrong_entity_set_is_not_found_with_segment_message(replay, replay_client):
    replay.add("GET", "/api/data/v9.2/account", _recorded("31", "Response"))
    with pytest.raises(errors.NotFound) as caught:
        list(replay_client().iter_rows("account", select=["name"]))
    assert caught.value.code == "0x80060888"
    assert caught.value.message == "Resource not found for the segment 'account'."


def test_raw_whoami_capture_and_dop_hint(replay, replay_client):
    replay.add("GET", "/api/data/v9.2/WhoAmI", _recorded("32", "Response"))
    client = replay_client()
    assert client.whoami().organization_id == uuid.UUID("00aa00aa-bb11-cc22-dd33-44ee44ee44ee")
    assert client.dop_hint == 48
    assert client.stats.snapshot()["requests"] == 1


def test_create_multiple_ids_and_update_multiple(replay, replay_client):
    client = replay_client()
    client.register_table("sample_examples", "sample_example")
    replay.add(
        "POST",
        "/api/data/v9.2/sample_examples/Microsoft.Dynamics.CRM.CreateMultiple",
        _recorded("33", "Response"),
    )
    names = ["sample record 0000001", "sample record 0000002", "sample record 0000003"]
    results = client.write_many(
        "sample_examples", [{"sample_name": n} for n in names], method="bulk"
    )
    assert [str(r.id) for r in results] == [
        "8f4c3f92-312b-ee11-bdf4-000d3a993550",
        "904c3f92-312b-ee11-bdf4-000d3a993550",
        "914c3f92-312b-ee11-bdf4-000d3a993550",
    ]
    targets = json.loads(replay.api_requests()[0].body)["Targets"]
    assert {t["@odata.type"] for t in targets} == {"Microsoft.Dynamics.CRM.sample_example"}
    replay.add(
        "POST",
        "/api/data/v9.2/sample_examples/Microsoft.Dynamics.CRM.UpdateMultiple",
        _recorded("34", "Response"),
    )
    updates = [
        {"sample_name": n + " Updated", "sample_exampleid": str(r.id)}
        for n, r in zip(names, results, strict=True)
    ]
    updated = client.write_many("sample_examples", updates, operation="update", method="bulk")
    assert all(r.ok for r in updated) and updated[0].id == results[0].id


def test_every_published_response_section_is_read():
    """Every `### ... Response` section of every example parses to a status (loader sanity)."""

    statuses = {}
    for path in sorted(EXAMPLES_DIR.glob("*.http")):
        prefix = path.name[:2]
        for heading, text in sections(prefix):
            lowered = heading.lower()
            # 02's token responses are published as bodies only (covered by the token tests).
            if (
                "response" in lowered
                and ("request" not in lowered or lowered.startswith("response"))
                and "no response" not in lowered
                and prefix != "02"
            ):
                statuses[(prefix, heading)] = parse_response(text).status
    files_with_responses = {p for p, _ in statuses}
    # Every example but 02 (bodies only) has at least one full response section.
    assert files_with_responses == {f"{n:02d}" for n in range(1, 35)} - {"02"}
    assert statuses[("25", "Example A - Response")] == 400
    assert statuses[("20", "Response")] == 304
