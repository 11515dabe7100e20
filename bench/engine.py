"""Benchmark: the synchronization engine, ERP -> CRM, against the sandbox's bare bulk ingest.

    .venv/bin/python bench/engine.py [--customers 100000] [--sample 1000] [--parallelism 4]
        [--latency-ms 0]

Embedded defaults: a throwaway SQLite file (or DATABASE_URL when set) and its own sandbox CRM
on a free port. It seeds N customers (seed_demo's generator; all of them unblocked, so all are
in the CUSTOMER mapping's scope) with their salespeople, currencies, payment terms, shipment
methods and shipping agents, sets the connection up as the tests do (`setup_connection`), and
creates the default mappings for salespeople, currencies and customers.

The ERP salespeople are coupled to the sandbox's seeded salespeople users by CrmCoupling rows
(the SALESPEOPLE mapping is CRM -> ERP and would only create the same pairs); CURRENCY and the
three option mappings run with full=True before every measured run.

Measured, each into a sandbox without accounts (reset, seeded accounts deleted, the ERP's
couplings of the previous run removed):

1. the engine, bulk mode (CreateMultiple), CUSTOMER to the CRM, full, at N/10 and at N, each in
   a child process whose peak resident memory (VmHWM) is the memory figure;
2. the incremental run after 1% of the customers changed (time as a fraction of the full run);
3. the engine one request per record (DataverseCrm(write_method="single")), one at a time as
   the reference does, on a sample of the customers (a table filter), extrapolated as
   records/s;
4. the ceiling: the same N account bodies (built by the engine's own body builders) sent with
   the client's write_many(method="bulk") and the same parallelism, no engine in front.

Prints the figures and, as the last line, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

TARGET_CEILING_RATIO = 0.5
TARGET_PER_RECORD_RATIO = 30.0
TARGET_INCREMENTAL_FRACTION = 0.05
TARGET_MEMORY_GROWTH = 1.3
PREREQUISITES = ["CURRENCY", "PAYMENT TERMS", "SHIPMENT METHOD", "SHIPPING AGENT"]


def _django(tmp: Path | None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erpcrm.settings.test")
    if tmp is not None:
        os.environ.setdefault("ERPCRM_TEST_TMP_DIR", str(tmp))
        os.environ.setdefault("CRM_THROTTLE_DIR", str(tmp / "throttle"))
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        if "DATABASE_URL" not in os.environ:
            os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'erp.sqlite3'}"
    # Forced at startup: models need django.setup(), which needs the DATABASE_URL chosen above.
    import django  # noqa: PLC0415

    django.setup()


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: on Linux a child's
    ru_maxrss starts at its parent's resident size when it was forked (the kernel keeps the
    high-water mark across exec), which here would be the seeding's."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # Elsewhere: ru_maxrss (kilobytes on Linux, bytes on macOS).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the child: one engine run, its time and its peak memory -------------------------------


def child(mode: str, parallelism: int, profile: str = "") -> None:
    _django(None)
    from syncjobs.engine import synchronize  # noqa: PLC0415
    from syncjobs.models import Direction, IntegrationTableMapping  # noqa: PLC0415

    mapping = IntegrationTableMapping.objects.get(name="CUSTOMER")
    crm = _adapter(parallelism, "single" if mode == "single" else "auto")
    crm.client.whoami()  # sign-in and connection warm-up, not measured
    before_mb = _peak_rss_mb()
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = synchronize(mapping, direction=Direction.TO_CRM, full=mode != "incremental", crm=crm)
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    job = result.jobs[0]
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": round(seconds, 3),
                "status": job.status,
                "message": job.message,
                "inserted": job.inserted,
                "modified": job.modified,
                "unchanged": job.unchanged,
                "failed": job.failed,
                "requests": crm.client.stats.snapshot()["requests"],
                "rss_before_mb": round(before_mb, 1),
                "peak_rss_mb": round(_peak_rss_mb(), 1),
            }
        )
    )


def _adapter(parallelism: int, write_method: str, *, admin_app: bool = False) -> Any:
    """The engine's Dataverse adapter on the saved connection (`admin_app`: signed in as the
    sandbox's administrator application user instead of the integration user)."""
    from connection.selectors import crm_connection_settings  # noqa: PLC0415
    from dataverse.client import DataverseClient  # noqa: PLC0415
    from syncjobs.engine.dataverse_crm import DataverseCrm  # noqa: PLC0415

    settings = crm_connection_settings()
    assert settings is not None, "no CRM connection"
    settings = replace(settings, parallelism=parallelism)
    if admin_app:
        from sandbox import seed  # noqa: PLC0415

        settings = replace(
            settings,
            client_id=seed.ADMIN_APP_CLIENT_ID,
            client_secret=seed.ADMIN_APP_CLIENT_SECRET,
        )
    client = DataverseClient(settings)
    return DataverseCrm(client, entity_sets={"account": "accounts"}, write_method=write_method)


