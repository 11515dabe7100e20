"""Who may use the REST API: roles, sessions and tokens."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts import roles
from erp import models
from tests.factories import erp as f


def test_anonymous_caller_is_refused_with_json_401(db: None) -> None:
    response = APIClient().get("/api/customers/")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert "credentials" in response.json()["detail"]


def test_anonymous_caller_cannot_read_the_schema(db: None) -> None:
    assert APIClient().get("/api/schema/").status_code in (401, 403)


def test_support_can_read_but_not_change(reader: APIClient) -> None:
    customer = f.CustomerFactory(name="Unchanged")

    read = reader.get(f"/api/customers/{customer.pk}/")
    patch = reader.patch(f"/api/customers/{customer.pk}/", {"name": "Changed"}, format="json")
    post = reader.post("/api/customers/", {"no": "NEW", "name": "New"}, format="json")

    assert read.status_code == 200
    assert patch.status_code == 403
    assert post.status_code == 403
    customer.refresh_from_db()
    assert customer.name == "Unchanged"
    assert not models.Customer.objects.filter(no="NEW").exists()


def test_user_without_a_role_is_refused(make_user: Callable[..., User]) -> None:
    client = APIClient()
    client.force_login(make_user("norole"))

    assert client.get("/api/customers/").status_code == 403


@pytest.mark.parametrize("role", [roles.SALESPERSON, roles.INTEGRATION_ADMIN])
def test_writers_can_create(make_user: Callable[..., User], role: str) -> None:
    client = APIClient()
    client.force_login(make_user("writer", role))

    response = client.post("/api/customers/", {"no": "W1", "name": "Writer Ltd."}, format="json")

    assert response.status_code == 201


def test_token_from_the_api_token_command_authenticates(
    make_user: Callable[..., User], capsys: pytest.CaptureFixture[str]
) -> None:
    make_user("robot", roles.SALESPERSON)
    call_command("api_token", "robot")
    token = capsys.readouterr().out.strip()
    client = APIClient()

    wrong = client.get("/api/customers/", HTTP_AUTHORIZATION="Token not-a-token")
    read = client.get("/api/customers/", HTTP_AUTHORIZATION=f"Token {token}")
    created = client.post(
        "/api/customers/",
        {"no": "T1", "name": "Token Ltd."},
        format="json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )

    assert wrong.status_code == 401
    assert read.status_code == 200
    assert created.status_code == 201
