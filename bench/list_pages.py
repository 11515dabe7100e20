"""Benchmark: server time of the customer list page against the bare database query.

    .venv/bin/python bench/list_pages.py [--customers 100000] [--repeat 30] [--db PATH]

Uses its own throwaway SQLite file (or DATABASE_URL when set), migrates, seeds N customers
with seed_demo, then requests `/erp/customers/` in-process with the Django test client as a
logged-in salesperson: the first page, a search, a sort and a deep page. Each case is compared
with the same list query run on its own in the same run (selectors.table_list, paged like the
page does, rows materialized), so the ratio says how much the page adds on top of the
database. Prints a table and, as the last line, one JSON object with every figure.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 150.0
PAGE_SIZE = 50


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def measure(action: Callable[[], object], repeat: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        action()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--db", help="SQLite file to use (default: a temporary file)")
    args = parser.parse_args()

    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erpcrm.settings.test")
    tmp_dir = None
    if "DATABASE_URL" not in os.environ:
        if args.db:
            db_path = Path(args.db).resolve()
        else:
            tmp_dir = tempfile.TemporaryDirectory(prefix="erpcrm-bench-")
            db_path = Path(tmp_dir.name) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"

    # Forced at startup: models and the test client need django.setup(), which needs the
    # DATABASE_URL chosen above from the command line.
    import django  # noqa: PLC0415

    django.setup()

    from django.contrib.auth.models import Group, User  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415
    from django.core.paginator import Paginator  # noqa: PLC0415
    from django.db import connection  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415

    from accounts import roles  # noqa: PLC0415
    from erp import demo, selectors  # noqa: PLC0415
    from erp.models import Customer  # noqa: PLC0415
    from erp.tables import TABLES_BY_SLUG  # noqa: PLC0415

    call_command("migrate", verbosity=0)
    existing = Customer.objects.count()
    seed_seconds = None
    if existing == 0:
        started = time.perf_counter()
        call_command(
            "seed_demo",
            customers=args.customers,
            contacts=min(args.customers, 2000),
            items=500,
            resources=40,
            salespeople=8,
        )
        seed_seconds = time.perf_counter() - started
    else:
        print(f"Using the {existing} customers already in the database.")
    # Fresh statistics (and, on PostgreSQL, a visibility map for index-only scans), as a
    # database that has been running for a while would have them.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    total = Customer.objects.count()

    user, _created = User.objects.get_or_create(username="bench-salesperson")
    user.groups.add(Group.objects.get_or_create(name=roles.SALESPERSON)[0])
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)

    # A realistic search: a city that occurs in the demo data (about 2% of customers).
    search_term = "Leipzig"
    last_page = max(1, -(-total // PAGE_SIZE))
    deep_page = max(1, last_page - last_page // 20)
    cases = [
        ("first page", {}, "", "", 1),
        (f"search q={search_term}", {"q": search_term}, search_term, "", 1),
        ("sort -name", {"sort": "-name"}, "", "-name", 1),
        ("sort city", {"sort": "city"}, "", "city", 1),
        (f"deep page {deep_page} of {last_page}", {"page": deep_page}, "", "", deep_page),
    ]
    table = TABLES_BY_SLUG["customers"]
    url = "/erp/customers/"

    results = []
    for name, params, search, sort, page_no in cases:
        response = client.get(url, params)
        if response.status_code != 200:
            print(f"{name}: {url} answered {response.status_code}", file=sys.stderr)
            return 1
        if page_no > 1:
            assert demo.customer_no(0) not in response.content.decode()

        def page_request(params: dict = params) -> None:
            client.get(url, params)

        def bare_query(search: str = search, sort: str = sort, page_no: int = page_no) -> None:
            rows = selectors.table_list(table=table, search=search, sort=sort, filters={})
            if hasattr(selectors, "table_page"):
                # The list page's own paging (it may skip the COUNT for a short first page).
                page = selectors.table_page(rows=rows, number=str(page_no), per_page=PAGE_SIZE)
            else:
                page = Paginator(rows, PAGE_SIZE).get_page(page_no)
            list(page.object_list)
            # The page shows the number of pages (its page links), so it counts the rows.
            _pages = page.paginator.num_pages

        page_ms = measure(page_request, args.repeat)
        query_ms = measure(bare_query, args.repeat)
        results.append(
            {
                "case": name,
                "page_p50_ms": round(statistics.median(page_ms), 2),
                "page_p95_ms": round(percentile(page_ms, 95), 2),
                "query_p50_ms": round(statistics.median(query_ms), 2),
                "query_p95_ms": round(percentile(query_ms, 95), 2),
            }
        )
        results[-1]["ratio_p50"] = round(
            results[-1]["page_p50_ms"] / max(results[-1]["query_p50_ms"], 0.001), 2
        )
        results[-1]["meets_target"] = results[-1]["page_p95_ms"] < TARGET_P95_MS

    header = (
        f"{'case':<28} {'page p50':>9} {'page p95':>9} {'query p50':>10} {'query p95':>10} "
        f"{'ratio':>6}  target p95<{TARGET_P95_MS:.0f}ms"
    )
    print(f"\n{total} customers, {connection.vendor}, {args.repeat} requests per case")
    if seed_seconds is not None:
        print(f"seed_demo took {seed_seconds:.1f} s")
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['case']:<28} {r['page_p50_ms']:>9.1f} {r['page_p95_ms']:>9.1f} "
            f"{r['query_p50_ms']:>10.1f} {r['query_p95_ms']:>10.1f} {r['ratio_p50']:>6.2f}  "
            f"{'ok' if r['meets_target'] else 'MISSED'}"
        )
    summary = {
        "benchmark": "list_pages",
        "url": url,
        "customers": total,
        "database": connection.vendor,
        "repeat": args.repeat,
        "seed_seconds": round(seed_seconds, 2) if seed_seconds is not None else None,
        "target_p95_ms": TARGET_P95_MS,
        "all_meet_target": all(r["meets_target"] for r in results),
        "cases": results,
    }
    print(json.dumps(summary))
    if tmp_dir is not None:
        connection.close()
        tmp_dir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