def run_child(mode: str, parallelism: int, profile: str = "") -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--parallelism",
            str(parallelism),
            *(["--profile", profile] if profile else []),
        ],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"the {mode} engine run failed (exit {proc.returncode})")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    if figures["failed"] or figures["status"] != "succeeded":
        print(f"warning: {mode} run: {figures['status']}: {figures['message']}", file=sys.stderr)
    return figures


# -- the parent: data, sandbox states, the ceiling ------------------------------------------


def seed_customers(count: int, *, append: bool) -> float:
    from django.db.models import F  # noqa: PLC0415

    from erp.demo.load import demo_data_seed  # noqa: PLC0415
    from erp.models import Customer  # noqa: PLC0415

    started = time.perf_counter()
    demo_data_seed(customers=count, contacts=0, items=0, resources=0, salespeople=12, append=append)
    # Every customer in the CUSTOMER mapping's scope (blocked = ""), and last modified well
    # before the runs, so that the incremental run sees only the customers changed for it.
    Customer.objects.update(blocked="", modified_at=F("modified_at") - timedelta(days=1))
    return time.perf_counter() - started


def connect(sandbox: Any) -> None:
    from django.core.management import call_command  # noqa: PLC0415

    from sandbox import seed  # noqa: PLC0415
    from syncjobs.services import DefaultSetupOptions, default_setup_reset  # noqa: PLC0415

    os.environ["CRM_CLIENT_SECRET"] = seed.INTEGRATION_CLIENT_SECRET
    try:
        call_command(
            "setup_connection",
            "--environment-url", sandbox.url, "--token-url", sandbox.token_url,
            "--client-id", seed.INTEGRATION_CLIENT_ID, "--skip-solution-import",
            "--areas", "salespeople,currencies,customers",
            stdout=open(os.devnull, "w"),  # noqa: SIM115
        )  # fmt: skip
    finally:
        del os.environ["CRM_CLIENT_SECRET"]
    default_setup_reset(
        options=DefaultSetupOptions(areas=["salespeople", "currencies", "customers"])
    )


def couple_seeded() -> None:
    """Couple ERP records to the rows the sandbox seeds with stable ids (they survive a reset):
    the salespeople to their users (the SALESPEOPLE mapping, CRM -> ERP, would make the same
    pairs) and EUR and GBP to the sandbox's currencies (the CRM refuses a second row with the
    same ISO code; the reference couples them by matching)."""
    import uuid  # noqa: PLC0415

    from coupling.models import CrmCoupling  # noqa: PLC0415
    from erp.models import Currency, Salesperson  # noqa: PLC0415
    from sandbox import seed  # noqa: PLC0415

    seeded_currencies = {"EUR": seed.EUR_ID, "GBP": seed.GBP_ID, "USD": seed.USD_ID}
    pairs = [
        ("erp.salesperson", sp.uuid, "systemuser", seed.salesperson_user_id(sp.code))
        for sp in Salesperson.objects.all()
    ] + [
        ("erp.currency", c.uuid, "transactioncurrency", seeded_currencies[c.code])
        for c in Currency.objects.filter(code__in=list(seeded_currencies))
    ]
    CrmCoupling.objects.all().delete()
    CrmCoupling.objects.bulk_create(
        CrmCoupling(
            erp_table=erp_table,
            erp_uuid=erp_uuid,
            crm_entity=crm_entity,
            crm_id=uuid.UUID(crm_id),
            state=CrmCoupling.State.COUPLED,
        )
        for erp_table, erp_uuid, crm_entity, crm_id in pairs
    )


