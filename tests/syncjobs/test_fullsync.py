"""Full synchronization (syncjobs/fullsync.py): the lines and their recommendations from both
sides' counts, the order of the lines, blocking and restarting, one run at a time, the review
page, its JSON status and the REST API."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from accounts import roles
from connection.models import CrmConnection, OwnerMode
from syncjobs import fullsync, services
from syncjobs.engine.run import EngineResult, MappingBusy
from syncjobs.models import (
    Direction,
    FullSyncLine,
    FullSyncRun,
    IntegrationTableMapping,
    JobRun,
    Recommendation,
)
from tests.factories.accounts import UserFactory
from tests.factories.erp import CurrencyFactory, CustomerFactory

Status = FullSyncLine.Status


# --- lines and recommendations against the live sandbox ------------------------------------


@pytest.mark.sandbox
@pytest.mark.django_db
def test_lines_follow_the_reference_rules_with_both_sides_counts(sync_setup, crm_salesperson):
    CustomerFactory.create_batch(3)
    for name in ("Both sides A", "Both sides B"):
        sync_setup.crm.create("accounts", {"name": name, "customertypecode": 3})
    run = fullsync.fullsync_prepare()

    lines = {line.name: line for line in run.lines.all()}
    scheduled = IntegrationTableMapping.objects.filter(enabled=True, has_scheduled_job=True)
    # Posted sales invoices are in (§4.2), their lines (a child mapping) run with them.
    assert set(lines) == {m.name for m in scheduled}
    assert "POSTEDSALESINV-INV" in lines and "POSTEDSALESLINE-INV" not in lines
    assert {"PAYMENT TERMS", "SHIPMENT METHOD", "SHIPPING AGENT", "SALESPEOPLE"} <= set(lines)
    customer = lines["CUSTOMER"]
    assert customer.dependency_filter == (
        "SALESPEOPLE|CURRENCY|PAYMENT TERMS|SHIPMENT METHOD|SHIPPING AGENT"
    )
    assert customer.direction == Direction.BIDIRECTIONAL
    assert customer.erp_count == 3
    mapping = sync_setup.mapping("CUSTOMER")
    accounts = sync_setup.crm.all_rows(
        "accounts", f"?$select=accountid&$filter={mapping.integration_table_filter}"
    )
    assert customer.crm_count == len(accounts) >= 2
    # Both sides hold customers: couple first.
    assert customer.recommendation == Recommendation.COUPLE
    assert lines["SALESPEOPLE"].recommendation == Recommendation.FULL_SYNC
    assert lines["SALESPEOPLE"].erp_count == 1
    assert run.status == FullSyncRun.Status.READY
    assert all(line.status == Status.NOT_STARTED for line in lines.values())


@pytest.mark.sandbox
@pytest.mark.django_db
def test_customers_on_one_side_only_are_recommended_a_full_synchronization(sync_setup):
    sync_setup.crm.create("accounts", {"name": "CRM only", "customertypecode": 3})
    run = fullsync.fullsync_prepare(only=["CUSTOMER", "CURRENCY"])

    customer = run.lines.get(name="CUSTOMER")
    assert customer.erp_count == 0 and customer.crm_count > 0
    assert customer.recommendation == Recommendation.FULL_SYNC
    # Only the mappings of the run count as dependencies.
    assert customer.dependency_filter == "CURRENCY"


@pytest.mark.sandbox
@pytest.mark.django_db
def test_team_ownership_leaves_salespeople_out(sync_setup):
    sync_setup.connection.owner_mode = OwnerMode.DEFAULT_OWNER
    sync_setup.connection.save()

    run = fullsync.fullsync_prepare()

    assert not run.lines.filter(name="SALESPEOPLE").exists()
    assert "SALESPEOPLE" not in run.lines.get(name="CUSTOMER").dependency_filter


def _mapping(name: str, crm_entity: str = "account", uid_type: str = "guid"):
    return IntegrationTableMapping(name=name, crm_entity=crm_entity, crm_uid_type=uid_type)


@pytest.mark.parametrize(
    ("mapping", "erp", "crm", "single", "expected"),
    [
        (_mapping("CUSTOMER"), 0, 0, False, Recommendation.NO_RECORDS),
        (_mapping("CUSTOMER"), 5, 0, False, Recommendation.FULL_SYNC),
        (_mapping("CUSTOMER"), 0, 5, False, Recommendation.FULL_SYNC),
        (_mapping("CUSTOMER"), 5, 5, False, Recommendation.COUPLE),
        (_mapping("CUSTOMER"), 5, None, False, Recommendation.UNKNOWN),
        (_mapping("SALESPEOPLE", "systemuser"), 5, 5, False, Recommendation.FULL_SYNC),
        (_mapping("CURRENCY", "transactioncurrency"), 3, 1, True, Recommendation.FULL_SYNC),
        (_mapping("CURRENCY", "transactioncurrency"), 3, 2, False, Recommendation.COUPLE),
        (_mapping("UNIT OF MEASURE", "uomschedule"), 0, 1, False, Recommendation.NO_RECORDS),
        (_mapping("UNIT OF MEASURE", "uomschedule"), 2, 3, False, Recommendation.COUPLE),
        (_mapping("UNIT OF MEASURE", "uomschedule"), 2, 1, False, Recommendation.FULL_SYNC),
        (_mapping("PAYMENT TERMS", uid_type="option"), 0, 4, False, Recommendation.NO_RECORDS),
        (_mapping("PAYMENT TERMS", uid_type="option"), 2, 0, False, Recommendation.COUPLE),
    ],
)
def test_recommendation_rules(mapping, erp, crm, single, expected):
    counts = fullsync.Counts(erp=erp, crm=crm, crm_single_base_currency=single)
    assert fullsync.recommendation_of(mapping=mapping, counts=counts) == expected


# --- order, blocking, retries and restart (the task's service, in process) ----------------


@pytest.fixture
def two_lines(db):
    """CURRENCY and CUSTOMER (which depends on it), without a CRM connection: no counts."""
    services.default_setup_reset(
        options=services.DefaultSetupOptions(areas=["currencies", "customers"])
    )
    return fullsync.fullsync_prepare(only=["CURRENCY", "CUSTOMER"])


def _job(mapping, direction, status=JobRun.Status.SUCCEEDED, message="", **counts):
    return JobRun.objects.create(
        job_name=mapping.name,
        mapping=mapping,
        kind=JobRun.Kind.SYNCHRONIZATION,
        direction=direction,
        full=True,
        status=status,
        message=message,
        **counts,
    )


def _engine(monkeypatch, outcome):
    """The engine's full run answers with `outcome(mapping)`: a list of job runs or an
    exception; the calls are recorded."""
    calls = []

    def fake(mapping):
        calls.append(mapping.name)
        result = outcome(mapping)
        if isinstance(result, Exception):
            raise result
        return EngineResult(jobs=result)

    monkeypatch.setattr(fullsync, "engine_synchronize", fake)
    return calls


def _line(run, name):
    return run.lines.get(name=name)


def test_a_line_starts_when_its_dependencies_have_finished(two_lines, monkeypatch):
    calls = _engine(monkeypatch, lambda m: [_job(m, Direction.TO_CRM, inserted=2)])
    run = fullsync.fullsync_start(run=two_lines)

    assert run.status == FullSyncRun.Status.RUNNING
    assert _line(run, "CURRENCY").status == Status.READY
    customer = _line(run, "CUSTOMER")
    assert (customer.status, customer.message) == (Status.ON_HOLD, "Waiting for CURRENCY.")

    fullsync.line_run(line_id=_line(run, "CURRENCY").pk)
    currency = _line(run, "CURRENCY")
    assert currency.status == Status.FINISHED and currency.to_crm_job.inserted == 2
    assert _line(run, "CUSTOMER").status == Status.READY

    fullsync.line_run(line_id=_line(run, "CUSTOMER").pk)
    run.refresh_from_db()
    assert run.status == FullSyncRun.Status.FINISHED
    assert calls == ["CURRENCY", "CUSTOMER"]
    # A task delivered again for a finished line does nothing.
    assert fullsync.line_run(line_id=currency.pk).status == ""
    assert calls == ["CURRENCY", "CUSTOMER"]


def test_a_failed_line_blocks_its_dependants_until_it_is_restarted(two_lines, monkeypatch):
    broken = [True]

    def outcome(mapping):
        if broken[0]:
            return [
                _job(
                    mapping,
                    Direction.TO_CRM,
                    JobRun.Status.FAILED,
                    "stopped: The ERP table filter cannot be applied",
                )
            ]
        return [_job(mapping, Direction.TO_CRM, modified=1)]

    calls = _engine(monkeypatch, outcome)
    run = fullsync.fullsync_start(run=two_lines)
    fullsync.line_run(line_id=_line(run, "CURRENCY").pk)

    currency, customer = _line(run, "CURRENCY"), _line(run, "CUSTOMER")
    assert currency.status == Status.ERROR and "cannot be applied" in currency.message
    assert (customer.status, customer.message) == (
        Status.ON_HOLD,
        "Blocked: CURRENCY failed; restart it.",
    )
    run.refresh_from_db()
    assert run.status == FullSyncRun.Status.ERROR
    assert calls == ["CURRENCY"]

    broken[0] = False
    fullsync.line_restart(line=currency)
    run.refresh_from_db()
    assert run.status == FullSyncRun.Status.RUNNING
    assert _line(run, "CURRENCY").status == Status.READY
    assert _line(run, "CUSTOMER").message == "Waiting for CURRENCY."
    fullsync.line_run(line_id=currency.pk)
    fullsync.line_run(line_id=customer.pk)
    run.refresh_from_db()
    assert run.status == FullSyncRun.Status.FINISHED
    assert calls == ["CURRENCY", "CURRENCY", "CUSTOMER"]


def test_a_crm_that_does_not_answer_is_retried_then_fails_the_line(
    two_lines, monkeypatch, settings
):
    settings.FULLSYNC_MAX_ATTEMPTS = 3
    settings.FULLSYNC_RETRY_BACKOFF_SECONDS = 10
    _engine(
        monkeypatch,
        lambda m: [
            _job(
                m,
                Direction.TO_CRM,
                JobRun.Status.FAILED,
                "stopped: the CRM did not answer: 503 Service Unavailable",
            )
        ],
    )
    run = fullsync.fullsync_start(run=two_lines)
    currency = _line(run, "CURRENCY")

    delays = [fullsync.line_run(line_id=currency.pk).retry_in for _ in range(3)]

    assert delays == [10, 20, None]
    currency.refresh_from_db()
    assert currency.status == Status.ERROR and currency.attempts == 3
    assert currency.message.startswith("stopped: the CRM did not answer")


def test_a_busy_mapping_is_tried_again_later_without_counting_an_attempt(two_lines, monkeypatch):
    _engine(monkeypatch, lambda m: MappingBusy("CURRENCY is being synchronized already."))
    run = fullsync.fullsync_start(run=two_lines)
    currency = _line(run, "CURRENCY")

    outcome = fullsync.line_run(line_id=currency.pk)

    currency.refresh_from_db()
    assert outcome.retry_in == 1
    assert (currency.status, currency.attempts) == (Status.READY, 0)
    assert "being synchronized already" in currency.message


def test_a_line_taken_by_a_live_process_is_not_run_twice(two_lines, monkeypatch):
    calls = _engine(monkeypatch, lambda m: [_job(m, Direction.TO_CRM)])
    run = fullsync.fullsync_start(run=two_lines)
    currency = _line(run, "CURRENCY")
    FullSyncLine.objects.filter(pk=currency.pk).update(
        status=Status.IN_PROCESS, running_by=fullsync._owner()
    )
    assert fullsync.line_run(line_id=currency.pk).status == ""
    # Its process died (kill -9): the task delivered again takes the line over.
    FullSyncLine.objects.filter(pk=currency.pk).update(running_by=f"{fullsync._owner()}999999")
    monkeypatch.setattr(fullsync, "_process_gone", lambda holder: True)
    assert fullsync.line_run(line_id=currency.pk).status == Status.FINISHED
    assert calls == ["CURRENCY"]


# --- one at a time ----------------------------------------------------------------------------


def test_a_second_start_is_refused(two_lines, monkeypatch):
    fullsync.fullsync_start(run=two_lines)

    with pytest.raises(fullsync.FullSyncBusy, match="running already"):
        fullsync.fullsync_prepare()
    with pytest.raises(fullsync.FullSyncBusy, match="running already"):
        fullsync.fullsync_start()
    # Even past the services, the database holds one running full synchronization.
    other = FullSyncRun.objects.create(status=FullSyncRun.Status.READY)
    with pytest.raises(fullsync.FullSyncBusy):
        fullsync.fullsync_start(run=other)
    with pytest.raises(IntegrityError), transaction.atomic():
        FullSyncRun.objects.filter(pk=other.pk).update(status=FullSyncRun.Status.RUNNING)


def test_the_page_refuses_a_second_start_with_a_clear_message(two_lines, client: Client):
    fullsync.fullsync_start(run=two_lines)
    client.force_login(UserFactory(roles=[roles.INTEGRATION_ADMIN]))

    response = client.post("/sync/full/prepare/", follow=True)

    assert "A full synchronization is running already" in response.content.decode()
    assert FullSyncRun.objects.count() == 1


# --- pages, JSON status, REST API ----------------------------------------------------------


def test_the_review_page_shows_the_lines_and_the_confirmation_names_both_sides(
    two_lines, client: Client
):
    FullSyncLine.objects.filter(run=two_lines, name="CUSTOMER").update(
        erp_count=4, crm_count=7, recommendation=Recommendation.COUPLE
    )
    client.force_login(UserFactory(roles=[roles.INTEGRATION_ADMIN]))

    page = client.get("/sync/full/").content.decode()
    assert 'data-name="CURRENCY"' in page and 'data-name="CUSTOMER"' in page
    assert "js/fullsync.js" in page and 'id="fullsync-start"' in page
    assert "Couple records first" in page
    customer = two_lines.lines.get(name="CUSTOMER").mapping_id
    # Accepting the recommendation: the line links to its mapping's match-based coupling.
    assert f'href="/coupling/{customer}/match/"' in page
    assert page.count('class="small couple-first"') == 1

    confirm = client.get("/sync/full/start/").content.decode()
    assert "creates duplicates" in confirm
    assert "CUSTOMER: 4 ERP records, 7 CRM rows" in confirm

    response = client.post("/sync/full/start/", {"confirm": "yes"})
    assert response.status_code == 302
    two_lines.refresh_from_db()
    assert two_lines.status == FullSyncRun.Status.RUNNING


def test_the_json_status_has_the_lines_with_progress_and_job_links(two_lines, client: Client):
    run = fullsync.fullsync_start(run=two_lines)
    currency = _line(run, "CURRENCY")
    mapping = currency.mapping
    FullSyncLine.objects.filter(pk=currency.pk).update(
        status=Status.IN_PROCESS, erp_count=10, started_at=run.started_at
    )
    job = _job(mapping, Direction.TO_CRM, JobRun.Status.RUNNING, inserted=3, unchanged=1)
    client.force_login(UserFactory(roles=[roles.SUPPORT]))

    data = client.get("/sync/full/status.json").json()

    assert data["run"]["status"] == "running"
    line = next(row for row in data["lines"] if row["name"] == "CURRENCY")
    assert (line["status"], line["done"], line["total"], line["percent"]) == (
        "in_process",
        4,
        10,
        40,
    )
    assert line["to_crm_job"]["id"] == job.pk
    assert line["to_crm_job"]["url"] == f"/sync/runs/{job.pk}/"
    assert client.get(line["to_crm_job"]["url"]).status_code == 200
    customer = next(row for row in data["lines"] if row["name"] == "CUSTOMER")
    assert (customer["status"], customer["message"]) == ("on_hold", "Waiting for CURRENCY.")


@pytest.mark.parametrize(
    ("role", "read", "act"),
    [
        (roles.INTEGRATION_ADMIN, 200, 302),
        (roles.SUPPORT, 200, 403),
        (roles.SALESPERSON, 403, 403),
    ],
)
def test_permissions_per_role(two_lines, client: Client, role, read, act):
    client.force_login(UserFactory(roles=[role]))
    assert client.get("/sync/full/").status_code == read
    assert client.get("/sync/full/status.json").status_code == read
    api = APIClient()
    api.force_login(UserFactory(username=f"api-{role[:5]}", roles=[role]))
    assert api.get("/api/integration/full-sync/").status_code == read
    assert client.get("/sync/full/start/").status_code in (act, 200)
    assert client.post("/sync/full/prepare/").status_code == act


def test_anonymous_callers_are_turned_away(two_lines, client: Client):
    assert client.get("/sync/full/").status_code == 302
    assert APIClient().get("/api/integration/full-sync/").status_code == 401


def test_the_rest_api_gives_the_current_run_and_is_in_the_schema(two_lines):
    api = APIClient()
    api.force_login(UserFactory(roles=[roles.SUPPORT]))

    data = api.get("/api/integration/full-sync/").json()

    assert data["run"]["id"] == two_lines.pk and data["run"]["status"] == "ready"
    assert [line["name"] for line in data["lines"]] == ["CURRENCY", "CUSTOMER"]
    assert data["lines"][1]["dependency_filter"] == "CURRENCY"
    schema = api.get("/api/schema/", {"format": "json"}).json()
    assert "/api/integration/full-sync/" in schema["paths"]


def test_the_connection_page_and_the_setup_end_show_the_state(two_lines, client: Client):
    CrmConnection.objects.create(
        pk=1, environment_url="https://x.crm.dynamics.com", token_url="https://l/t", client_id="c"
    )
    client.force_login(UserFactory(roles=[roles.INTEGRATION_ADMIN]))
    fullsync.fullsync_start(run=two_lines)

    page = client.get("/connection/").content.decode()
    assert 'id="fullsync-status"' in page and "Running: 0 of 2 mappings finished." in page
    assert "/sync/full/" in page
    done = client.get("/setup/complete/").content.decode()
    assert 'id="fullsync-offer"' in done and "/sync/full/" in done


def test_the_setup_end_offers_to_start_it(db, client: Client):
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=["currencies"]))
    CurrencyFactory()
    client.force_login(UserFactory(roles=[roles.INTEGRATION_ADMIN]))

    page = client.get("/setup/complete/").content.decode()
    assert 'action="/sync/full/prepare/"' in page
    response = client.post("/sync/full/prepare/", {"next": "start"})

    assert response["Location"] == "/sync/full/start/"
    assert FullSyncRun.objects.get().lines.get().name == "CURRENCY"


def test_the_command_refuses_while_one_is_running(two_lines):
    fullsync.fullsync_start(run=two_lines)

    with pytest.raises(CommandError, match="running already"):
        call_command("fullsync", stdout=StringIO())


def test_the_command_refuses_an_unknown_mapping(two_lines):
    with pytest.raises(CommandError, match="NOPE"):
        call_command("fullsync", "--only", "NOPE", stdout=StringIO())
