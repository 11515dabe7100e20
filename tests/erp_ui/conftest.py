from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

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
def sales_client(make_user: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(make_user("sally", roles.SALESPERSON))
    return client


@pytest.fixture
def support_client(make_user: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(make_user("sam", roles.SUPPORT))
    return client
