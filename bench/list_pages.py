"""Benchmark: server time of the customer list page, keyset pages against OFFSET pages.

    .venv/bin/python bench/list_pages.py [--customers 100000] [--repeat 30] [--db PATH]

Uses its own throwaway SQLite file (or DATABASE_URL when set), migrates, seeds N customers
with seed_demo (unless the database has customers already), then requests `/erp/customers/`
in-process with the Django test client as a logged-in salesperson: the first page, a search,
a sort, sorts by a foreign-key column (salesperson, currency: first, deep and last pages, and
with a search), the middle page and page 19 of 20 (scaled: page n - n/20) reached by cursor,
the last page and a sorted last page. Where a case has a page that OFFSET can reach too, the
same page is also requested the old way (`?page=N`, still served by OFFSET) in the same run: that
is the baseline, and the ratio is OFFSET time / keyset time. The old pages also counted every row on
each request: that exact COUNT(*) is timed on its own. Prints a table and, as the last line,
one JSON object with every figure.
"""

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

from common import measure, percentile, seed_customers_once

BASE_DIR = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 150.0
PAGE_SIZE = 50


def print_table(
    results: list[dict], *, total: int, vendor: str, repeat: int, seed_seconds: float | None
) -> None:
    header = (
        f"{'case':<30} {'p50':>8} {'p95':>8} {'OFFSET p50':>11} {'OFFSET p95':>11} "
        f"{'speed-up':>8}  target p95<{TARGET_P95_MS:.0f}ms"
    )
    print(f"\n{total} customers, {vendor}, {repeat} requests per case (ms)")
    if seed_seconds is not None:
        print(f"seed_demo took {seed_seconds:.1f} s")
    print(header)
    print("-" * len(header))

    def cell(value: object, width: int, suffix: str = "") -> str:
        return f"{value}{suffix}".rjust(width) if value is not None else "-".rjust(width)

    for r in results:
        print(
            f"{r['case']:<30} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
            f"{cell(r['offset_p50_ms'], 11)} {cell(r['offset_p95_ms'], 11)} "
            f"{cell(r['speedup_p50'], 8, 'x')}  {'ok' if r['meets_target'] else 'MISSED'}"
        )


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
    from django.db import connection  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415

    from accounts import roles  # noqa: PLC0415
    from erp import pagination, selectors  # noqa: PLC0415
    from erp.models import Customer  # noqa: PLC0415
    from erp.tables import TABLES_BY_SLUG  # noqa: PLC0415

    call_command("migrate", verbosity=0)
    seed_seconds = seed_customers_once(args.customers)
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
    table = TABLES_BY_SLUG["customers"]
    url = "/erp/customers/"
    last_page = max(1, -(-total // PAGE_SIZE))
    middle_page = max(1, last_page // 2)
    deep_page = max(1, last_page - last_page // 20)

    def cursor_to(page_no: int, sort: str = "") -> dict[str, str]:
        """The query of the Next link that leads to page `page_no` (found once, untimed)."""
        if page_no <= 1:
            return {"sort": sort} if sort else {}
        sort, keys = selectors.table_ordering(table=table, sort=sort)
        rows = selectors.table_list(table=table, sort=sort)
        before = rows[(page_no - 1) * PAGE_SIZE - 1]
        values = pagination.row_values(before, keys)
        params = {"cursor": pagination.cursor_encode(sort=sort, values=values, forward=True)}
        return {"sort": sort, **params} if sort else params

    # (name, keyset query, OFFSET query or None)
    cases: list[tuple[str, dict, dict | None]] = [
        ("first page", {}, None),
        (f"search q={search_term}", {"q": search_term}, None),
        ("sort -name", {"sort": "-name"}, None),
        ("sort salesperson", {"sort": "salesperson"}, None),
        (
            f"sort salesperson, page {deep_page}",
            cursor_to(deep_page, "salesperson"),
            {"sort": "salesperson", "page": deep_page},
        ),
        (
            "sort -salesperson, last page",
            {"sort": "-salesperson", "page": "last"},
            {"sort": "-salesperson", "page": last_page},
        ),
        ("sort currency", {"sort": "currency"}, None),
        (
            f"sort -currency, page {middle_page}",
            cursor_to(middle_page, "-currency"),
            {"sort": "-currency", "page": middle_page},
        ),
        (f"sort salesperson, q={search_term}", {"sort": "salesperson", "q": search_term}, None),
        (f"middle page {middle_page}", cursor_to(middle_page), {"page": middle_page}),
        (f"page {deep_page} of {last_page}", cursor_to(deep_page), {"page": deep_page}),
        ("last page", {"page": "last"}, {"page": last_page}),
        (
            "sort city, last page",
            {"sort": "city", "page": "last"},
            {"sort": "city", "page": last_page},
        ),
    ]

    def numbers(html: str) -> list[str]:
        return re.findall(r'class="record-link"[^>]*>([^<]+)<', html)

    results = []
    for name, params, offset_params in cases:
        response = client.get(url, params)
        if response.status_code != 200:
            print(f"{name}: {url} answered {response.status_code}", file=sys.stderr)
            return 1
        shown = numbers(response.content.decode())
        if offset_params is not None:
            # The keyset page and the OFFSET page show the same rows (the last page: when
            # the count is exact; an estimated count shows a full last page).
            old = numbers(client.get(url, offset_params).content.decode())
            if shown != old and not (params.get("page") == "last" and shown[-len(old) :] == old):
                print(f"{name}: keyset and OFFSET pages differ", file=sys.stderr)
                return 1

        def page_request(params: dict = params) -> None:
            client.get(url, params)

        page_ms = measure(page_request, args.repeat)
        result: dict[str, object] = {
            "case": name,
            "p50_ms": round(statistics.median(page_ms), 2),
            "p95_ms": round(percentile(page_ms, 95), 2),
            "offset_p50_ms": None,
            "offset_p95_ms": None,
            "speedup_p50": None,
        }
        if offset_params is not None:

            def offset_request(params: dict = offset_params) -> None:
                client.get(url, params)

            offset_ms = measure(offset_request, args.repeat)
            result["offset_p50_ms"] = round(statistics.median(offset_ms), 2)
            result["offset_p95_ms"] = round(percentile(offset_ms, 95), 2)
            result["speedup_p50"] = round(
                statistics.median(offset_ms) / max(statistics.median(page_ms), 0.001), 1
            )
        result["meets_target"] = percentile(page_ms, 95) < TARGET_P95_MS
        results.append(result)

    count_ms = measure(lambda: Customer.objects.count(), max(3, args.repeat // 3), warmup=1)
    shown_count = selectors.table_count(rows=selectors.table_list(table=table))

    print_table(
        results,
        total=total,
        vendor=connection.vendor,
        repeat=args.repeat,
        seed_seconds=seed_seconds,
    )
    count_p50 = statistics.median(count_ms)
    print(
        f"exact COUNT(*) alone (each old page paid it): p50 {count_p50:.1f} ms; the pages show "
        f"{'exactly' if shown_count.exact else 'about'} {shown_count.value:,} records"
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
        "exact_count_p50_ms": round(count_p50, 2),
        "count_shown": shown_count.value,
        "count_exact": shown_count.exact,
        "cases": results,
    }
    print(json.dumps(summary))
    if tmp_dir is not None:
        connection.close()
        tmp_dir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
