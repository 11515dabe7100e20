"""Fixtures shared by the whole suite: one choke point per external system.

- The sandbox CRM runs as a real separate process (`manage.py runsandbox`) on a free port with
  its own database file; tests talk to it over real HTTP.
- PostgreSQL and Redis are used when DATABASE_URL / CELERY_BROKER_URL point at them (CI's
  second pass); otherwise SQLite and the file-system broker.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.utils import translation
from playwright.sync_api import Browser, Page, sync_playwright

# Re-exported: tests import the sandbox process helpers from here.
from sandbox.process import (  # noqa: F401
    BASE_DIR,
    SandboxProcess,
    free_port,
    start_sandbox_process,
    wait_for_http,
)
from tests.factories.accounts import UserFactory


def start_sandbox(tmp_dir: Path, *extra_args: str) -> SandboxProcess:
    port = free_port()
    return start_sandbox_process(
        tmp_dir / f"sandbox-{port}.sqlite3",
        port=port,
        extra_args=extra_args,
        settings_module="erpcrm.settings.test",
    )


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """One sandbox CRM for the session. Tests that change its configuration reset it after."""
    with start_sandbox(tmp_path_factory.mktemp("sandbox")) as sb:
        yield sb


# --- Real child processes against the test database (Celery worker, web app) ---------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Markers end up in the junit XML as properties, so CI can prove browser tests really ran.
    for item in items:
        for name in ("browser", "worker", "sandbox"):
            if item.get_closest_marker(name) is not None:
                item.user_properties.append(("marker", name))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The test settings give each pytest process its own file-system broker folder.
    broker_dir = os.environ.get("CELERY_BROKER_DIR", "")
    if Path(broker_dir).name == f"erpcrm-test-broker-{os.getpid()}":
        shutil.rmtree(broker_dir, ignore_errors=True)


def test_database_url() -> str:
    """DATABASE_URL of the test database the current test uses (call it inside a test)."""
    from django.db import connection

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


@pytest.fixture
def child_process_env(transactional_db: None) -> dict[str, str]:
    """Environment for a child process that must see this test's database and broker.

    Needs `transactional_db`: rows written by a child are invisible inside a test transaction.
    The broker settings (CELERY_BROKER_URL, or CELERY_BROKER_DIR for the file-system broker,
    exported by the test settings) are inherited from this process.
    """
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "erpcrm.settings.test",
        "DATABASE_URL": test_database_url(),
        "PYTHONUNBUFFERED": "1",
    }


class WorkerProcess:
    """A running `celery worker`: `hostname` is its node name, `log_path` its output."""

    def __init__(self, hostname: str, proc: subprocess.Popen, log_path: Path) -> None:
        self.hostname = hostname
        self.proc = proc
        self.log_path = log_path

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
            time.sleep(0.1)
        pytest.fail(f"condition not met within {timeout} s; worker log:\n{self.log()[-4000:]}")


def _purge_broker() -> None:
    from erpcrm.celery import app

    # Messages left by earlier tests name rows that no longer exist.
    app.control.purge()


@pytest.fixture
def celery_worker_process(
    child_process_env: dict[str, str], tmp_path: Path
) -> Iterator[WorkerProcess]:
    """A real Celery worker process (solo pool, queue `celery`) on the test database and broker.

    Ready when it has recorded its start heartbeat (core.worker). Enqueue with `.delay()` from
    the test and poll for the effect with `celery_worker_process.wait_for(...)`.
    """
    from core.models import WorkerHeartbeat

    _purge_broker()
    hostname = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    log_path = tmp_path / "celery-worker.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "erpcrm", "worker",
                "--pool=solo", "--concurrency=1", "-Q", "celery", "-n", hostname,
                "-l", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=BASE_DIR,
            env=child_process_env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    worker = WorkerProcess(hostname, proc, log_path)
    try:
        worker.wait_for(lambda: WorkerHeartbeat.objects.filter(hostname=hostname).exists())
        yield worker
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(autouse=True)
def _reset_active_language() -> Iterator[None]:
    """Django's test client leaves the language of the last request active in the thread; a
    Spanish request must not turn the next test's messages Spanish."""
    yield
    translation.deactivate()


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    """make_user("sally", roles.SALESPERSON): a user in the given role groups."""

    def make(username: str, *role_names: str) -> User:
        return UserFactory(username=username, roles=list(role_names))

    return make


# --- a real browser: Debian's chromium driven by Playwright (never a downloaded browser) ---------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in this thread; Django must still allow the ORM in
# test code around it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One chromium for the whole session: Playwright allows one sync driver per thread."""
    if not CHROMIUM.exists():
        message = (
            "Chromium not found at /usr/bin/chromium: install it with `apt-get install chromium`"
        )
        if os.environ.get("ERPCRM_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, live_server: object) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, locale="en-US")  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()
