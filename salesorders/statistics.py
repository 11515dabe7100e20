"""Customer statistics in the CRM ("CRM Statistics Job", every 30 minutes;
docs/reference/business-central.md §7.4).

For every coupled customer the ERP's figures, computed from its sales documents, go to the
account's statistics: the integration solution's table `erpcrm_accountstatistics` (one row per
account, pointing at it through `erpcrm_accountid`), as the reference's solution keeps them in
its own Account Statistics table rather than on the account. Amounts are in the local currency
(LCY): a document in a foreign currency counts at its currency's exchange rate.

- Outstanding orders: what the sales order lines still have to ship.
- Shipped not invoiced: what was shipped and not yet invoiced.
- Outstanding invoices and balance: the posted invoices; this ERP records no payments, so
  nothing of an invoice is paid yet and the balance is what the invoices add up to.
- Total: balance + outstanding orders + shipped not invoiced (the reference's Total (LCY)).

A customer is written when its figures differ from those last written (`CustomerStatisticsSent`),
so a run after a new invoice writes that customer alone. The statistics row's id is derived from
the account's: written as an upsert, it is never created twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from connection import selectors as connection_selectors
from connection import services as connection_services
from connection.clients import client_get
from dataverse import errors as dv
from dataverse.client import DataverseClient
from erp.models import Currency, Customer, PostedSalesInvoice, SalesOrderLine
from syncjobs import services as sync_services
from syncjobs.defaults import CUSTOMER_STATISTICS_JOB
from syncjobs.models import CrmCoupling, JobRun, SyncError

from .models import CustomerStatisticsSent

STATISTICS = CUSTOMER_STATISTICS_JOB.name
ERP_CUSTOMER, CRM_ACCOUNT = "erp.customer", "account"
TABLE = ("erpcrm_accountstatisticses", "erpcrm_accountstatistics", "erpcrm_accountstatisticsid")
STATISTICS_NAMESPACE = uuid.UUID("8d7e0b8e-2f4c-4a57-9d43-51c0d0f3b6a2")
CENT = Decimal("0.01")
CUSTOMERS_PER_QUERY = 500
UNAVAILABLE = (dv.AuthenticationFailed, dv.ConnectionFailed, dv.Throttled, dv.Forbidden)
# Figure -> column of the statistics table
COLUMNS = {
    "balance": "erpcrm_balance",
    "outstanding_orders": "erpcrm_outstandingorders",
    "shipped_not_invoiced": "erpcrm_shippednotinvoiced",
    "outstanding_invoices": "erpcrm_outstandinginvoices",
    "total": "erpcrm_total",
    "credit_limit": "erpcrm_creditlimit",
    "total_sales": "erpcrm_totalsales",
}


@dataclass(frozen=True)
class CustomerStatistics:
    customer_no: str
    balance: Decimal
    outstanding_orders: Decimal
    shipped_not_invoiced: Decimal
    outstanding_invoices: Decimal
    total: Decimal
    credit_limit: Decimal
    total_sales: Decimal

    def as_json(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in ("customer_no", *COLUMNS)}


def _lcy(amount: Any, rate: Decimal | None) -> Decimal:
    value = Decimal(str(amount or 0))
    if rate:
        value = value / rate
    return value


def customer_statistics_compute(*, customer_ids: Iterable[int]) -> dict[int, CustomerStatistics]:
    """The statistics of these customers (by pk), from their orders and posted invoices."""
    ids = list(customer_ids)
    rates = dict(Currency.objects.values_list("pk", "exchange_rate"))
    figures: dict[int, dict[str, Decimal]] = {
        pk: {"outstanding": Decimal(0), "shipped": Decimal(0), "invoiced": Decimal(0)} for pk in ids
    }
    money = DecimalField(max_digits=30, decimal_places=10)
    lines = (
        SalesOrderLine.objects.filter(order__customer_id__in=ids, quantity__gt=0)
        .values("order__customer_id", "order__currency_id")
        .annotate(
            outstanding=Sum(
                ExpressionWrapper(
                    (F("quantity") - F("quantity_shipped")) * F("line_amount") / F("quantity"),
                    output_field=money,
                )
            ),
            shipped=Sum(
                ExpressionWrapper(
                    (F("quantity_shipped") - F("quantity_invoiced"))
                    * F("line_amount")
                    / F("quantity"),
                    output_field=money,
                )
            ),
        )
    )
    for row in lines:
        rate = rates.get(row["order__currency_id"])
        entry = figures[row["order__customer_id"]]
        entry["outstanding"] += _lcy(row["outstanding"], rate)
        entry["shipped"] += _lcy(row["shipped"], rate)
    invoices = (
        PostedSalesInvoice.objects.filter(customer_id__in=ids)
        .values("customer_id", "currency_id")
        .annotate(total=Sum("amount"))
    )
    for invoice_row in invoices:
        figures[invoice_row["customer_id"]]["invoiced"] += _lcy(
            invoice_row["total"], rates.get(invoice_row["currency_id"])
        )
    result = {}
    for pk, no, credit_limit in Customer.objects.filter(pk__in=ids).values_list(
        "pk", "no", "credit_limit"
    ):
        entry = {k: v.quantize(CENT) for k, v in figures[pk].items()}
        balance = entry["invoiced"]
        result[pk] = CustomerStatistics(
            customer_no=no,
            balance=balance,
            outstanding_orders=entry["outstanding"],
            shipped_not_invoiced=entry["shipped"],
            outstanding_invoices=balance,
            total=balance + entry["outstanding"] + entry["shipped"],
            credit_limit=Decimal(credit_limit).quantize(CENT),
            total_sales=entry["invoiced"],
        )
    return result


def statistics_row_id(account_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(STATISTICS_NAMESPACE, str(account_id))


def _write(
    client: DataverseClient, account_id: uuid.UUID, stats: CustomerStatistics, now: str
) -> None:
    body: dict[str, Any] = {
        "erpcrm_name": _("Customer %(no)s") % {"no": stats.customer_no},
        "erpcrm_customerno": stats.customer_no,
        "erpcrm_asofdate": now,
        "erpcrm_accountid@odata.bind": f"/accounts({account_id})",
    }
    for name, column in COLUMNS.items():
        body[column] = float(getattr(stats, name))
    client.register_table(*TABLE)
    client.upsert(TABLE[0], statistics_row_id(account_id), body)


@dataclass
class StatisticsOutcome:
    run: JobRun
    updated: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class _Stop(Exception):
    pass


def customer_statistics_push(
    *, run: JobRun, customer_uuids: Iterable[uuid.UUID] | None = None
) -> StatisticsOutcome:
    """Write the changed statistics of every coupled customer (or of `customer_uuids`) to the
    CRM; one JobRun (modified = accounts written, unchanged, failed)."""
    outcome = StatisticsOutcome(run=run)
    connection = connection_selectors.crm_connection_settings()
    if connection is None:
        sync_services.job_run_finish(
            run=run, status=JobRun.Status.SKIPPED, message=_("No CRM connection is set up.")
        )
        return outcome
    client = client_get(settings=connection)
    couplings = CrmCoupling.objects.filter(
        erp_table=ERP_CUSTOMER,
        crm_entity=CRM_ACCOUNT,
        state=CrmCoupling.State.COUPLED,
        skipped=False,
    )
    if customer_uuids is not None:
        couplings = couplings.filter(erp_uuid__in=list(customer_uuids))
    accounts = dict(couplings.values_list("erp_uuid", "crm_id"))
    wanted = list(accounts)
    now = timezone.now()
    try:
        for start in range(0, len(wanted), CUSTOMERS_PER_QUERY):
            chunk = wanted[start : start + CUSTOMERS_PER_QUERY]
            pks = dict(Customer.objects.filter(uuid__in=chunk).values_list("pk", "uuid"))
            sent = {
                s.erp_uuid: s for s in CustomerStatisticsSent.objects.filter(erp_uuid__in=chunk)
            }
            computed = customer_statistics_compute(customer_ids=pks)
            for pk, stats in computed.items():
                erp_uuid = pks[pk]
                account_id = accounts[erp_uuid]
                values = stats.as_json()
                previous = sent.get(erp_uuid)
                if (
                    previous is not None
                    and previous.values == values
                    and previous.crm_id == account_id
                ):
                    run.unchanged += 1
                    continue
                try:
                    _write(client, account_id, stats, now.isoformat())
                except dv.Forbidden as exc:
                    connection_services.connection_disable_for_error(error=exc)
                    raise _Stop(str(exc)) from exc
                except UNAVAILABLE as exc:
                    raise _Stop(str(exc)) from exc
                except dv.NotFound as exc:
                    # No statistics table (the solution is not imported): every account fails.
                    raise _Stop(
                        _(
                            "The CRM has no account statistics table: import the integration "
                            "solution (setup wizard). %(error)s"
                        )
                        % {"error": exc}
                    ) from exc
                except dv.DataverseError as exc:
                    run.failed += 1
                    outcome.failed.append(f"{stats.customer_no}: {exc}")
                    SyncError.objects.create(
                        job=run,
                        erp_table=ERP_CUSTOMER,
                        erp_uuid=erp_uuid,
                        crm_entity=CRM_ACCOUNT,
                        crm_id=account_id,
                        source=stats.customer_no,
                        message=str(exc),
                    )
                    continue
                CustomerStatisticsSent.objects.update_or_create(
                    erp_uuid=erp_uuid,
                    defaults={"crm_id": account_id, "values": values, "sent_at": now},
                )
                run.modified += 1
                outcome.updated.append(stats.customer_no)
    except _Stop as exc:
        run.failed += 1
        outcome.failed.append(str(exc))
        _finish(outcome, JobRun.Status.FAILED)
        return outcome
    except BaseException as exc:
        run.save(update_fields=["modified", "unchanged", "failed"])
        sync_services.job_run_finish(
            run=run, status=JobRun.Status.FAILED, message=f"interrupted: {exc!r}"
        )
        raise
    _finish(outcome, JobRun.Status.FAILED if outcome.failed else JobRun.Status.SUCCEEDED)
    return outcome


def _finish(outcome: StatisticsOutcome, status: str) -> None:
    run = outcome.run
    run.save(update_fields=["modified", "unchanged", "failed"])
    message = _("Updated account statistics: %(count)s account(s).") % {"count": run.modified}
    if outcome.failed:
        message += " " + _("Failed: %(list)s") % {"list": "; ".join(outcome.failed[:20])}
    sync_services.job_run_finish(run=run, status=status, message=message)


def customer_statistics_run(
    *, customer_uuids: Iterable[uuid.UUID] | None = None
) -> StatisticsOutcome:
    """One run of the statistics job, recorded as a JobRun."""
    run = sync_services.job_run_start(job_name=STATISTICS)
    return customer_statistics_push(run=run, customer_uuids=customer_uuids)
