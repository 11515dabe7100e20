"""Benchmark: the full synchronization on real Celery worker processes against the sandbox.

    .venv/bin/python bench/fullsync.py [--customers 100000] [--contacts N] [--items 10000]
        [--workers 1,2] [--rate-limit 0] [--window 10] [--throttled-workers 2]

Needs PostgreSQL (DATABASE_URL's server, default postgres://postgres@127.0.0.1:5432): it
creates its own databases (bench_fullsync_<pid>_*) and drops them at the end. The ERP data is
seeded once (seed_demo's generator: N customers, contacts (default as many as customers),
items with their sales prices) into a template database; every measured run gets a fresh copy
of it, a fresh sandbox CRM on a free port, the connection set up as the tests do, the default
mappings of every area but posted sales invoices, and its own Celery workers (solo pool, the
filesystem broker in a temporary folder).

Measured:

1. the full synchronization (prepare, start, wait until the run ends) with 1, then 2 worker
   processes: records/s per line (records done / the line's time) and overall (every line's
   records / the run's time), peak resident memory of each worker (VmHWM from /proc);
2. the baseline, in the same run: the accounts and contacts the first run wrote to the CRM,
   read back (their plain columns, no lookups) and sent again as new rows with CreateMultiple
   straight at the same sandbox (the client's write_many(method="bulk"), the connection's
   parallelism), no engine, no workers, no ERP: the ratio is the full synchronization's
   CUSTOMER + CONTACT rate to that;
3. a throttled run (2 workers): the sandbox allows R requests per window (its
   rate_limit_requests / rate_limit_window_seconds, as Dataverse's service protection); the
   requests the CRM accepted per second as a fraction of R / window (target >= 0.9) and the
   records that failed (target 0). R defaults to half the request rate the unthrottled run
   with as many workers reached, so that the limit holds the run back throughout.

Prints the figures and, as the last line, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

TARGET_THROTTLED_FRACTION = 0.9
TARGET_FAILED = 0
AREAS = [
    "salespeople", "currencies", "units", "customers", "contacts", "items", "resources",
    "price_lists",
]  # fmt: skip
RUN_TIMEOUT = 6 * 3600


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not url.startswith("postgres"):
        raise SystemExit("bench/fullsync.py needs PostgreSQL (workers share the database)")
    return url


def _db_url(name: str) -> str:
    parts = urlsplit(_server_url())
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_sql(sql: str) -> None:
    import psycopg  # noqa: PLC0415 - only this benchmark needs it directly

    with psycopg.connect(_db_url("postgres"), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _django(tmp: Path, db_name: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "erpcrm.settings.test"
    os.environ["ERPCRM_TEST_TMP_DIR"] = str(tmp)
    os.environ["CRM_THROTTLE_DIR"] = str(tmp / "throttle")
    os.environ["CELERY_BROKER_DIR"] = str(tmp / "broker")
    os.environ["ERPCRM_TEST_BROKER_OWNER"] = ""
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DATABASE_URL"] = _db_url(db_name)
    import django  # noqa: PLC0415 - models need django.setup(), after the settings above

    django.setup()


def _use_database(name: str) -> None:
    """Point this process's connection at another database (a fresh copy for each run)."""
    from django.db import connection  # noqa: PLC0415

    connection.close()
    connection.settings_dict["NAME"] = name
    os.environ["DATABASE_URL"] = _db_url(name)


