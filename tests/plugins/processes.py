"""Real child processes against the test database and broker: a Celery worker, or any process a
test starts itself (the web server, a second client) through `child_process_env`."""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from pytest_django import DjangoDbBlocker

from core.models import WorkerHeartbeat
from core.tasks import heartbeat
from erpcrm.celery import app
from sandbox.process import BASE_DIR


def test_database_url() -> str:
    """DATABASE_URL of the test database (once pytest-django has set it up)."""
    sd = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{sd['NAME']}"
    if connection.vendor == "postgresql":
        credentials = quote(sd["USER"] or "", safe="")
        if sd["PASSWORD"]:
            credentials += ":" + quote(sd["PASSWORD"], safe="")
        host = sd["HOST"] or "localhost"
        port = f":{sd['PORT']}" if sd["PORT"] else ""
        return f"postgres://{credentials}@{host}{port}/{quote(sd['NAME'], safe='')}"
    raise RuntimeError(f"no DATABASE_URL for the {connection.vendor} backend")


test_database_url.__test__ = False  # a helper, not a test


def child_env() -> dict[str, str]:
    """Environment for a child process on the test database and broker.

    The broker settings (CELERY_BROKER_URL, or CELERY_BROKER_DIR for the file-system broker,
    exported by the test settings) are inherited from this process.
    """
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "erpcrm.settings.test",
        "DATABASE_URL": test_database_url(),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def child_process_env(transactional_db: None) -> dict[str, str]:
    """Environment for a child process that must see this test's database and broker.

    Needs `transactional_db`: rows written by a child are invisible inside a test transaction.
    """
    return child_env()


class WorkerProcess:
    """A running `celery worker`: `hostname` is its node name, `log_path` its output, and
    `start_heartbeat` the heartbeat it recorded when it became ready."""

    def __init__(self, hostname: str, proc: subprocess.Popen, log_path: Path) -> None:
        self.hostname = hostname
        self.proc = proc
        self.log_path = log_path
        self.start_heartbeat: WorkerHeartbeat | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Poll `predicate` (e.g. a database check) until it holds; fail with the worker log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None:
                pytest.fail(f"celery worker exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        pytest.fail(f"condition not met within {timeout} s; worker log:\n{self.log()[-4000:]}")

    def has_heartbeat(self) -> bool:
        return WorkerHeartbeat.objects.filter(hostname=self.hostname).exists()


def _purge_broker() -> None:
    # Messages left by earlier tests name rows that no longer exist.
    app.control.purge()


def worker_spawn(log_dir: Path, extra_env: dict[str, str] | None = None) -> WorkerProcess:
    """Start a real Celery worker process (solo pool, the test process's queue) on the test
    database, with `extra_env` on top of the test settings (e.g. a setting the worker reads from
    the environment). Not waited for: see `worker_ready`; stop it with `worker_stop`."""
    hostname = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    log_path = log_dir / f"celery-worker-{hostname.partition('@')[0]}.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "erpcrm", "worker",
                "--pool=solo", "--concurrency=1", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE,
                "-n", hostname,
                "-l", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=BASE_DIR,
            env={**child_env(), **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    return WorkerProcess(hostname, proc, log_path)


def worker_ready(worker: WorkerProcess) -> WorkerProcess:
    """Wait until the spawned worker has recorded its start heartbeat (core.worker). Kept on
    the worker for the test of that heartbeat, then removed: the tests find the database as they
    would without a worker. Stops the worker when it does not get ready."""
    try:
        # A generous wait: on a loaded machine (load 15 on 2 cores) a worker took over 30 s
        # just to import Django and print its banner.
        worker.wait_for(worker.has_heartbeat, timeout=90)
        worker.start_heartbeat = WorkerHeartbeat.objects.get(hostname=worker.hostname)
        WorkerHeartbeat.objects.filter(hostname=worker.hostname).delete()
    except BaseException:
        worker_stop(worker)
        raise
    return worker


def worker_start(log_dir: Path, extra_env: dict[str, str] | None = None) -> WorkerProcess:
    """A real Celery worker process, ready (`worker_spawn`, then `worker_ready`)."""
    return worker_ready(worker_spawn(log_dir, extra_env))


def worker_stop(worker: WorkerProcess) -> None:
    _stop(worker.proc)


@pytest.fixture(scope="module")
def celery_worker_module(
    django_db_setup: None,
    django_db_blocker: DjangoDbBlocker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WorkerProcess]:
    """One real Celery worker process (solo pool, the test process's queue) per test module.

    It runs on the test database itself (a file on SQLite, `test_<name>` on PostgreSQL), so it
    sees what each transactional test commits, and pytest-django's flush after each test
    removes what it wrote. Tests use it through `celery_worker_process`.
    """
    with django_db_blocker.unblock():
        _purge_broker()
        worker = worker_start(tmp_path_factory.mktemp("celery-worker"))
    try:
        yield worker
    finally:
        worker_stop(worker)


def _stop(proc: subprocess.Popen) -> None:
    # Killed, not asked: a solo worker on a polled broker checks for a shutdown request only
    # between two 2-second waits for messages, so SIGTERM took 2-4 s per worker. By now no test
    # waits for it, and `make run`'s orderly shutdown of its worker is tested in test_scripts.
    proc.kill()
    proc.wait()


@pytest.fixture
def celery_worker_process(
    celery_worker_module: WorkerProcess, child_process_env: dict[str, str]
) -> WorkerProcess:
    """The module's Celery worker, proven to serve this test: a `core.heartbeat` sent through
    the broker has reached this test's database (so /healthz sees a live worker).

    Enqueue with `.delay()` from the test and poll for the effect with
    `celery_worker_process.wait_for(...)`.
    """
    worker = celery_worker_module
    _purge_broker()
    heartbeat.delay()
    worker.wait_for(worker.has_heartbeat)
    return worker
