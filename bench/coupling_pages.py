"""Benchmark: the ERP side of the coupling page of customers, against the bare query.

    .venv/bin/python bench/coupling_pages.py [--customers 100000] [--repeat 30] [--db PATH]

Uses its own throwaway SQLite file (or DATABASE_URL when set), migrates, seeds N customers with
seed_demo (unless the database has customers already), creates the default mappings and
couples every second customer (CrmCoupling rows; of those, 1 in 50 failed, 1 in 100 skipped,
1 in 200 in conflict). Then it requests `/coupling/<CUSTOMER mapping id>/` in-process with the
Django test client as a logged-in salesperson, with no CRM connection saved: the CRM side
answers at once "No CRM connection is set up yet" (one query), so the time is the page's ERP
side (the mapping's counts, one page of records with their couplings, the template).

Cases: the first page, the last page, a search, a sort by a column of the list and by a foreign
key (its last page), and each state filter (coupled, not coupled, failed, skipped, conflict),
then the ERP customer list's "Coupled to Dynamics 365 Sales" filter with each state. Baseline,
measured in the same run: the bare query of the same rows (the page's records alone, no count,
no couplings, no template). Also timed on their own: the
page's record list (`pages.erp_page`) and the mapping's counts (`pages.mapping_counts`).
Prints a table and, as the last line, one JSON object with every figure.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import measure, percentile, seed_customers_once
from django.db.models import Q

BASE_DIR = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 150.0
PER_PAGE = 50
SEARCH = "Leipzig"


def figures(timings: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 95), 2),
    }


def couple_half(customer: Any, crm_coupling: Any, sync_result: Any) -> float | None:
    """Couple every second customer (1 in 50 of them failed, 1 in 100 skipped, 1 in 200 in
    conflict), unless customers are coupled already; the seconds it took."""
    if crm_coupling.objects.filter(erp_table="erp.customer").exists():
        return None
    started = time.perf_counter()
    uuids = customer.objects.order_by("pk").values_list("uuid", flat=True)
    batch = []
    for n, erp_uuid in enumerate(uuids.iterator(chunk_size=5000)):
        if n % 2:
            continue
        k = n // 2
        failed = k % 50 == 7
        batch.append(
            crm_coupling(
                erp_table="erp.customer",
                erp_uuid=erp_uuid,
                crm_entity="account",
                crm_id=uuid.uuid4(),
                last_result_to_crm=sync_result.FAILURE if failed else sync_result.SUCCESS,
                last_error="The CRM refused the record." if failed else "",
                skipped=k % 100 == 13,
                conflict=k % 200 == 29,
            )
        )
        if len(batch) == 5000:
            crm_coupling.objects.bulk_create(batch)
            batch = []
    crm_coupling.objects.bulk_create(batch)
    return time.perf_counter() - started


def print_table(results: list[dict[str, Any]], *, title: str, notes: list[str]) -> None:
    header = (
        f"{'case':<24} {'page p50':>9} {'page p95':>9} {'erp_page p95':>13} "
        f"{'bare p50':>9} {'bare p95':>9} {'page/bare':>9}  target p95<{TARGET_P95_MS:.0f}ms"
    )
    print(f"\n{title}")
    for note in notes:
        print(note)
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['case']:<24} {r['p50_ms']:>9.1f} {r['p95_ms']:>9.1f} "
            f"{r['erp_page_p95_ms']:>13.1f} {r['bare_p50_ms']:>9.1f} {r['bare_p95_ms']:>9.1f} "
            f"{r['ratio_p50']:>8}x  {'ok' if r['meets_target'] else 'MISSED'}"
        )


def bare(
    customer: Any,
    table: Any,
    condition: Any = None,
    *,
    last: bool = False,
    search: str = "",
    order: tuple[str, ...] = (),
) -> Callable[[], object]:
    """The rows of the page by the plainest query: no count, no couplings, no template; in the
    CUSTOMER mapping's scope (customers not blocked), as the page."""

    def run() -> object:
        qs = customer.objects.filter(blocked="")
        if search:
            found = Q()
            for name in table.search_fields:
                found |= Q(**{f"{name}__icontains": search})
            qs = qs.filter(found)
        if condition is not None:
            qs = qs.filter(condition)
        by = order or (("-no", "-pk") if last else ("no", "pk"))
        return list(qs.order_by(*by)[: PER_PAGE + 1])

    return run


