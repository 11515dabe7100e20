"""The throttle gate: one "blocked until" time per CRM user, shared by threads and processes.

Dataverse's service protection limits count per user. When any client of a user gets a 429 with
`Retry-After`, every other thread and worker process of that user must pause too, or they keep
hitting the limit and the server extends the penalty. The gate stores the wall-clock time until
which requests are blocked: in memory (for threads) and in a cross-process store: a small file
locked with fcntl (default, under a configurable directory) or Redis when a URL is configured.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import redis  # installed with celery[redis], a dependency of the project

logger = logging.getLogger(__name__)


class GateStore(Protocol):
    def get(self, key: str) -> float: ...

    def raise_to(self, key: str, until: float) -> None: ...


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


class FileGateStore:
    """One file per key holding the blocked-until epoch seconds; fcntl locks keep it consistent."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / f"crm-throttle-{_digest(key)}"

    def get(self, key: str) -> float:
        path = self._path(key)
        try:
            with open(path, "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_SH)
                try:
                    raw = handle.read()
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        except FileNotFoundError:
            return 0.0
        try:
            return float(raw.decode() or 0)
        except ValueError:
            return 0.0

    def raise_to(self, key: str, until: float) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path(key), os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                try:
                    current = float(handle.read().decode() or 0)
                except ValueError:
                    current = 0.0
                if until > current:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(repr(until).encode())
                    handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


_RAISE_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""


class RedisGateStore:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._raise = self.client.register_script(_RAISE_SCRIPT)

    @staticmethod
    def _key(key: str) -> str:
        return f"erpcrm:crm-throttle:{_digest(key)}"

    def get(self, key: str) -> float:
        try:
            raw = self.client.get(self._key(key))
        except Exception as exc:  # noqa: BLE001 - a broken Redis must not stop CRM traffic
            logger.warning("throttle gate: Redis unavailable (%s)", exc.__class__.__name__)
            return 0.0
        return float(raw) if raw else 0.0

    def raise_to(self, key: str, until: float) -> None:
        ttl_ms = max(1000, int((until - time.time()) * 1000) + 60_000)
        try:
            self._raise(keys=[self._key(key)], args=[repr(until), ttl_ms])
        except Exception as exc:  # noqa: BLE001
            logger.warning("throttle gate: Redis unavailable (%s)", exc.__class__.__name__)


class ThrottleGate:
    """Blocks callers until the shared "blocked until" time has passed."""

    def __init__(self, key: str, store: GateStore | None) -> None:
        self.key = key
        self.store = store
        self._lock = threading.Lock()
        self._until = 0.0

    def blocked_until(self) -> float:
        with self._lock:
            local = self._until
        remote = self.store.get(self.key) if self.store is not None else 0.0
        return max(local, remote)

    def wait(self, sleep: Callable[[float], None] = time.sleep) -> float:
        """Sleep until the gate opens; returns the seconds slept."""
        slept = 0.0
        while True:
            remaining = self.blocked_until() - time.time()
            if remaining <= 0:
                return slept
            sleep(min(remaining, 5.0))
            slept += min(remaining, 5.0)

    def block(self, seconds: float) -> None:
        until = time.time() + max(0.0, seconds)
        with self._lock:
            self._until = max(self._until, until)
        if self.store is not None:
            self.store.raise_to(self.key, until)


_gates: dict[tuple[str, str], ThrottleGate] = {}
_gates_lock = threading.Lock()


def gate_for(
    environment_url: str, principal: str, *, directory: str | None, redis_url: str | None
) -> ThrottleGate:
    """The process-wide gate of one CRM user (same object for every client of that user)."""
    key = f"{environment_url.rstrip('/').lower()}|{principal.lower()}"
    store_id = f"redis:{redis_url}" if redis_url else f"file:{directory or ''}"
    with _gates_lock:
        gate = _gates.get((key, store_id))
        if gate is None:
            store: GateStore | None
            if redis_url:
                store = RedisGateStore(redis_url)
            elif directory:
                store = FileGateStore(directory)
            else:
                store = None
            gate = ThrottleGate(key, store)
            _gates[(key, store_id)] = gate
        return gate


def reset_gates() -> None:
    """Forget in-process gates (tests)."""
    with _gates_lock:
        _gates.clear()