def latency(sandbox: Any, ms: int) -> None:
    """Every CRM request takes `ms` longer (the sandbox's `latency_ms` setting)."""
    sandbox.control("config", {"latency_ms": ms})


def fresh_crm(sandbox: Any, crm: Any, admin: Any) -> None:
    """A sandbox without accounts and an ERP without the couplings of an earlier run; then
    the prerequisite mappings (currencies, option values) run again, in full.

    They run as the sandbox's administrator application: adding an option value
    (InsertOptionValue) needs the System Administrator role, which the integration user
    does not hold."""
    from coupling.models import CrmOptionCoupling  # noqa: PLC0415
    from syncjobs.engine import synchronize  # noqa: PLC0415
    from syncjobs.models import Direction, IntegrationTableMapping, JobRun  # noqa: PLC0415

    sandbox.reset()
    latency(sandbox, 0)  # preparing is not measured
    client = crm.client
    for row in list(client.iter_rows("accounts", select=["accountid"])):
        client.delete("accounts", row["accountid"])
    couple_seeded()
    CrmOptionCoupling.objects.all().delete()
    JobRun.objects.all().delete()
    IntegrationTableMapping.objects.update(erp_watermark_at=None, crm_sync_token="")
    for name in PREREQUISITES:
        mapping = IntegrationTableMapping.objects.get(name=name)
        result = synchronize(mapping, direction=Direction.TO_CRM, full=True, crm=admin)
        if not result.ok:
            job = result.jobs[-1]
            first = job.errors.first()
            raise SystemExit(f"{name}: {job.message}: {first.message if first else ''}")


def account_bodies(crm: Any) -> list[dict[str, Any]]:
    """The bodies the engine would send for every customer in scope, built by its own code
    (values in the CRM's space, the field rules, the adapter's body builder)."""
    import uuid  # noqa: PLC0415

    from syncjobs.engine.context import Context, Options  # noqa: PLC0415
    from syncjobs.engine.to_crm import _crm_body  # noqa: PLC0415
    from syncjobs.engine.values import erp_in_crm_space  # noqa: PLC0415
    from syncjobs.models import IntegrationTableMapping, JobRun  # noqa: PLC0415

    mapping = IntegrationTableMapping.objects.get(name="CUSTOMER")
    ctx = Context(mapping=mapping, crm=crm, job=JobRun(job_name="bench"), options=Options())
    rules = ctx.rules.to_crm
    bodies = []
    for chunk in ctx.erp.iter_changed(None, ctx.chunk_size):
        values = erp_in_crm_space(ctx, chunk, rules)
        for record in chunk:
            send = {
                k: v
                for k, v in values[record.uuid].items()
                if not (v is None and next(r for r in rules if r.key == k).not_null)
            }
            body = crm._body(ctx.table, _crm_body(rules, send))
            body["accountid"] = str(uuid.uuid4())
            bodies.append(body)
    return bodies


def ceiling(crm: Any, bodies: list[dict[str, Any]], parallelism: int) -> dict[str, Any]:
    client = crm.client
    before = client.stats.snapshot()["requests"]
    started = time.perf_counter()
    results = client.write_many(
        "accounts", bodies, "create", parallelism=parallelism, method="bulk"
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "records": len(bodies),
        "failed": sum(1 for r in results if not r.ok),
        "requests": client.stats.snapshot()["requests"] - before,
    }


