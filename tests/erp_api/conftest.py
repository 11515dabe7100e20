from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from accounts import roles


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
