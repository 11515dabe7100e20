"""Fixtures for the setup tests: an integration administrator, the sandbox's published
credentials, and a real browser (Debian's chromium, skipped unless available)."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import factory
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from factory.django import DjangoModelFactory

from accounts.roles import INTEGRATION_ADMIN
from sandbox import seed

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
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct horse battery staple"  # noqa: S105 - test user password


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@erp.example")
    password = factory.django.Password(PASSWORD)


class IntegrationAdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"intadmin{n}")

    @factory.post_generation
    def groups(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.groups.add(Group.objects.get_or_create(name=INTEGRATION_ADMIN)[0])


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
def crm(sandbox) -> Crm:  # noqa: ANN001
    """The sandbox, freshly reseeded (no solution imported, no roles assigned)."""
    sandbox.reset()
    return Crm(url=sandbox.url, token_url=sandbox.token_url)


@pytest.fixture
def integration_admin(db):  # noqa: ANN001, ANN201
    return IntegrationAdminFactory()


@pytest.fixture
def admin_client(client, integration_admin):  # noqa: ANN001, ANN201
    client.force_login(integration_admin)
    return client


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        message = (
            "Chromium not found at /usr/bin/chromium: install it with `apt-get install chromium`"
        )
        if os.environ.get("ERPCRM_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def saved_connection(crm, monkeypatch, db):  # noqa: ANN001, ANN201
    """A connection set up through setup_connection (solution imported, integration enabled)."""
    import io

    from django.core.management import call_command

    from setup_wizard.models import CrmConnection

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
