"""The engine against the live sandbox: create, update, unchanged, lookups, no echo."""

import uuid
from decimal import Decimal

import pytest

from erp.models import Currency
from syncjobs import services
from syncjobs.engine import synchronize
from syncjobs.engine.erp import ErpTable
from syncjobs.engine.preview import compare
from syncjobs.models import CrmCoupling, IntegrationTableMapping, JobRun, RecordChange
from tests.factories.erp import CurrencyFactory
from tests.support.sandbox import Crm

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


@pytest.fixture
def mappings(saved_connection):
    services.default_setup_reset(
        options=services.DefaultSetupOptions(areas=["currencies", "customers", "items", "units"])
    )
    return {m.name: m for m in IntegrationTableMapping.objects.all()}


def test_currency_is_created_then_updated_then_unchanged(mappings, sandbox) -> None:
    currency = CurrencyFactory(
        code="XQA", description="Quatloo", symbol="Q", exchange_rate=Decimal("2.5")
    )
    result = synchronize(mappings["CURRENCY"], full=True)
    job = result.jobs[0]
    assert (job.inserted, job.failed, job.status) == (1, 0, JobRun.Status.SUCCEEDED), job.message
    coupling = CrmCoupling.objects.get(erp_uuid=currency.uuid)
    crm = Crm(sandbox)
    row = crm.row("transactioncurrencies", str(coupling.crm_id))
    assert (row["isocurrencycode"], row["currencyname"], row["currencysymbol"]) == (
        "XQA",
        "Quatloo",
        "Q",
    )
    assert Decimal(str(row["exchangerate"])) == Decimal("2.5")

    currency.description = "Quatloo Dollar"
    currency.save()
    job = synchronize(mappings["CURRENCY"]).jobs[0]
    assert (job.modified, job.inserted) == (1, 0), job.message
    assert (
        crm.row("transactioncurrencies", str(coupling.crm_id))["currencyname"] == "Quatloo Dollar"
    )
    change = RecordChange.objects.get(job=job, action="modify")
    assert {
        "erp_field": "description",
        "crm_field": "currencyname",
        "old": "Quatloo",
        "new": "Quatloo Dollar",
    } in change.fields

    job = synchronize(mappings["CURRENCY"]).jobs[0]
    assert (job.modified, job.inserted, job.failed) == (0, 0, 0)


def test_a_currency_that_exists_in_the_crm_is_coupled_not_duplicated(mappings, sandbox) -> None:
    crm = Crm(sandbox)
    existing = crm.create(
        "transactioncurrencies",
        {
            "isocurrencycode": "XQB",
            "currencyname": "Old name",
            "currencysymbol": "B",
            "exchangerate": 3,
            "currencyprecision": 2,
        },
    )
    currency = CurrencyFactory(
        code="XQB", description="Bee", symbol="B", exchange_rate=Decimal("3")
    )
    job = synchronize(mappings["CURRENCY"], full=True).jobs[0]
    assert (job.coupled, job.inserted, job.modified, job.failed) == (1, 0, 1, 0), job.message
    assert str(CrmCoupling.objects.get(erp_uuid=currency.uuid).crm_id) == existing
    assert crm.row("transactioncurrencies", existing)["currencyname"] == "Bee"
    rows = crm.all_rows("transactioncurrencies", "?$filter=isocurrencycode eq 'XQB'")
    assert len(rows) == 1


def test_compare_shows_both_sides_field_by_field_and_writes_nothing(mappings, sandbox) -> None:
    crm = Crm(sandbox)
    crm_id = crm.create(
        "transactioncurrencies",
        {
            "isocurrencycode": "XPV",
            "currencyname": "CRM name",
            "currencysymbol": "P",
            "exchangerate": 2,
            "currencyprecision": 2,
        },
    )
    currency = CurrencyFactory(
        code="XPV", description="ERP name", symbol="P", exchange_rate=Decimal("2")
    )
    result = compare(mappings["CURRENCY"], erp_uuid=currency.uuid, crm_id=uuid.UUID(crm_id))
    by_field = {f.crm_field: f for f in result.fields}
    assert (by_field["currencyname"].erp, by_field["currencyname"].crm) == ("ERP name", "CRM name")
    assert [f.crm_field for f in result.differences] == ["currencyname"]
    assert not CrmCoupling.objects.exists()


def test_chunks_read_every_changed_record_once_when_many_share_an_instant(
    mappings, settings
) -> None:
    settings.SYNC_CHUNK_SIZE = 3
    made = [CurrencyFactory(code=f"XK{chr(65 + n)}") for n in range(7)]
    Currency.objects.filter(pk__in=[c.pk for c in made[:5]]).update(description="same instant")
    seen = [r.pk for chunk in ErpTable("erp.Currency").iter_changed(None, 3) for r in chunk]
    assert sorted(seen) == sorted(c.pk for c in made) and len(seen) == len(set(seen))
    job = synchronize(mappings["CURRENCY"], full=True).jobs[0]
    assert (job.inserted, job.failed) == (7, 0), job.message
