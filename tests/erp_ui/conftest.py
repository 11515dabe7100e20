from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts import roles


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
