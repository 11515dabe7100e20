from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from accounts import roles


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(username: str, *role_names: str) -> User:
        user = User.objects.create_user(username=username, password="Secret-pass-123")
        for name in role_names:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        return user

    return make


@pytest.fixture
def writer(make_user: Callable[..., User]) -> APIClient:
    """A salesperson, logged in with a session like the browsable API."""
    client = APIClient()
    client.force_login(make_user("sally", roles.SALESPERSON))
    return client


@pytest.fixture
def reader(make_user: Callable[..., User]) -> APIClient:
    client = APIClient()
    client.force_login(make_user("sam", roles.SUPPORT))
    return client
