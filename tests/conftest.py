"""The suite's root: shared fixtures come from plugin modules (one choke point per external
system), registered here because pytest accepts `pytest_plugins` only in the root conftest.

- tests/plugins/sandbox.py: the sandbox CRM process (`sandbox`).
- tests/plugins/processes.py: child processes on the test database and broker
  (`child_process_env`, `celery_worker_process`).
- tests/plugins/browser.py: chromium driven by Playwright (`browser`, `page`).
- tests/plugins/accounts.py: users in roles (`make_user`, `integration_admin`,
  `integration_admin_client`).
- tests/plugins/crm_setup.py: the sandbox as the CRM the setup connects to (`sandbox_crm`,
  `saved_connection`).
- tests/plugins/sync.py: the default mappings on that connection (`sync_setup`), a
  salesperson coupled to the sandbox's CRM user (`crm_salesperson`).

PostgreSQL and Redis are used when DATABASE_URL / CELERY_BROKER_URL point at them (CI's second
pass); otherwise SQLite and the file-system broker.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import translation

pytest_plugins = [
    "tests.plugins.sandbox",
    "tests.plugins.processes",
    "tests.plugins.browser",
    "tests.plugins.accounts",
    "tests.plugins.crm_setup",
    "tests.plugins.sync",
]


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


@pytest.fixture(autouse=True)
def _reset_active_language() -> Iterator[None]:
    """Django's test client leaves the language of the last request active in the thread; a
    Spanish request must not turn the next test's messages Spanish."""
    yield
    translation.deactivate()
