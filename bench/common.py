"""What the page benchmarks share: timing a request, its percentiles, seeding customers once.

Imported by the scripts beside it (`bench/` is on sys.path when one of them runs).
"""

import time
from collections.abc import Callable


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def measure(action: Callable[[], object], repeat: int, warmup: int = 2) -> list[float]:
    """Milliseconds of `repeat` calls, after `warmup` calls that are not counted."""
    for _ in range(warmup):
        action()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def seed_customers_once(customers: int) -> float | None:
    """seed_demo with N customers into an empty database; its seconds, or None when the
    database has customers already (they are used as they are). Needs django.setup()."""
    from django.core.management import call_command  # noqa: PLC0415 - after django.setup()

    from erp.models import Customer  # noqa: PLC0415 - after django.setup()

    existing = Customer.objects.count()
    if existing:
        print(f"Using the {existing} customers already in the database.")
        return None
    started = time.perf_counter()
    call_command(
        "seed_demo",
        customers=customers,
        contacts=min(customers, 2000),
        items=500,
        resources=40,
        salespeople=8,
    )
    return time.perf_counter() - started
