"""Benchmark: creating accounts one request per record vs $batch of 1,000 vs CreateMultiple.

Starts its own sandbox CRM (`manage.py runsandbox` on a free port, temporary database), then
creates N accounts each way (distinct names per way) with the same degree of parallelism and
prints records/s and the ratio to one-request-per-record. The last line is one JSON object.

    .venv/bin/python bench/crm_client.py --count 2000 --parallelism 4
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from dataverse.client import ConnectionSettings, DataverseClient  # noqa: E402
from sandbox.process import SandboxProcess, start_sandbox_process  # noqa: E402

CLIENT_ID = "5e1d6c7a-0d1b-4f1e-9c3a-2b7e8f9a0c01"
CLIENT_SECRET = "sandbox-integration-secret"


def start_sandbox(tmp: Path) -> SandboxProcess:
    try:
        return start_sandbox_process(tmp / "sandbox.sqlite3", quiet=True, timeout=60)
    except RuntimeError as exc:
        raise SystemExit(f"sandbox did not start: {exc}") from exc


def run_way(client: DataverseClient, method: str, count: int, parallelism: int, chunk: int) -> dict:
    prefix = f"bench-{method}-{uuid.uuid4().hex[:6]}-"
    records = [{"name": f"{prefix}{n:06d}", "telephone1": f"+1 555 {n:06d}"} for n in range(count)]
    before = client.stats.snapshot()
    started = time.perf_counter()
    results = client.write_many(
        "accounts", records, chunk_size=chunk, parallelism=parallelism, method=method
    )
    elapsed = time.perf_counter() - started
    after = client.stats.snapshot()
    failed = sum(1 for r in results if not r.ok)
    return {
        "method": method,
        "records": count,
        "failed": failed,
        "seconds": round(elapsed, 3),
        "records_per_second": round(count / elapsed, 1),
        "requests": after["requests"] - before["requests"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--chunk-size", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-crm-") as tmp_dir:
        tmp = Path(tmp_dir)
        with start_sandbox(tmp) as sandbox:
            url = sandbox.url
            client = DataverseClient(
                ConnectionSettings(
                    environment_url=url,
                    token_url=sandbox.token_url,
                    client_id=CLIENT_ID,
                    client_secret=CLIENT_SECRET,
                    throttle_dir=str(tmp / "throttle"),
                    parallelism=args.parallelism,
                )
            )
            client.whoami()  # token and connection warm-up, not measured
            ways = [
                run_way(client, method, args.count, args.parallelism, args.chunk_size)
                for method in ("single", "batch", "bulk")
            ]
            client.close()
    baseline = ways[0]["records_per_second"]
    labels = {
        "single": "one request per record",
        "batch": f"$batch of {args.chunk_size}",
        "bulk": f"CreateMultiple of {args.chunk_size}",
    }
    print(f"{args.count} accounts, parallelism {args.parallelism}, sandbox CRM on {url}")
    for way in ways:
        way["ratio_to_single"] = round(way["records_per_second"] / baseline, 2)
        print(
            f"{labels[way['method']]:<28} {way['records_per_second']:>9.1f} records/s "
            f"({way['seconds']:.1f} s, {way['requests']} requests, {way['failed']} failed) "
            f"x{way['ratio_to_single']:.2f}"
        )
    print(
        json.dumps(
            {
                "benchmark": "crm_client_create",
                "count": args.count,
                "parallelism": args.parallelism,
                "chunk_size": args.chunk_size,
                "results": ways,
                "batch_ratio": ways[1]["ratio_to_single"],
                "bulk_ratio": ways[2]["ratio_to_single"],
            }
        )
    )


if __name__ == "__main__":
    main()
