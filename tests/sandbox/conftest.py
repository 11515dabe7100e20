"""Fixtures for the sandbox CRM tests: a freshly reseeded sandbox and authenticated sessions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.sandbox import ADMIN_USER, Crm


@pytest.fixture
def fresh(sandbox: Any) -> Iterator[Any]:
    """The session's sandbox, reseeded, with default settings; settings reset again after."""
    sandbox.reset()
    yield sandbox
    sandbox.reset()


@pytest.fixture
def integration_session(fresh: Any) -> Crm:
    """The integration user's session against the freshly reseeded sandbox."""
    return Crm(fresh)


@pytest.fixture
def admin_session(fresh: Any) -> Crm:
    """The sandbox administrator's session (password grant)."""
    return Crm(fresh, ADMIN_USER)
