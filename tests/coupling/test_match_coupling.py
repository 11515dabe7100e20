"""Match-based coupling against the live sandbox: unique, missing and ambiguous matches, each
option (synchronize after, create new, case-sensitive), and a run by a real worker."""

import uuid

import pytest

from coupling import selectors, services
from coupling.models import CouplingCandidate, CouplingRun
from syncjobs.models import CrmCoupling, JobRun, RecordChange
from tests.factories.erp import CurrencyFactory, CustomerFactory

pytestmark = [pytest.mark.sandbox]


def _token() -> str:
    return uuid.uuid4().hex[:8].upper()


def _account(sync_setup, **values) -> uuid.UUID:
    return uuid.UUID(sync_setup.crm.create("accounts", {"customertypecode": 3, **values}))


@pytest.fixture
def world(sync_setup, crm_salesperson):
    """Four customers: one matched by number, one by name + city (other case), one with no
    match, one matching two accounts."""
    t = _token()
    by_number = CustomerFactory(no=f"MN{t}", name=f"Numbered {t}", salesperson=crm_salesperson)
    by_name = CustomerFactory(name=f"Named {t}", city="Springfield", salesperson=crm_salesperson)
    alone = CustomerFactory(name=f"Alone {t}", city="Nowhere", salesperson=crm_salesperson)
    twice = CustomerFactory(name=f"Twice {t}", city="Shelbyville", salesperson=crm_salesperson)
    accounts = {
        "number": _account(sync_setup, name=f"Other name {t}", accountnumber=f"MN{t}"),
        "name": _account(sync_setup, name=f"NAMED {t}", address1_city="springfield"),
        "twice_1": _account(sync_setup, name=f"Twice {t}", address1_city="Shelbyville"),
        "twice_2": _account(sync_setup, name=f"Twice {t}", address1_city="Shelbyville"),
        # Same name, another city: not a match for "Named".
        "decoy": _account(sync_setup, name=f"Named {t}", address1_city="Capital City"),
    }
    customers = {"number": by_number, "name": by_name, "alone": alone, "twice": twice}
    return sync_setup.mapping("CUSTOMER"), customers, accounts


def _run(mapping, **options) -> CouplingRun:
    run = services.match_couple(mapping=mapping, **options)
    services.match_couple_run(run_id=run.pk)
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_unique_missing_and_ambiguous_matches(world, sync_setup) -> None:
    mapping, customers, accounts = world
    run = _run(mapping, synch_after=False, create_new=False)  # every uncoupled customer
    assert run.status == CouplingRun.Status.SUCCEEDED, run.message
    assert (run.total, run.done, run.coupled, run.no_match, run.ambiguous, run.created) == (
        4, 4, 2, 1, 1, 0,
    )  # fmt: skip
    coupled = dict(CrmCoupling.objects.values_list("erp_uuid", "crm_id"))
    assert coupled[customers["number"].uuid] == accounts["number"]
    assert coupled[customers["name"].uuid] == accounts["name"]
    assert customers["alone"].uuid not in coupled and customers["twice"].uuid not in coupled
    [ambiguous] = selectors.coupling_candidates(run=run, outcome="ambiguous")
    assert ambiguous.erp_uuid == customers["twice"].uuid
    assert sorted(ambiguous.crm_ids) == sorted(str(accounts[k]) for k in ("twice_1", "twice_2"))
    [missing] = selectors.coupling_candidates(run=run, outcome="no_match")
    assert (missing.erp_uuid, missing.crm_ids) == (customers["alone"].uuid, [])
    assert run.job.kind == JobRun.Kind.COUPLING and run.job.coupled == 2
    assert RecordChange.objects.filter(job=run.job, action="couple").count() == 2
    # Not synchronized: the CRM keeps its own name.
    assert sync_setup.crm.row("accounts", str(accounts["number"]))["name"].startswith("Other")

    # A person picks one of the candidates.
    services.candidate_couple(candidate=ambiguous, crm_id=accounts["twice_2"])
    assert CrmCoupling.objects.get(erp_uuid=customers["twice"].uuid).crm_id == accounts["twice_2"]
    assert not CouplingCandidate.objects.filter(pk=ambiguous.pk).exists()

    # Run again: finished runs are not run twice; a new run finds nothing left but "alone".
    assert services.match_couple_run(run_id=run.pk) is None
    again = _run(mapping, synch_after=False, create_new=False)
    assert (again.total, again.no_match, again.coupled) == (1, 1, 0)


@pytest.mark.django_db
def test_synchronize_after_and_create_new(world, sync_setup) -> None:
    mapping, customers, accounts = world
    chosen = [customers["number"].uuid, customers["alone"].uuid]
    run = _run(mapping, erp_uuids=chosen, synch_after=True, create_new=True)
    assert (run.total, run.done, run.coupled, run.created, run.no_match, run.failed) == (
        2, 2, 1, 1, 0, 0,
    ), run.message  # fmt: skip
    row = sync_setup.crm.row("accounts", str(accounts["number"]))
    assert row["name"] == customers["number"].name  # the ERP's data went after coupling
    created = CrmCoupling.objects.get(erp_uuid=customers["alone"].uuid)
    assert sync_setup.crm.row("accounts", str(created.crm_id))["name"] == customers["alone"].name


@pytest.mark.django_db
def test_case_sensitive_matching_and_chosen_fields(world) -> None:
    mapping, customers, accounts = world
    fields = [("name", "name", True, 1), ("city", "address1_city", False, 1)]
    run = _run(mapping, erp_uuids=[customers["name"].uuid], match_fields=fields)
    assert (run.coupled, run.no_match) == (0, 1)  # "NAMED" is not "Named" when case counts
    fields = [("name", "name", False, 1), ("city", "address1_city", False, 1)]
    run = _run(mapping, erp_uuids=[customers["name"].uuid], match_fields=fields)
    assert run.coupled == 1


@pytest.mark.django_db
def test_match_fields_must_be_plain_values(world) -> None:
    mapping, _customers, _accounts = world
    with pytest.raises(services.MatchFieldInvalid):
        services.match_couple(mapping=mapping, match_fields=[("salesperson", "ownerid", False, 1)])


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_match_based_coupling_runs_in_the_worker(sync_setup, celery_worker_process) -> None:
    token = "".join(c for c in uuid.uuid4().hex.upper() if c.isalpha())[:2].ljust(2, "Q")
    code = f"Y{token}"
    existing = uuid.UUID(
        sync_setup.crm.create(
            "transactioncurrencies",
            {"isocurrencycode": code, "currencyname": f"Worker {code}", "currencysymbol": "W",
             "exchangerate": 2, "currencyprecision": 2},
        )
    )  # fmt: skip
    currency = CurrencyFactory(code=code, description=f"Worker {code}")
    run = services.match_couple(mapping=sync_setup.mapping("CURRENCY"), erp_uuids=[currency.uuid])
    celery_worker_process.wait_for(
        lambda: CouplingRun.objects.get(pk=run.pk).status == CouplingRun.Status.SUCCEEDED
    )
    run.refresh_from_db()
    assert (run.coupled, run.done) == (1, 1), run.message
    assert CrmCoupling.objects.get(erp_uuid=currency.uuid).crm_id == existing
