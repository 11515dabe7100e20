"""The client against the live sandbox CRM over real HTTP."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from dataverse import errors
from dataverse.client import DataverseClient, bind
from tests.support.sandbox import sandbox_settings

pytestmark = pytest.mark.sandbox
BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def configured(dataverse_sandbox) -> Iterator:
    """Sandbox whose limits/faults a test changes; settings go back to defaults afterwards."""
    yield dataverse_sandbox
    dataverse_sandbox.control("config", {"rules": []})
    defaults = {
        "token_lifetime_seconds": 3599,
        "change_tracking_expiry_seconds": 7 * 24 * 3600,
        "rate_limit_requests": 0,
        "rate_limit_window_seconds": 300.0,
        "error_rate": 0.0,
        "commit_then_fail_rate": 0.0,
    }
    dataverse_sandbox.control("config", defaults)


def _names(client: DataverseClient, prefix: str) -> list[str]:
    return [
        r["name"]
        for r in client.iter_rows(
            "accounts", select=["name"], filter=f"startswith(name,'{prefix}')", page_size=500
        )
    ]


def test_whoami_and_base_currency(sandbox_client):
    who = sandbox_client.whoami()
    assert isinstance(who.user_id, uuid.UUID) and isinstance(who.organization_id, uuid.UUID)
    currency = sandbox_client.organization_base_currency()
    assert (currency.iso_code, currency.name, currency.symbol) == ("USD", "US Dollar", "$")


def test_paging_2500_rows_streams_pages_without_duplicates(sandbox_client):
    prefix = f"pg-{uuid.uuid4().hex[:8]}-"
    results = sandbox_client.write_many(
        "accounts", [{"name": f"{prefix}{n:05d}"} for n in range(2500)]
    )
    assert all(r.ok for r in results)
    before = sandbox_client.stats.snapshot()["requests"]
    pages = sandbox_client.iter_pages(
        "accounts",
        select=["name"],
        filter=f"startswith(name,'{prefix}')",
        orderby="name asc,accountid asc",
        page_size=100,
    )
    first = next(pages)
    # The generator yields the first page before any other page is fetched.
    assert sandbox_client.stats.snapshot()["requests"] == before + 1
    assert len(first.rows) == 100 and first.next_link
    ids = [r["accountid"] for r in first.rows]
    page_count = 1
    for page in pages:
        page_count += 1
        ids.extend(r["accountid"] for r in page.rows)
    assert page_count == 25
    assert len(ids) == len(set(ids)) == 2500
    assert set(ids) == {str(r.id) for r in results}


def test_changes_report_new_updated_and_deleted_rows(sandbox_client):
    initial = list(sandbox_client.changes("accounts", ["name"], page_size=50))
    assert initial[-1].delta_link and all(b.delta_link is None for b in initial[:-1])
    assert sum(len(b.upserts) for b in initial) >= 1
    created = sandbox_client.create("accounts", {"name": "delta new"})
    doomed = sandbox_client.create("accounts", {"name": "delta doomed"})
    token = list(sandbox_client.changes("accounts", ["name"], initial[-1].delta_link))[
        -1
    ].delta_link
    sandbox_client.update("accounts", created, {"name": "delta renamed"})
    sandbox_client.delete("accounts", doomed)
    batches = list(sandbox_client.changes("accounts", ["name"], token))
    upserts = {r["accountid"]: r["name"] for b in batches for r in b.upserts}
    deleted = [d for b in batches for d in b.deleted_ids]
    assert upserts == {str(created): "delta renamed"}
    assert deleted == [doomed]
    assert batches[-1].mode == "delta" and not batches[-1].full_resync


def test_expired_delta_link_starts_a_full_resync(sandbox_client, configured):
    token = list(sandbox_client.changes("accounts", ["name"]))[-1].delta_link
    configured.control("config", {"change_tracking_expiry_seconds": 1})
    configured.advance_clock(2.1)
    batches = list(sandbox_client.changes("accounts", ["name"], token))
    assert batches[-1].full_resync and batches[-1].mode == "delta"
    assert sum(len(b.upserts) for b in batches) == sandbox_client.count("accounts")
    assert batches[-1].delta_link and batches[-1].delta_link != token


def test_table_without_change_tracking_uses_modifiedon_watermark(sandbox_client):
    batches = list(sandbox_client.changes("solutions", ["uniquename"]))
    assert batches[-1].mode == "watermark"
    assert batches[-1].delta_link.startswith("watermark:")


def test_watermark_returns_rows_modified_since_the_last_run(sandbox_client, dataverse_sandbox):
    # A row later than every other, so that the watermark is not the second the sandbox was
    # seeded in (`modifiedon ge` would then return every seeded row, as when run alone).
    dataverse_sandbox.advance_clock(1.1)
    sandbox_client.create("accounts", {"name": "watermark marker"})
    token = list(sandbox_client.changes("accounts", ["name"], "watermark:"))[-1].delta_link
    assert token.startswith("watermark:") and len(token) > len("watermark:")
    dataverse_sandbox.advance_clock(1.1)  # modifiedon has one-second resolution
    changed = sandbox_client.create("accounts", {"name": "watermark new"})
    batches = list(sandbox_client.changes("accounts", ["name"], token))
    ids = [r["accountid"] for b in batches for r in b.upserts]
    assert str(changed) in ids
    assert len(ids) < sandbox_client.count("accounts")  # not a full read
    assert batches[-1].delta_link > token


def test_throttled_request_waits_retry_after_then_succeeds(sandbox_client, configured):
    configured.control(
        "config", {"rules": [{"fault": "throttle", "path": "WhoAmI", "retry_after": 2}]}
    )
    started = time.monotonic()
    sandbox_client.whoami()
    assert time.monotonic() - started >= 2.0
    stats = sandbox_client.stats.snapshot()
    assert stats["throttled"] == 1 and stats["retries"] >= 1


def test_request_count_limit_is_respected_by_waiting(sandbox_client, configured):
    sandbox_client.whoami()
    configured.control("config", {"rate_limit_requests": 4, "rate_limit_window_seconds": 2})
    for _ in range(10):
        sandbox_client.whoami()
    assert sandbox_client.stats.snapshot()["throttled"] >= 1


_OTHER_PROCESS = """
import json, sys, time
sys.path.insert(0, {base!r})
from dataverse.client import ConnectionSettings, DataverseClient
settings = ConnectionSettings(**json.loads(sys.argv[1]))
client = DataverseClient(settings)
client.tokens.token()
started = time.time()
client.whoami()
finished = time.time()
print(json.dumps({{"started": started, "finished": finished, "throttled": client.stats.throttled}}))
"""


@pytest.mark.parametrize("store", ["file", "redis"])
def test_other_process_of_the_same_user_waits_after_a_429(
    sandbox_client, configured, tmp_path, store
):
    overrides: dict[str, object] = {"throttle_redis_url": ""}  # "": the file store
    if store == "redis":
        url = os.environ.get("CRM_THROTTLE_REDIS_URL") or "redis://127.0.0.1:6379/15"
        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except redis.RedisError:
            pytest.skip("no Redis server to hold the throttle gate")
        overrides["throttle_redis_url"] = url
    settings = sandbox_settings(configured, tmp_path, **overrides)
    first = DataverseClient(settings)
    first.whoami()
    configured.control(
        "config", {"rules": [{"fault": "throttle", "path": "WhoAmI", "retry_after": 4}]}
    )
    worker = threading.Thread(target=first.whoami)
    worker.start()
    deadline = time.monotonic() + 5
    while first.stats.snapshot()["throttled"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.stats.snapshot()["throttled"] == 1
    # The gate opens 4 s (Retry-After) after the 429, which came at most a poll before this.
    opens_at = time.time() - 0.05 + 4
    payload = {
        k: getattr(settings, k)
        for k in ("environment_url", "token_url", "client_id", "client_secret", "throttle_dir")
    }
    payload["throttle_redis_url"] = settings.throttle_redis_url
    output = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS.format(base=str(BASE_DIR)), json.dumps(payload)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    worker.join()
    result = json.loads(output.stdout.strip().splitlines()[-1])
    # The rule throttles once: the other process never saw a 429 yet still waited for the
    # gate. Measured against the gate's opening, not the child's own clock: a loaded machine
    # may take seconds to start the child, and then it has less left to wait.
    assert result["throttled"] == 0
    assert result["started"] < opens_at - 0.5, "the other process started too late to tell"
    assert result["finished"] >= opens_at - 0.3
    if store == "file":
        assert list((tmp_path / "throttle").glob("crm-throttle-*"))
    first.close()


def test_change_set_rolls_back_every_operation_when_one_fails(sandbox_client):
    prefix = f"cs-{uuid.uuid4().hex[:8]}-"
    records = [{"name": f"{prefix}{n}"} for n in range(4)]
    records[2]["name"] = prefix + "x" * 200  # longer than the 160 allowed
    results = sandbox_client.write_many("accounts", records, atomic=True, method="batch")
    assert isinstance(results[2].error, errors.ValidationFailed)
    assert all(isinstance(results[i].error, errors.RolledBack) for i in (0, 1, 3))
    assert _names(sandbox_client, prefix) == []


def test_bulk_with_a_bad_record_reports_it_and_writes_the_good_ones(sandbox_client):
    prefix = f"bk-{uuid.uuid4().hex[:8]}-"
    records = [{"name": f"{prefix}{n}"} for n in range(10)]
    records[6]["name"] = prefix + "y" * 200
    results = sandbox_client.write_many("accounts", records)
    assert [r.index for r in results if not r.ok] == [6]
    assert isinstance(results[6].error, errors.ValidationFailed)
    assert results[6].error.code and "length" in results[6].error.message.lower()
    assert sorted(_names(sandbox_client, prefix)) == sorted(
        r["name"] for i, r in enumerate(records) if i != 6
    )
    stats = sandbox_client.stats.snapshot()["by_status"]
    assert stats.get(400, 0) >= 1  # the CreateMultiple that failed, before the $batch


def test_table_without_bulk_messages_uses_batch_and_remembers(sandbox_client):
    codes = [f"Q{uuid.uuid4().hex[:4].upper()}" for _ in range(3)]
    records = [
        {
            "isocurrencycode": code,
            "currencyname": f"Test {code}",
            "currencysymbol": "¤",
            "exchangerate": 1.5,
            "currencyprecision": 2,
        }
        for code in codes
    ]
    results = sandbox_client.write_many("transactioncurrencies", records)
    assert all(r.ok for r in results), [r.error for r in results]
    assert ("transactioncurrencies", "CreateMultiple") in sandbox_client._no_bulk
    before = sandbox_client.stats.snapshot()["by_status"].get(400, 0)
    more = sandbox_client.write_many(
        "transactioncurrencies", [{**records[0], "isocurrencycode": "QZZ" + codes[0][-2:]}]
    )
    assert more[0].ok
    assert (
        sandbox_client.stats.snapshot()["by_status"].get(400, 0) == before
    )  # no second failed attempt


def test_commit_then_fail_create_does_not_make_a_second_record(sandbox_client, configured):
    name = f"ctf-{uuid.uuid4().hex[:8]}"
    configured.control(
        "config",
        {"rules": [{"fault": "commit_then_fail", "method": "POST", "path": "accounts$"}]},
    )
    new_id = sandbox_client.create("accounts", {"name": name})
    assert sandbox_client.stats.snapshot()["retries"] >= 1
    assert _names(sandbox_client, name) == [name]
    assert sandbox_client.get("accounts", new_id, select=["name"])["name"] == name


def test_commit_then_fail_bulk_create_does_not_duplicate(sandbox_client, configured):
    prefix = f"ctfb-{uuid.uuid4().hex[:8]}-"
    configured.control(
        "config",
        {"rules": [{"fault": "commit_then_fail", "method": "POST", "path": "CreateMultiple"}]},
    )
    results = sandbox_client.write_many("accounts", [{"name": f"{prefix}{n}"} for n in range(5)])
    assert all(r.ok for r in results)
    assert sorted(_names(sandbox_client, prefix)) == [f"{prefix}{n}" for n in range(5)]


def test_expired_token_is_refreshed_once(sandbox_client, configured):
    sandbox_client.whoami()
    configured.control("expire-tokens")
    sandbox_client.whoami()
    assert sandbox_client.stats.snapshot()["token_requests"] == 2
    assert sandbox_client.stats.snapshot()["by_status"][401] == 1


def test_short_lived_tokens_are_renewed_before_expiry(sandbox_client, configured):
    configured.control("config", {"token_lifetime_seconds": 2})
    sandbox_client.tokens.invalidate(sandbox_client.tokens.token())
    sandbox_client.whoami()
    time.sleep(2.2)
    sandbox_client.whoami()
    assert sandbox_client.stats.snapshot()["token_requests"] >= 3
    assert sandbox_client.stats.snapshot()["by_status"].get(401, 0) == 0


def test_wrong_secret_is_authentication_failed(dataverse_sandbox, tmp_path):
    client = DataverseClient(sandbox_settings(dataverse_sandbox, tmp_path, client_secret="wrong"))
    with pytest.raises(errors.AuthenticationFailed) as caught:
        client.whoami()
    assert caught.value.code == "invalid_client" and "wrong" not in str(caught.value)


def test_transient_errors_are_retried_with_backoff(sandbox_client, configured):
    configured.control(
        "config", {"rules": [{"fault": "error", "path": "WhoAmI", "status": 503, "count": 2}]}
    )
    sandbox_client.whoami()
    assert sandbox_client.stats.snapshot()["retries"] == 2
    configured.control(
        "config", {"rules": [{"fault": "error", "path": "WhoAmI", "status": 502, "count": 10}]}
    )
    with pytest.raises(errors.TransientError) as caught:
        sandbox_client.whoami()
    assert caught.value.status == 502 and not caught.value.permanent


def test_update_upsert_delete_and_concurrency(sandbox_client):
    account = sandbox_client.create("accounts", {"name": "cc"})
    etag = sandbox_client.get("accounts", account, select=["name"])["@odata.etag"]
    assert sandbox_client.get("accounts", account, select=["name"], if_none_match=etag) is None
    sandbox_client.update("accounts", account, {"name": "cc2"}, if_match=etag)
    with pytest.raises(errors.PreconditionFailed) as caught:
        sandbox_client.update("accounts", account, {"name": "cc3"}, if_match=etag)
    assert caught.value.code == "0x80060882"
    with pytest.raises(errors.NotFound):
        sandbox_client.update("accounts", uuid.uuid4(), {"name": "ghost"})
    key = {"example_key1": 7, "example_key2": 9}
    made = sandbox_client.upsert(
        "example_records", key, {"example_name": "7:9"}, return_representation=True
    )
    again = sandbox_client.upsert(
        "example_records", key, {"example_name": "7:9b"}, return_representation=True
    )
    assert made.created is True and again.created is False and made.id == again.id
    with pytest.raises(errors.PreconditionFailed):
        sandbox_client.upsert("example_records", key, {"example_name": "x"}, if_none_match="*")
    with pytest.raises(errors.NotFound):
        sandbox_client.upsert(
            "example_records", {"example_key1": 1, "example_key2": 404}, {}, if_match="*"
        )
    sandbox_client.delete("accounts", account)
    with pytest.raises(errors.NotFound):
        sandbox_client.delete("accounts", account)


def test_associate_disassociate_and_bind(sandbox_client):
    account = sandbox_client.create("accounts", {"name": "parent"})
    contact = sandbox_client.create(
        "contacts",
        {"lastname": "Child", "parentcustomerid_account@odata.bind": bind("accounts", account)},
    )
    assert sandbox_client.get("contacts", contact, select=["_parentcustomerid_value"])[
        "_parentcustomerid_value"
    ] == str(account)
    other = sandbox_client.create("contacts", {"lastname": "Other"})
    sandbox_client.associate("accounts", account, "contact_customer_accounts", "contacts", other)
    assert sandbox_client.get("contacts", other, select=["_parentcustomerid_value"])[
        "_parentcustomerid_value"
    ] == str(account)
    sandbox_client.disassociate("accounts", account, "contact_customer_accounts", "contacts", other)
    assert (
        sandbox_client.get("contacts", other, select=["_parentcustomerid_value"])[
            "_parentcustomerid_value"
        ]
        is None
    )


def test_integration_user_may_not_import_solutions(sandbox_client):
    with pytest.raises(errors.Forbidden) as caught:
        sandbox_client.import_solution(b"PK\x05\x06" + b"\x00" * 18)
    assert caught.value.code == "0x80040220"


def test_duplicate_alternate_key_is_duplicate(sandbox_client):
    number = f"AN{uuid.uuid4().hex[:8]}"
    sandbox_client.create("accounts", {"name": "a", "accountnumber": number})
    with pytest.raises(errors.Duplicate) as caught:
        sandbox_client.create("accounts", {"name": "b", "accountnumber": number})
    assert caught.value.permanent


def _solution_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("[Content_Types].xml", "solution.xml", "customizations.xml"):
            archive.write(BASE_DIR / "setup_wizard" / "solution" / name, name)
    return buffer.getvalue()


def test_administrator_imports_the_solution_with_the_password_grant(
    dataverse_sandbox, tmp_path, caplog
):
    caplog.set_level("DEBUG", logger="dataverse")
    admin = DataverseClient(
        sandbox_settings(
            dataverse_sandbox,
            tmp_path,
            client_secret="",
            username="admin@sandbox.example",
            password="Sandbox-Admin-1!",
        )
    )
    job_id = uuid.uuid4()
    result = admin.import_solution(_solution_zip(), import_job_id=job_id)
    assert result.success, result.message
    assert result.import_job_id == job_id and result.solution_name == "ErpCrmIntegration"
    assert "erpcrm_connections" in admin.entity_sets()
    # Administrators may also hand out roles ($ref on the N:N relationship).
    integration_user = (
        DataverseClient(sandbox_settings(dataverse_sandbox, tmp_path)).whoami().user_id
    )
    role = "6f960e32-a72b-e511-80d9-3863bb349780"
    admin.associate("systemusers", integration_user, "systemuserroles_association", "roles", role)
    # Associating again (a retried call) is not an error.
    admin.associate("systemusers", integration_user, "systemuserroles_association", "roles", role)
    roles = admin.get_page(
        f"systemusers({integration_user})/systemuserroles_association", select=["roleid"]
    ).rows
    assert role in {r["roleid"] for r in roles}
    assert "Sandbox-Admin-1!" not in caplog.text
    admin.close()


def test_threads_share_one_token_and_logs_hold_no_secrets(sandbox_client, caplog):
    caplog.set_level("DEBUG", logger="dataverse")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: sandbox_client.whoami(), range(32)))
    assert sandbox_client.stats.snapshot()["token_requests"] == 1
    token = sandbox_client.tokens.token()
    assert "WhoAmI" in caplog.text
    for secret in (token, "sandbox-integration-secret", "Bearer "):
        assert secret not in caplog.text


@pytest.mark.parametrize("method", ["bulk", "batch", "single"])
def test_write_many_updates_and_upserts_by_alternate_key(sandbox_client, method):
    tag = uuid.uuid4().hex[:6]
    created = sandbox_client.write_many("accounts", [{"name": f"wm-{tag}-{n}"} for n in range(3)])
    updates = [{"accountid": str(r.id), "telephone1": f"555-{n}"} for n, r in enumerate(created)]
    updated = sandbox_client.write_many("accounts", updates, operation="update", method=method)
    assert all(r.ok for r in updated) and [r.id for r in updated] == [r.id for r in created]
    assert (
        sandbox_client.get("accounts", created[1].id, select=["telephone1"])["telephone1"]
        == "555-1"
    )
    keys = [{"accountnumber": f"K {tag} {n}"} for n in range(3)]
    upserted = sandbox_client.write_many(
        "accounts",
        [{"name": f"up-{tag}-{n}"} for n in range(3)],
        operation="upsert",
        keys=keys,
        method=method,
    )
    assert all(r.ok for r in upserted), [r.error for r in upserted]
    again = sandbox_client.write_many(
        "accounts",
        [{"name": f"up2-{tag}-{n}"} for n in range(3)],
        operation="upsert",
        keys=keys,
        method=method,
    )
    assert all(r.ok for r in again)
    assert sorted(_names(sandbox_client, f"up2-{tag}-")) == [f"up2-{tag}-{n}" for n in range(3)]
    assert _names(sandbox_client, f"up-{tag}-") == []
    missing = sandbox_client.write_many(
        "accounts",
        [{"accountid": str(uuid.uuid4()), "name": "ghost"}],
        operation="update",
        method=method,
    )
    assert isinstance(missing[0].error, errors.NotFound)


def test_a_broken_solution_file_is_reported_as_a_failed_import(dataverse_sandbox, tmp_path):
    admin = DataverseClient(
        sandbox_settings(
            dataverse_sandbox,
            tmp_path,
            client_secret="",
            username="admin@sandbox.example",
            password="Sandbox-Admin-1!",
        )
    )
    result = admin.import_solution(b"this is not a zip file")
    assert not result.success
    assert result.message
    admin.close()


def test_parallel_writes_under_throttling_write_every_record_once(sandbox_client, configured):
    prefix = f"thr-{uuid.uuid4().hex[:8]}-"
    sandbox_client.whoami()
    configured.control("config", {"rate_limit_requests": 8, "rate_limit_window_seconds": 2})
    results = sandbox_client.write_many(
        "accounts",
        [{"name": f"{prefix}{n:04d}"} for n in range(1500)],
        chunk_size=50,
        parallelism=4,
        method="batch",
    )
    configured.control("config", {"rate_limit_requests": 0})
    assert all(r.ok for r in results)
    stats = sandbox_client.stats.snapshot()
    assert stats["throttled"] >= 1 and stats["throttle_wait_seconds"] > 0
    names = _names(sandbox_client, prefix)
    assert len(names) == len(set(names)) == 1500


def test_commit_then_fail_delete_counts_as_deleted(sandbox_client, configured):
    account = sandbox_client.create("accounts", {"name": "to delete"})
    configured.control(
        "config",
        {"rules": [{"fault": "commit_then_fail", "method": "DELETE", "path": "accounts\\("}]},
    )
    sandbox_client.delete("accounts", account)
    assert not sandbox_client.exists("accounts", account)
    with pytest.raises(errors.NotFound):
        sandbox_client.delete("accounts", account)  # a plain 404 still is one
