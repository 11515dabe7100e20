"""Fixtures for the setup tests: an integration administrator and the sandbox's published
credentials. The browser fixture is the suite's own (tests/conftest.py)."""

from dataclasses import dataclass

import pytest

from sandbox import seed
from tests.factories.accounts import IntegrationAdminFactory, UserFactory

# Re-exported for the setup tests, which import them from here.
__all__ = ["IntegrationAdminFactory", "UserFactory"]


@dataclass(frozen=True)
class Crm:
    url: str
    token_url: str
    client_id: str = seed.INTEGRATION_CLIENT_ID
    client_secret: str = seed.INTEGRATION_CLIENT_SECRET
    admin_username: str = seed.ADMIN_USERNAME
    admin_password: str = seed.ADMIN_PASSWORD
    integration_user_id: str = seed.INTEGRATION_USER_ID


@pytest.fixture
def crm(sandbox) -> Crm:
    """The sandbox, freshly reseeded (no solution imported, no roles assigned)."""
    sandbox.reset()
    return Crm(url=sandbox.url, token_url=sandbox.token_url)


@pytest.fixture
def integration_admin(db):
    return IntegrationAdminFactory()


@pytest.fixture
def admin_client(client, integration_admin):
    client.force_login(integration_admin)
    return client


@pytest.fixture
def saved_connection(crm, monkeypatch, db):
    """A connection set up through setup_connection (solution imported, integration enabled)."""
    import io

    from django.core.management import call_command

    from connection.models import CrmConnection

    monkeypatch.setenv("CRM_CLIENT_SECRET", crm.client_secret)
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", crm.admin_password)
    call_command(
        "setup_connection",
        "--environment-url", crm.url, "--token-url", crm.token_url, "--client-id", crm.client_id,
        "--admin-username", crm.admin_username,
        stdout=io.StringIO(),
    )  # fmt: skip
    monkeypatch.delenv("CRM_CLIENT_SECRET")
    monkeypatch.delenv("CRM_ADMIN_PASSWORD")
    return CrmConnection.objects.get()
