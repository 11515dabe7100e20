"""Thread-safe request counters of one client, for the review page and the benchmarks."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ClientStats:
    requests: int = 0
    throttled: int = 0  # 429 answers
    retries: int = 0  # requests sent again (429, 5xx, network, 401 refresh)
    errors: int = 0  # final failures raised to the caller
    bytes_sent: int = 0
    bytes_received: int = 0
    token_requests: int = 0
    throttle_wait_seconds: float = 0.0
    by_status: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def record_response(self, status: int, sent: int, received: int) -> None:
        with self._lock:
            self.requests += 1
            self.bytes_sent += sent
            self.bytes_received += received
            self.by_status[status] += 1
            if status == 429:
                self.throttled += 1

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "requests": self.requests,
                "throttled": self.throttled,
                "retries": self.retries,
                "errors": self.errors,
                "bytes_sent": self.bytes_sent,
                "bytes_received": self.bytes_received,
                "token_requests": self.token_requests,
                "throttle_wait_seconds": round(self.throttle_wait_seconds, 3),
                "by_status": dict(self.by_status),
            }