def use_database(db: str | None) -> tempfile.TemporaryDirectory[str] | None:
    """A throwaway SQLite file (or `db`) unless DATABASE_URL is set; its folder to clean up."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erpcrm.settings.test")
    if "DATABASE_URL" in os.environ:
        return None
    tmp_dir = None
    if db:
        db_path = Path(db).resolve()
    else:
        tmp_dir = tempfile.TemporaryDirectory(prefix="erpcrm-bench-")
        db_path = Path(tmp_dir.name) / "bench.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    return tmp_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--db", help="SQLite file to use (default: a temporary file)")
    args = parser.parse_args()

    sys.path.insert(0, str(BASE_DIR))
    tmp_dir = use_database(args.db)

    # Forced at startup: models and the test client need django.setup(), which needs the
    # DATABASE_URL chosen above from the command line.
    import django  # noqa: PLC0415

    django.setup()

    from django.contrib.auth.models import Group, User  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415
    from django.db import connection  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415

    from accounts import roles  # noqa: PLC0415
    from connection.models import CrmConnection  # noqa: PLC0415
    from coupling import pages  # noqa: PLC0415
    from erp.models import Customer  # noqa: PLC0415
    from erp.tables import TABLES_BY_SLUG  # noqa: PLC0415
    from syncjobs import services  # noqa: PLC0415
    from syncjobs.defaults import ALL_AREAS  # noqa: PLC0415
    from syncjobs.models import CrmCoupling, IntegrationTableMapping, SyncResult  # noqa: PLC0415

    call_command("migrate", verbosity=0)
    seed_seconds = seed_customers_once(args.customers)
    if not IntegrationTableMapping.objects.filter(name="CUSTOMER").exists():
        services.default_setup_reset(options=services.DefaultSetupOptions(areas=ALL_AREAS))
    mapping = IntegrationTableMapping.objects.get(name="CUSTOMER")
    # The CRM side is not measured: without a saved connection it says so at once.
    CrmConnection.objects.all().delete()

    couple_seconds = couple_half(Customer, CrmCoupling, SyncResult)
    # Fresh statistics (and, on PostgreSQL, a visibility map for index-only scans), as a
    # database that has been running for a while would have them.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    total = Customer.objects.count()
    coupled = CrmCoupling.objects.filter(erp_table="erp.customer").count()

    user, _created = User.objects.get_or_create(username="bench-salesperson")
    user.groups.add(Group.objects.get_or_create(name=roles.SALESPERSON)[0])
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    url = f"/coupling/{mapping.pk}/"
    list_url = "/erp/customers/"
    label = "erp.customer"
    table = TABLES_BY_SLUG["customers"]

    # (name, page, query of the page, baseline)
    cases: list[tuple[str, str, dict[str, str], Callable[[], object]]] = [
        ("first page", url, {}, bare(Customer, table)),
        ("last page", url, {"last": "1"}, bare(Customer, table, last=True)),
        (f"search q={SEARCH}", url, {"q": SEARCH}, bare(Customer, table, search=SEARCH)),
        ("sort -city", url, {"sort": "-city"}, bare(Customer, table, order=("-city", "-pk"))),
        (
            "sort salesperson, last",
            url,
            {"sort": "salesperson", "last": "1"},
            bare(Customer, table, order=("-salesperson_id", "-pk")),
        ),
    ]
    for state in pages.STATES:
        cases.append(
            (
                f"state={state}",
                url,
                {"state": state},
                bare(Customer, table, pages.state_condition(label, state)),
            )
        )
    # The ERP list's "Coupled to Dynamics 365 Sales" filter (the same conditions, through
    # erp.extensions), against the same bare query.
    for state in pages.STATES:
        cases.append(
            (
                f"ERP list coupling={state}",
                list_url,
                {"coupling": state},
                bare(Customer, table, pages.state_condition(label, state)),
            )
        )

    results = []
    for name, page_url, params, baseline in cases:
        response = client.get(page_url, params)
        if response.status_code != 200:
            print(f"{name}: {page_url} answered {response.status_code}", file=sys.stderr)
            return 1

        def erp_part(params: dict[str, str] = params) -> list[Any]:
            return pages.erp_page(
                mapping,
                search=params.get("q", ""),
                state=params.get("state", ""),
                sort=params.get("sort", ""),
                last=params.get("last") == "1",
            ).rows

        expected = baseline()
        assert isinstance(expected, list)
        if page_url == url and len(erp_part()) != min(PER_PAGE, len(expected)):
            print(f"{name}: the page and the bare query disagree", file=sys.stderr)
            return 1

        def page_request(params: dict[str, str] = params, page_url: str = page_url) -> None:
            client.get(page_url, params)

        page_ms = measure(page_request, args.repeat)
        # The coupling page's record list alone; the ERP list pages have none of their own.
        erp_ms = measure(erp_part, args.repeat) if page_url == url else [0.0]
        bare_ms = measure(baseline, args.repeat)
        result: dict[str, object] = {
            "case": name,
            **figures(page_ms),
            "erp_page_p50_ms": figures(erp_ms)["p50_ms"],
            "erp_page_p95_ms": figures(erp_ms)["p95_ms"],
            "bare_p50_ms": figures(bare_ms)["p50_ms"],
            "bare_p95_ms": figures(bare_ms)["p95_ms"],
            "ratio_p50": round(
                statistics.median(page_ms) / max(statistics.median(bare_ms), 0.001), 1
            ),
            "meets_target": percentile(page_ms, 95) < TARGET_P95_MS,
        }
        results.append(result)
    counts_ms = measure(lambda: pages.mapping_counts(mapping), args.repeat)

    notes = [f"seed_demo took {seed_seconds:.1f} s"] if seed_seconds is not None else []
    if couple_seconds is not None:
        notes.append(f"the couplings took {couple_seconds:.1f} s")
    print_table(
        results,
        title=f"{total:,} customers ({coupled:,} coupled), {connection.vendor}, "
        f"{args.repeat} requests per case (ms)",
        notes=notes,
    )
    counts = figures(counts_ms)
    print(
        f"the mapping's counts alone (every case pays them): p50 {counts['p50_ms']:.1f} ms, "
        f"p95 {counts['p95_ms']:.1f} ms"
    )
    summary = {
        "benchmark": "coupling_pages",
        "url": url,
        "customers": total,
        "coupled": coupled,
        "database": connection.vendor,
        "repeat": args.repeat,
        "seed_seconds": round(seed_seconds, 2) if seed_seconds is not None else None,
        "target_p95_ms": TARGET_P95_MS,
        "all_meet_target": all(r["meets_target"] for r in results),
        "mapping_counts_p50_ms": counts["p50_ms"],
        "mapping_counts_p95_ms": counts["p95_ms"],
        "cases": results,
    }
    print(json.dumps(summary))
    if tmp_dir is not None:
        connection.close()
        tmp_dir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
