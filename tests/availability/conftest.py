import base64
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import Client

from accounts.services import availability_access_set, webservice_key_generate
from tests.factories.erp import ItemFactory, UnitOfMeasureFactory


@pytest.fixture
def make_service_user(db: None) -> Callable[..., tuple[str, str]]:
    def make(username: str = "crm-availability", *, allowed: bool = True) -> tuple[str, str]:
        user = get_user_model().objects.create_user(username=username, password="Not-used-1!")
        if allowed:
            availability_access_set(user=user, allowed=True)
        return username, webservice_key_generate(user=user)

    return make


@pytest.fixture
def odata(live_server, make_service_user) -> Callable[..., requests.Response]:
    """GET a path below /odata/ as a permitted service user."""
    session = requests.Session()
    session.auth = make_service_user()
    base = f"{live_server.url}/odata/"

    def get(path: str = "", **kwargs) -> requests.Response:
        return session.get(base + path, timeout=10, **kwargs)

    get.base = base  # type: ignore[attr-defined]
    get.session = session  # type: ignore[attr-defined]
    return get


@pytest.fixture
def items(db: None) -> list:
    pcs = UnitOfMeasureFactory(code="PCS", description="Piece")
    box = UnitOfMeasureFactory(code="BOX", description="Box")
    return [
        ItemFactory(
            no="1000",
            description="Bicycle",
            base_unit_of_measure=pcs,
            inventory=Decimal("5"),
            unit_price=Decimal("4000.00"),
        ),
        ItemFactory(
            no="1100",
            description="Front Wheel",
            base_unit_of_measure=pcs,
            inventory=Decimal("0"),
            unit_price=Decimal("65.50"),
        ),
        ItemFactory(
            no="1200",
            description="Back Wheel",
            base_unit_of_measure=pcs,
            inventory=Decimal("12.5"),
            unit_price=Decimal("70.00"),
        ),
        ItemFactory(
            no="70000",
            description="Side Panel",
            base_unit_of_measure=box,
            inventory=Decimal("40"),
            unit_price=Decimal("12.25"),
            blocked=True,
        ),
        ItemFactory(
            no="1300 A",
            description="Chair O'Brien",
            base_unit_of_measure=pcs,
            inventory=Decimal("1"),
            unit_price=Decimal("99.00"),
        ),
    ]


def basic(username: str, key: str) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode("ascii")


@pytest.fixture
def service(
    client: Client, make_service_user: Callable[..., tuple[str, str]], items: list[Any]
) -> Callable[..., HttpResponse]:
    """GET below /odata/ through the test client as a permitted service user, with `items`."""
    authorization = basic(*make_service_user())

    def get(
        path: str = "/odata/ProductItemAvailability",
        params: dict[str, str] | None = None,
        **headers: str,
    ) -> HttpResponse:
        return client.get(path, params or {}, HTTP_AUTHORIZATION=authorization, **headers)

    return get
