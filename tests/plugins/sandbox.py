"""The sandbox CRM: a real separate process (`manage.py runsandbox`) on a free port with its own
database file; tests talk to it over real HTTP."""

from collections.abc import Iterator

import pytest

from sandbox.process import SandboxProcess
from tests.support.sandbox import start_sandbox


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """One sandbox CRM for the session. Tests that change its configuration reset it after."""
    with start_sandbox(tmp_path_factory.mktemp("sandbox")) as sb:
        yield sb
