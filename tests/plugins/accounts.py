"""Users of the ERP: in given roles, and the integration administrator of the setup tests."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.factories.accounts import IntegrationAdminFactory, UserFactory


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    """make_user("sally", roles.SALESPERSON): a user in the given role groups."""

    def make(username: str, *role_names: str) -> User:
        return UserFactory(username=username, roles=list(role_names))

    return make


@pytest.fixture
def integration_admin(db: None) -> User:
    return IntegrationAdminFactory()


@pytest.fixture
def integration_admin_client(client: Client, integration_admin: User) -> Client:
    """Django's test client, signed in as an integration administrator."""
    client.force_login(integration_admin)
    return client
