"""The sandbox seen as the CRM the setup connects to: its published credentials, and a
connection saved through `setup_connection` (shared by the setup and synchronization tests)."""

import io
from dataclasses import dataclass

import pytest
from django.core.management import call_command

from connection.models import CrmConnection
from sandbox import seed
from sandbox.process import SandboxProcess


@dataclass(frozen=True)
class CrmCredentials:
    url: str
    token_url: str
    client_id: str = seed.INTEGRATION_CLIENT_ID
    client_secret: str = seed.INTEGRATION_CLIENT_SECRET
    admin_username: str = seed.ADMIN_USERNAME
    admin_password: str = seed.ADMIN_PASSWORD
    integration_user_id: str = seed.INTEGRATION_USER_ID


@pytest.fixture
def sandbox_crm(sandbox: SandboxProcess) -> CrmCredentials:
    """The sandbox, freshly reseeded (no solution imported, no roles assigned)."""
    sandbox.reset()
    return CrmCredentials(url=sandbox.url, token_url=sandbox.token_url)


@pytest.fixture
def saved_connection(
    sandbox_crm: CrmCredentials, monkeypatch: pytest.MonkeyPatch, db: None
) -> CrmConnection:
    """A connection set up through setup_connection (solution imported, integration enabled)."""
    crm = sandbox_crm
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
