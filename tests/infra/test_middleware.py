"""Anonymous visitors see the login page and nothing else."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/erp/customers/", "/setup/", "/sync/", "/admin/", "/nope/"])
def test_anonymous_visitor_is_sent_to_the_login_page(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_anonymous_visitor_sees_the_login_form(client: Client) -> None:
    response = client.get("/login/")

    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_anonymous_post_is_not_processed(client: Client) -> None:
    response = client.post("/setup/", {"anything": "x"})

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_health_check_needs_no_login(client: Client) -> None:
    response = client.get("/healthz")

    # 503 here only because no worker runs; the point is that it is not a login redirect.
    assert response.status_code in (200, 503)
    assert response.json()["status"] in ("ok", "degraded")


def test_api_answers_anonymous_callers_itself_instead_of_redirecting(client: Client) -> None:
    response = client.get("/api/")

    assert response.status_code in (401, 403, 404)
    assert "Location" not in response


def test_signed_in_user_reaches_the_home_page(client: Client) -> None:
    user = User.objects.create_user("ines", password="Pass-word-123")
    client.force_login(user)

    response = client.get("/")

    assert response.status_code == 200
