"""Run-time behaviour of the sandbox that tests steer: token lifetime, change-tracking expiry,
service protection limits, fault injection (random and rule-based), and request statistics."""

from __future__ import annotations

import dataclasses
import math
import random
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from sandbox import clock

FAULT_KINDS = {"error", "throttle", "latency", "commit_then_fail"}


@dataclass
class FaultRule:
    """`count` next requests matching method + path regex get the fault (count < 0 = forever)."""

    method: str = "*"
    path: str = ".*"
    count: int = 1
    fault: str = "error"
    status: int | None = None  # error: 503, commit_then_fail: 500
    code: str = "0x80040216"
    message: str = "An unexpected error occurred (injected by the sandbox)."
    retry_after: int = 1
    latency_ms: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method.upper())) and re.search(self.path, path) is not None


@dataclass
class Settings:
    token_lifetime_seconds: int = 3599
    change_tracking_expiry_seconds: float = 7 * 24 * 3600
    rate_limit_requests: int = 0  # 0 = no service protection limit
    rate_limit_window_seconds: float = 300.0
    execution_time_limit_seconds: float = 0.0  # combined per user per window; 0 = no limit
    concurrency_limit: int = 0  # concurrent requests per user; 0 = no limit
    dop_hint: int = 8
    error_rate: float = 0.0
    error_status: int = 503
    latency_ms: int = 0
    commit_then_fail_rate: float = 0.0
    rules: list[FaultRule] = field(default_factory=list)
    # Hosts the item availability lookup may call (sandbox/availability.py), comma-separated.
    erp_hosts: str = "127.0.0.1,localhost,::1"

    def update(self, payload: dict[str, Any]) -> None:
        for name, value in payload.items():
            if name == "rules":
                self.rules = [FaultRule(**r) for r in value]
            elif name == "add_rules":
                self.rules.extend(FaultRule(**r) for r in value)
            elif name == "change_tracking_expiry_days":
                self.change_tracking_expiry_seconds = float(value) * 86400
            elif hasattr(self, name):
                current = getattr(self, name)
                setattr(self, name, type(current)(value))
            else:
                raise ValueError(f"unknown sandbox setting '{name}'")
        for rule in self.rules:
            if rule.fault not in FAULT_KINDS:
                raise ValueError(f"unknown fault '{rule.fault}' (one of {sorted(FAULT_KINDS)})")

    def as_dict(self) -> dict[str, Any]:
        return {
            "token_lifetime_seconds": self.token_lifetime_seconds,
            "change_tracking_expiry_seconds": self.change_tracking_expiry_seconds,
            "rate_limit_requests": self.rate_limit_requests,
            "rate_limit_window_seconds": self.rate_limit_window_seconds,
            "execution_time_limit_seconds": self.execution_time_limit_seconds,
            "concurrency_limit": self.concurrency_limit,
            "dop_hint": self.dop_hint,
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "latency_ms": self.latency_ms,
            "commit_then_fail_rate": self.commit_then_fail_rate,
            "rules": [vars(r) for r in self.rules],
            "erp_hosts": self.erp_hosts,
        }


@dataclass
class Decision:
    fault: FaultRule | None = None
    throttled_retry_after: int | None = None
    throttle_code: str = "0x80072322"
    throttle_message: str = ""
    commit_then_fail: bool = False
    counted: bool = False  # the request holds a concurrency slot: call Control.done()


