"""The sandbox's one time source: the real time plus an offset that tests move forward.

Everything the sandbox decides by the time reads it here: access-token expiry, change-tracking
(delta token) expiry, `createdon`/`modifiedon` stamps, tombstones, and the service protection
windows. `POST /_sandbox/clock {"advance_seconds": N}` moves the clock forward so tests need not
sleep for the sandbox's sake; `POST /_sandbox/reset` sets the offset back to 0.

The offset is process-wide (one sandbox per process) and kept in memory only: a restarted
sandbox starts on the real time again.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_offset = 0.0


def offset() -> float:
    """Seconds the sandbox clock is ahead of the real time."""
    return _offset


def advance(seconds: float) -> float:
    """Move the clock forward by `seconds` (>= 0); return the new offset."""
    global _offset
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("advance_seconds: a finite number >= 0 (the clock only moves forward)")
    with _lock:
        _offset += seconds
        return _offset


def reset() -> None:
    """Back to the real time (offset 0)."""
    global _offset
    with _lock:
        _offset = 0.0


def now() -> float:
    """Seconds since the epoch, like `time.time()`."""
    return time.time() + _offset


def monotonic() -> float:
    """Like `time.monotonic()`: for intervals (service protection windows)."""
    return time.monotonic() + _offset


def utcnow() -> datetime:
    """The current UTC date-time, like `datetime.now(UTC)`."""
    return datetime.now(UTC) + timedelta(seconds=_offset)


def utcnow_iso() -> str:
    """`utcnow()` as Dataverse writes date-times: `2024-05-01T12:00:00Z` (second resolution)."""
    return utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["advance", "monotonic", "now", "offset", "reset", "utcnow", "utcnow_iso"]