def _hwm_mb(pid: int) -> float:
    """Peak resident memory of a process (VmHWM), in MB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# -- data, CRM, workers ------------------------------------------------------------------------


def seed(customers: int, contacts: int, items: int) -> float:
    from erp.demo.load import demo_data_seed  # noqa: PLC0415

    started = time.perf_counter()
    demo_data_seed(customers=customers, contacts=contacts, items=items, resources=20, salespeople=8)
    # Every record in its mapping's scope, as in bench/engine.py: the generator blocks a few
    # customers and items, and their contacts and prices would then fail for good (their
    # parent never reaches the CRM), which is the data's doing, not the synchronization's.
    from erp.models import Customer, Item, Resource  # noqa: PLC0415

    Customer.objects.update(blocked="")
    Item.objects.update(blocked=False)
    Resource.objects.update(blocked=False)
    return time.perf_counter() - started


def connect(sandbox: Any) -> None:
    from django.core.management import call_command  # noqa: PLC0415
    from engine import _adapter, couple_seeded  # noqa: PLC0415 - bench/engine.py, beside it

    from sandbox import seed as sandbox_seed  # noqa: PLC0415
    from syncjobs.services import DefaultSetupOptions, default_setup_reset  # noqa: PLC0415

    # As the tests set it up: the solution imported and its roles assigned by the sandbox's
    # administrator (adding option values needs them).
    os.environ["CRM_CLIENT_SECRET"] = sandbox_seed.INTEGRATION_CLIENT_SECRET
    os.environ["CRM_ADMIN_PASSWORD"] = sandbox_seed.ADMIN_PASSWORD
    try:
        with open(os.devnull, "w") as devnull:
            call_command(
                "setup_connection",
                "--environment-url", sandbox.url, "--token-url", sandbox.token_url,
                "--client-id", sandbox_seed.INTEGRATION_CLIENT_ID,
                "--admin-username", sandbox_seed.ADMIN_USERNAME,
                "--areas", ",".join(AREAS),
                stdout=devnull,
            )  # fmt: skip
    finally:
        del os.environ["CRM_CLIENT_SECRET"]
        del os.environ["CRM_ADMIN_PASSWORD"]
    default_setup_reset(options=DefaultSetupOptions(areas=AREAS))
    # What the confirmation asks of an administrator before a full synchronization: the ERP's
    # salespeople coupled to their CRM users (and the currencies the sandbox seeds coupled).
    couple_seeded()
    # Only the ERP's records are measured: the sandbox's own demo contacts and accounts would
    # come back to the ERP through the bidirectional mappings, and those whose parent account
    # is outside the ERP's scope would count as failed records.
    client = _adapter(4, "auto", admin_app=True).client
    for entity_set, key in (("contacts", "contactid"), ("accounts", "accountid")):
        for row in list(client.iter_rows(entity_set, select=[key])):
            client.delete(entity_set, row[key])


def start_workers(count: int, log_dir: Path) -> list[tuple[str, subprocess.Popen[bytes]]]:
    from core.models import WorkerHeartbeat  # noqa: PLC0415

    workers = []
    for i in range(count):
        hostname = f"bench-{uuid.uuid4().hex[:6]}-{i}@{socket.gethostname()}"
        with open(log_dir / f"worker-{hostname.split('@')[0]}.log", "wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "erpcrm", "worker", "--pool=solo",
                    "--concurrency=1", "-n", hostname, "-l", "WARNING",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                ],
                cwd=BASE_DIR, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        workers.append((hostname, proc))
    deadline = time.monotonic() + 120
    for hostname, proc in workers:
        while not WorkerHeartbeat.objects.filter(hostname=hostname).exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_workers(workers)
                raise SystemExit(f"worker {hostname} did not start; see {log_dir}")
            time.sleep(0.2)
    return workers


def stop_workers(workers: list[tuple[str, subprocess.Popen[bytes]]]) -> list[float]:
    """Their peak memory (read before they go), then stopped."""
    peaks = [round(_hwm_mb(proc.pid), 1) for _h, proc in workers]
    for _h, proc in workers:
        proc.kill()
        proc.wait()
    return peaks


def sandbox_stats(sandbox: Any) -> dict[str, Any]:
    import requests  # noqa: PLC0415

    response = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10)
    response.raise_for_status()
    return dict(response.json())


# -- one measured full synchronization ---------------------------------------------------------


def full_run(
    *,
    tmp: Path,
    template: str,
    name: str,
    workers: int,
    rate_limit: int = 0,
    window: float = 10.0,
    keep: bool = False,
) -> tuple[dict[str, Any], Any]:
    """Copy the seeded database, start a sandbox and the workers, run the full
    synchronization to its end. Returns the figures (and the sandbox when `keep`)."""
    from django.db import connection  # noqa: PLC0415

    from sandbox.process import start_sandbox_process  # noqa: PLC0415
    from syncjobs import fullsync  # noqa: PLC0415
    from syncjobs.models import FullSyncRun  # noqa: PLC0415

    connection.close()
    db_name = f"{template}_{name}"
    _admin_sql(f'CREATE DATABASE "{db_name}" TEMPLATE "{template}"')
    _use_database(db_name)
    sandbox = start_sandbox_process(tmp / f"sandbox-{name}.sqlite3", quiet=True, timeout=60)
    try:
        connect(sandbox)
        run = fullsync.fullsync_prepare()
        procs = start_workers(workers, tmp)
        try:
            if rate_limit:
                sandbox.control(
                    "config",
                    {"rate_limit_requests": rate_limit, "rate_limit_window_seconds": window},
                )
            before = sandbox_stats(sandbox)
            fullsync.fullsync_start(run=run)
            deadline = time.monotonic() + RUN_TIMEOUT
            while True:
                run.refresh_from_db()
                if run.status in (FullSyncRun.Status.FINISHED, FullSyncRun.Status.ERROR):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name}: the full synchronization did not end in time")
                if any(p.poll() is not None for _h, p in procs):
                    raise SystemExit(f"{name}: a worker exited; see {tmp}")
                time.sleep(0.5)
            after = sandbox_stats(sandbox)
        finally:
            peaks = stop_workers(procs)
        figures = _figures(run, before, after)
        figures.update(workers=workers, peak_worker_rss_mb=peaks)
        if rate_limit:
            limit_rate = rate_limit / window
            figures.update(
                rate_limit=rate_limit,
                window_seconds=window,
                limit_requests_per_second=round(limit_rate, 2),
                fraction_of_limit=round(figures["accepted_requests_per_second"] / limit_rate, 3),
            )
    except BaseException:
        sandbox.stop()
        raise
    if keep:
        return figures, sandbox
    sandbox.stop()
    return figures, None


def _figures(run: Any, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    from syncjobs import fullsync  # noqa: PLC0415
    from syncjobs.models import SyncError  # noqa: PLC0415

    status = fullsync.fullsync_status(run=run)
    seconds = (run.finished_at - run.started_at).total_seconds()
    lines = {}
    failed = 0
    for line in status["lines"]:
        span = (
            (line["finished_at"] - line["started_at"]).total_seconds()
            if line["started_at"] and line["finished_at"]
            else 0.0
        )
        jobs = [j for j in (line["to_crm_job"], line["from_crm_job"]) if j]
        line_failed = sum(j["failed"] for j in jobs)
        first_error = (
            SyncError.objects.filter(job_id__in=[j["id"] for j in jobs])
            .values_list("message", flat=True)
            .first()
            if line_failed
            else None
        )
        failed += line_failed
        lines[line["name"]] = {
            "status": line["status"],
            "records": line["done"],
            "seconds": round(span, 2),
            "records_per_second": round(line["done"] / span, 1) if span else 0.0,
            "inserted": sum(j["inserted"] for j in jobs),
            "failed": line_failed,
            "message": line["message"][:200],
            "first_error": (first_error or "")[:200],
        }
    requests_made = after["requests"] - before["requests"]
    throttled = after["throttled"] - before["throttled"]
    records = sum(v["records"] for v in lines.values())
    return {
        "status": run.status,
        "seconds": round(seconds, 2),
        "records": records,
        "records_per_second": round(records / seconds, 1) if seconds else 0.0,
        "failed_records": failed,
        "failed_lines": [n for n, v in lines.items() if v["status"] != "finished"],
        "requests": requests_made,
        "throttled_requests": throttled,
        "accepted_requests_per_second": round((requests_made - throttled) / seconds, 2)
        if seconds
        else 0.0,
        "lines": lines,
    }


# -- the baseline: bare CreateMultiple of the same rows ------------------------------------------


def baseline() -> dict[str, Any]:
    """The accounts and contacts the run wrote, sent again with CreateMultiple as new rows."""
    from connection.selectors import crm_connection_settings  # noqa: PLC0415
    from dataverse.client import DataverseClient  # noqa: PLC0415
    from syncjobs.engine.fields import rules_of  # noqa: PLC0415
    from syncjobs.models import IntegrationTableMapping  # noqa: PLC0415

    settings = crm_connection_settings()
    assert settings is not None, "no CRM connection"
    reader = DataverseClient(settings)
    bodies: dict[str, list[dict[str, Any]]] = {}
    for name, entity_set, key in (
        ("CUSTOMER", "accounts", "accountid"),
        ("CONTACT", "contacts", "contactid"),
    ):
        rules = rules_of(IntegrationTableMapping.objects.get(name=name))
        lookups = rules.crm_lookups()
        columns = [c for c in rules.crm_columns() if c not in lookups]
        # Every column (some the mapping writes, such as owneridtype, cannot be selected).
        rows = reader.iter_rows(entity_set)
        bodies[entity_set] = [
            {**{c: row.get(c) for c in columns if row.get(c) is not None}, key: str(uuid.uuid4())}
            for row in rows
        ]
    # Into the same sandbox, as new rows (new ids): the option values the run added (payment
    # terms, shipment methods) are there, as they are for the engine.
    client = reader
    started = time.perf_counter()
    failed = 0
    first_error = ""
    for entity_set, rows in bodies.items():
        results = client.write_many(
            entity_set, rows, "create", parallelism=settings.parallelism, method="bulk"
        )
        errors = [r.error for r in results if r.error is not None]
        failed += len(errors)
        first_error = first_error or (str(errors[0])[:200] if errors else "")
    seconds = time.perf_counter() - started
    client.close()
    records = sum(len(rows) for rows in bodies.values())
    return {
        "records": records,
        "by_table": {k: len(v) for k, v in bodies.items()},
        "seconds": round(seconds, 3),
        "failed": failed,
        "first_error": first_error,
        "records_per_second": round((records - failed) / seconds, 1) if seconds else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=None, help="default: as customers")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2", help="worker processes per run")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        help="requests per window in the throttled run (0: half the request rate of the "
        "unthrottled run with as many workers; -1: no throttled run)",
    )
    parser.add_argument("--window", type=float, default=10.0, help="seconds")
    parser.add_argument("--throttled-workers", type=int, default=2)
    args = parser.parse_args()
    contacts = args.customers if args.contacts is None else args.contacts
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    template = f"bench_fullsync_{os.getpid()}"
    created: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-fullsync-") as tmp_dir:
        tmp = Path(tmp_dir)
        _admin_sql(f'CREATE DATABASE "{template}"')
        created.append(template)
        try:
            _django(tmp, template)
            from django.core.management import call_command  # noqa: PLC0415
            from django.db import connection  # noqa: PLC0415

            call_command("migrate", verbosity=0)
            print(
                f"seeding {args.customers} customers, {contacts} contacts, {args.items} items ...",
                file=sys.stderr,
            )
            seed_seconds = seed(args.customers, contacts, args.items)
            connection.close()
            runs: dict[str, dict[str, Any]] = {}
            base: dict[str, Any] = {}
            for count in worker_counts:
                name = f"w{count}"
                print(f"full synchronization, {count} worker(s) ...", file=sys.stderr)
                created.append(f"{template}_{name}")
                keep = not base
                figures, sandbox = full_run(
                    tmp=tmp, template=template, name=name, workers=count, keep=keep
                )
                runs[name] = figures
                if sandbox is not None:
                    with sandbox:
                        print("bare CreateMultiple of the same rows ...", file=sys.stderr)
                        base = baseline()
            throttled: dict[str, Any] = {}
            if args.rate_limit >= 0 and runs:
                # Default: half the request rate the same number of workers reached without a
                # limit, so that the throttled run is held back by the limit throughout.
                free = runs.get(f"w{args.throttled_workers}") or next(iter(runs.values()))
                limit = args.rate_limit or max(
                    2, round(free["accepted_requests_per_second"] * args.window / 2)
                )
                print(f"throttled: {limit} requests per {args.window:g} s ...", file=sys.stderr)
                created.append(f"{template}_throttled")
                throttled, _none = full_run(
                    tmp=tmp,
                    template=template,
                    name="throttled",
                    workers=args.throttled_workers,
                    rate_limit=limit,
                    window=args.window,
                )
            connection.close()
        finally:
            for name in reversed(created):
                _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return report(args, contacts, seed_seconds, runs, base, throttled)


def report(
    args: argparse.Namespace,
    contacts: int,
    seed_seconds: float,
    runs: dict[str, dict[str, Any]],
    base: dict[str, Any],
    throttled: dict[str, Any],
) -> int:
    print(
        f"\n{args.customers} customers, {contacts} contacts, {args.items} items; "
        f"PostgreSQL + sandbox CRM + Celery workers (solo pool); seeding took {seed_seconds:.1f} s"
    )
    ratios = {}
    for name, run in runs.items():
        print(
            f"\n{run['workers']} worker(s): {run['status']}, {run['records']} records in "
            f"{run['seconds']:.1f} s = {run['records_per_second']:.1f} records/s, "
            f"{run['failed_records']} failed, {run['requests']} requests, peak worker memory "
            + ", ".join(f"{mb:.0f} MB" for mb in run["peak_worker_rss_mb"])
        )
        for line, figures in run["lines"].items():
            print(
                f"  {line:<24} {figures['records_per_second']:>9.1f} records/s "
                f"({figures['records']} in {figures['seconds']:.1f} s, {figures['status']}"
                + (f": {figures['message']}" if figures["message"] else "")
                + ")"
                + (
                    f"\n    {figures['failed']} failed, first: {figures['first_error']}"
                    if figures["failed"]
                    else ""
                )
            )
        lines = run["lines"]
        pair = [lines[n] for n in ("CUSTOMER", "CONTACT") if n in lines]
        pair_seconds = sum(f["seconds"] for f in pair)
        pair_rate = sum(f["records"] for f in pair) / pair_seconds if pair_seconds else 0.0
        if base.get("records_per_second"):
            ratios[name] = round(pair_rate / base["records_per_second"], 3)
            print(
                f"  CUSTOMER + CONTACT {pair_rate:.1f} records/s = {ratios[name]:.3f} x the "
                "bare CreateMultiple"
            )
    if base:
        print(
            f"\nbare CreateMultiple: {base['records']} accounts and contacts in "
            f"{base['seconds']:.2f} s = {base['records_per_second']:.1f} records/s, "
            f"{base['failed']} failed"
            + (f" (first: {base['first_error']})" if base["first_error"] else "")
        )
    ok: dict[str, bool] = {}
    if throttled:
        ok = {
            "throttled_fraction": throttled["fraction_of_limit"] >= TARGET_THROTTLED_FRACTION,
            "throttled_failed": throttled["failed_records"] <= TARGET_FAILED,
        }
        print(
            f"\nthrottled ({throttled['rate_limit']} requests per {throttled['window_seconds']:g}"
            f" s = {throttled['limit_requests_per_second']} requests/s, "
            f"{throttled['workers']} workers): {throttled['status']} in "
            f"{throttled['seconds']:.1f} s, {throttled['accepted_requests_per_second']} accepted "
            f"requests/s = {throttled['fraction_of_limit']:.3f} of the limit "
            f"(target >= {TARGET_THROTTLED_FRACTION}) "
            + ("ok" if ok["throttled_fraction"] else "MISSED")
            + f"; {throttled['throttled_requests']} answered 429; failed records "
            f"{throttled['failed_records']} (target {TARGET_FAILED}) "
            + ("ok" if ok["throttled_failed"] else "MISSED")
        )
    print(
        json.dumps(
            {
                "benchmark": "fullsync",
                "customers": args.customers,
                "contacts": contacts,
                "items": args.items,
                "seed_seconds": round(seed_seconds, 2),
                "runs": runs,
                "baseline_bulk_ingest": base,
                "ratio_customer_contact_to_bulk_ingest": ratios,
                "throttled": throttled,
                "targets_met": ok,
            },
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