class Control:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.defaults = Settings(**{k: getattr(settings, k) for k in vars(settings)})
        self.defaults.rules = [dataclasses.replace(rule) for rule in settings.rules]
        self.lock = threading.Lock()
        self.windows: dict[str, deque[float]] = defaultdict(deque)
        self.executions: dict[str, deque[tuple[float, float]]] = defaultdict(deque)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.stats: dict[str, Any] = {"requests": 0, "throttled": 0, "faults": 0, "by_method": {}}

    def reset_settings(self) -> None:
        with self.lock:
            for name in vars(self.defaults):
                value = getattr(self.defaults, name)
                if isinstance(value, list):  # fresh copies: rules count down in place
                    value = [dataclasses.replace(rule) for rule in value]
                setattr(self.settings, name, value)
            self.windows.clear()
            self.executions.clear()

    def remaining(self, user_id: str) -> int:
        limit = self.settings.rate_limit_requests or 6000
        return max(limit - len(self.windows.get(user_id, ())), 0)

    def decide(self, user_id: str, method: str, path: str) -> Decision:
        """Count the request, then apply rules, random faults and the request-count limit."""
        s = self.settings
        now = clock.monotonic()
        with self.lock:
            self.stats["requests"] += 1
            by_method = self.stats["by_method"]
            by_method[method] = by_method.get(method, 0) + 1
            for rule in s.rules:
                if rule.count != 0 and rule.matches(method, path):
                    if rule.count > 0:
                        rule.count -= 1
                    self.stats["faults"] += 1
                    if rule.fault == "throttle":
                        self.stats["throttled"] += 1
                    return Decision(fault=rule)
            s.rules = [r for r in s.rules if r.count != 0]
            window = self.windows[user_id]
            if s.rate_limit_requests:
                while window and window[0] <= now - s.rate_limit_window_seconds:
                    window.popleft()
                if len(window) >= s.rate_limit_requests:
                    self.stats["throttled"] += 1
                    retry = math.ceil(window[0] + s.rate_limit_window_seconds - now)
                    return Decision(
                        throttled_retry_after=max(retry, 1),
                        throttle_message=f"Number of requests exceeded the limit of "
                        f"{s.rate_limit_requests} over time window of "
                        f"{int(s.rate_limit_window_seconds)} seconds.",
                    )
            if s.execution_time_limit_seconds:
                spent = self.executions[user_id]
                while spent and spent[0][0] <= now - s.rate_limit_window_seconds:
                    spent.popleft()
                if sum(d for _, d in spent) > s.execution_time_limit_seconds:
                    self.stats["throttled"] += 1
                    retry = math.ceil(spent[0][0] + s.rate_limit_window_seconds - now)
                    return Decision(
                        throttled_retry_after=max(retry, 1),
                        throttle_code="0x80072321",
                        throttle_message="Combined execution time of incoming requests exceeded "
                        f"limit of {int(s.execution_time_limit_seconds * 1000):,}  milliseconds "
                        f"over time window of {int(s.rate_limit_window_seconds)} seconds. "
                        "Decrease number of concurrent requests or reduce the duration of "
                        "requests and try again later.",
                    )
            if s.concurrency_limit and self.in_flight[user_id] >= s.concurrency_limit:
                self.stats["throttled"] += 1
                return Decision(
                    throttled_retry_after=1,
                    throttle_code="0x80072326",
                    throttle_message="Number of concurrent requests exceeded the limit of "
                    f"{s.concurrency_limit}.",
                )
            self.in_flight[user_id] += 1
            window.append(now)
            if len(window) > 100000:
                window.popleft()
            if s.error_rate and random.random() < s.error_rate:
                self.stats["faults"] += 1
                return Decision(fault=FaultRule(fault="error", status=s.error_status), counted=True)
            if s.commit_then_fail_rate and random.random() < s.commit_then_fail_rate:
                self.stats["faults"] += 1
                return Decision(commit_then_fail=True, counted=True)
        return Decision(counted=True)

    def done(self, user_id: str, started: float) -> None:
        """A counted request finished: free its concurrency slot, add its execution time.

        `started` is real `time.monotonic()`: the duration is real time, its place in the
        window is the sandbox clock's."""
        duration = time.monotonic() - started
        now = clock.monotonic()
        with self.lock:
            self.in_flight[user_id] = max(self.in_flight[user_id] - 1, 0)
            if self.settings.execution_time_limit_seconds:
                self.executions[user_id].append((now, duration))