def modify_share(share: float) -> int:
    from django.db.models import F, Value  # noqa: PLC0415
    from django.db.models.functions import Concat  # noqa: PLC0415
    from django.utils import timezone  # noqa: PLC0415

    from erp.models import Customer  # noqa: PLC0415

    pks = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    step = max(1, round(1 / share))
    chosen = pks[::step]
    now = timezone.now()
    for start in range(0, len(chosen), 500):
        Customer.objects.filter(pk__in=chosen[start : start + 500]).update(
            name=Concat(F("name"), Value(" *")), modified_at=now
        )
    return len(chosen)


def per_record_sample(sample: int, parallelism: int) -> dict[str, Any]:
    from erp import demo  # noqa: PLC0415
    from syncjobs.models import IntegrationTableMapping  # noqa: PLC0415

    mapping = IntegrationTableMapping.objects.get(name="CUSTOMER")
    kept = mapping.table_filter
    mapping.table_filter = {**kept, "no__lte": demo.customer_no(sample - 1)}
    mapping.save(update_fields=["table_filter"])
    try:
        return run_child("single", parallelism)
    finally:
        mapping.table_filter = kept
        mapping.save(update_fields=["table_filter"])


def rate(records: int, seconds: float) -> float:
    return round(records / seconds, 1) if seconds else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1000, help="per-record mode sample size")
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="added to every CRM request by the sandbox, for all three ways alike (a cloud "
        "CRM's round trip is tens of milliseconds; the loopback sandbox's about one)",
    )
    parser.add_argument(
        "--profile",
        default="",
        help="write cProfile stats of the engine's runs at N to FILE.full and FILE.incremental",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.parallelism, args.profile)
        return 0

    n, small = args.customers, max(1, args.customers // 10)

    def profile(mode: str) -> str:
        return f"{os.path.abspath(args.profile)}.{mode}" if args.profile else ""

    sample = min(args.sample, n)
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp_dir:
        tmp = Path(tmp_dir)
        _django(tmp)
        from django.core.management import call_command  # noqa: PLC0415
        from django.db import connection  # noqa: PLC0415

        from sandbox.process import start_sandbox_process  # noqa: PLC0415

        call_command("migrate", verbosity=0)
        try:
            sandbox = start_sandbox_process(tmp / "sandbox.sqlite3", quiet=True, timeout=60)
        except RuntimeError as exc:
            raise SystemExit(f"sandbox did not start: {exc}") from exc
        with sandbox:
            seed_seconds = seed_customers(small, append=False)
            connect(sandbox)
            crm = _adapter(args.parallelism, "auto")
            admin = _adapter(args.parallelism, "auto", admin_app=True)

            print(f"engine, {small} customers (N/10) ...", file=sys.stderr)
            fresh_crm(sandbox, crm, admin)
            latency(sandbox, args.latency_ms)
            at_small = run_child("full", args.parallelism)

            seed_seconds += seed_customers(n - small, append=True)
            print(f"engine, {n} customers ...", file=sys.stderr)
            fresh_crm(sandbox, crm, admin)
            latency(sandbox, args.latency_ms)
            full = run_child("full", args.parallelism, profile("full"))

            changed = modify_share(0.01)
            print(f"incremental, {changed} changed ...", file=sys.stderr)
            incremental = run_child("incremental", args.parallelism, profile("incremental"))

            print(f"one request per record, {sample} customers ...", file=sys.stderr)
            fresh_crm(sandbox, crm, admin)
            latency(sandbox, args.latency_ms)
            # The per-record way: one record, one request, one at a time (as the reference
            # synchronizes), not spread over threads.
            single = per_record_sample(sample, 1)

            print(f"bare CreateMultiple, {n} accounts ...", file=sys.stderr)
            fresh_crm(sandbox, crm, admin)
            bodies = account_bodies(crm)
            latency(sandbox, args.latency_ms)
            bare = ceiling(crm, bodies, args.parallelism)
            del bodies
            crm.client.close()
        connection.close()

    engine_rate = rate(full["inserted"], full["seconds"])
    ceiling_rate = rate(bare["records"] - bare["failed"], bare["seconds"])
    single_rate = rate(single["inserted"], single["seconds"])
    small_rate = rate(at_small["inserted"], at_small["seconds"])
    ratio_ceiling = round(engine_rate / ceiling_rate, 3) if ceiling_rate else 0.0
    ratio_single = round(engine_rate / single_rate, 1) if single_rate else 0.0
    inc_fraction = round(incremental["seconds"] / full["seconds"], 4)
    mem_growth = round(full["peak_rss_mb"] / at_small["peak_rss_mb"], 3)
    ok = {
        "ceiling": ratio_ceiling >= TARGET_CEILING_RATIO,
        "per_record": ratio_single >= TARGET_PER_RECORD_RATIO,
        "incremental": inc_fraction <= TARGET_INCREMENTAL_FRACTION,
        "memory": mem_growth <= TARGET_MEMORY_GROWTH,
    }

    def mark(key: str) -> str:
        return "ok" if ok[key] else "MISSED"

    print(
        f"\n{n} customers, parallelism {args.parallelism}, CRM latency {args.latency_ms} ms, "
        "SQLite + sandbox CRM"
    )
    print(f"seeding took {seed_seconds:.1f} s")
    print(
        f"engine, bulk             {engine_rate:>9.1f} records/s "
        f"({full['seconds']:.1f} s, {full['inserted']} inserted, {full['failed']} failed, "
        f"{full['requests']} requests)"
    )
    print(f"engine, bulk, N/10       {small_rate:>9.1f} records/s ({at_small['seconds']:.1f} s)")
    print(
        f"engine, one per record   {single_rate:>9.1f} records/s "
        f"({single['seconds']:.1f} s for a sample of {single['inserted']})"
    )
    print(
        f"bare CreateMultiple      {ceiling_rate:>9.1f} records/s ({bare['seconds']:.1f} s, "
        f"{bare['requests']} requests, {bare['failed']} failed)"
    )
    print(
        f"engine / ceiling         {ratio_ceiling:>9.3f}   target >= {TARGET_CEILING_RATIO}  "
        + mark("ceiling")
    )
    print(
        f"engine / per record      {ratio_single:>9.1f}x  "
        f"target >= {TARGET_PER_RECORD_RATIO:.0f}x  " + mark("per_record")
    )
    print(
        f"incremental ({incremental['modified']} modified) {incremental['seconds']:.2f} s = "
        f"{inc_fraction:.2%} of the full run   target <= {TARGET_INCREMENTAL_FRACTION:.0%}  "
        f"{mark('incremental')}"
    )
    print(
        f"peak memory              {at_small['peak_rss_mb']:.0f} MB at {small}, "
        f"{full['peak_rss_mb']:.0f} MB at {n} (x{mem_growth:.2f})   "
        f"target <= x{TARGET_MEMORY_GROWTH}  {mark('memory')}"
    )
    print(
        json.dumps(
            {
                "benchmark": "engine",
                "customers": n,
                "sample": sample,
                "parallelism": args.parallelism,
                "latency_ms": args.latency_ms,
                "seed_seconds": round(seed_seconds, 2),
                "engine_records_per_second": engine_rate,
                "engine_small_records_per_second": small_rate,
                "per_record_records_per_second": single_rate,
                "ceiling_records_per_second": ceiling_rate,
                "ratio_engine_to_ceiling": ratio_ceiling,
                "ratio_engine_to_per_record": ratio_single,
                "incremental_changed": changed,
                "incremental_seconds": incremental["seconds"],
                "full_seconds": full["seconds"],
                "incremental_fraction": inc_fraction,
                "peak_rss_mb_small": at_small["peak_rss_mb"],
                "peak_rss_mb_full": full["peak_rss_mb"],
                "memory_growth": mem_growth,
                "targets_met": ok,
                "runs": {
                    "full": full,
                    "small": at_small,
                    "incremental": incremental,
                    "per_record": single,
                    "ceiling": bare,
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
