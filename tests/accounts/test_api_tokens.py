"""REST API tokens: hashed at rest, expiring, issued and revoked on the user pages or with
`manage.py api_token`, sent as `Authorization: Token <key>`."""

import datetime
import hashlib
import io

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.roles import INTEGRATION_ADMIN, SALESPERSON, SUPPORT
from accounts.services import api_token_issue
from tests.factories.accounts import UserFactory

pytestmark = pytest.mark.django_db


def api_get(key: str) -> int:
    return APIClient().get("/api/customers/", HTTP_AUTHORIZATION=f"Token {key}").status_code


def client_for(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_only_a_hash_of_the_token_is_stored_and_the_token_works() -> None:
    user = UserFactory(roles=[SUPPORT])

    key = api_token_issue(user=user)

    stored = ApiToken.objects.get(user=user)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {stored.key_hash, stored.prefix}
    assert key.startswith(stored.prefix)
    assert api_get(key) == 200
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_drf_authtoken_is_gone() -> None:
    assert "rest_framework.authtoken" not in settings.INSTALLED_APPS
    assert not any(m._meta.app_label == "authtoken" for m in admin.site._registry)


def test_an_expired_token_is_refused_with_401() -> None:
    user = UserFactory(roles=[SUPPORT])
    key = api_token_issue(user=user, expires_at=timezone.now() - datetime.timedelta(seconds=1))

    response = APIClient().get("/api/customers/", HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_revoked_or_replaced_token_is_refused_with_401() -> None:
    user = UserFactory(roles=[SUPPORT])
    replaced = api_token_issue(user=user)
    revoked = api_token_issue(user=user)
    call_command("api_token", user.username, "--revoke", stderr=io.StringIO())

    assert api_get(replaced) == 401
    assert api_get(revoked) == 401


def test_a_token_of_an_inactive_user_is_refused() -> None:
    user = UserFactory(roles=[SUPPORT])
    key = api_token_issue(user=user)
    user.is_active = False
    user.save()

    assert api_get(key) == 401


def test_command_prints_only_the_key_and_sets_the_expiry() -> None:
    user = UserFactory(username="robot", roles=[SUPPORT])
    out = io.StringIO()
    last_day = timezone.localdate() + datetime.timedelta(days=10)

    call_command("api_token", "robot", "--expires", last_day.isoformat(), stdout=out)

    key = out.getvalue().strip()
    assert api_get(key) == 200
    expires_at = ApiToken.objects.get(user=user).expires_at
    assert expires_at is not None
    assert timezone.localtime(expires_at).date() == last_day + datetime.timedelta(days=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "No user named"),
        (["robot", "--expires", "2000-01-01"], "today or later"),
        (["robot", "--expires", "soon"], "a date like"),
    ],
)
def test_command_refuses_bad_input_and_keeps_the_old_token(args: list, message: str) -> None:
    user = UserFactory(username="robot", roles=[SUPPORT])
    old = api_token_issue(user=user)

    with pytest.raises(CommandError, match=message):
        call_command("api_token", *args, stdout=io.StringIO())

    assert api_get(old) == 200


def test_user_issues_own_token_and_sees_it_exactly_once() -> None:
    user = UserFactory(roles=[SALESPERSON])
    client = client_for(user)
    old = api_token_issue(user=user)

    form_page = client.get(reverse("account-api-token")).content.decode()
    response = client.post(reverse("account-api-token"), {"expires_on": ""})

    assert "makes the current token not valid" in form_page
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = response.context["key"]
    assert key in response.content.decode()
    assert api_get(key) == 200
    assert api_get(old) == 401
    account_page = client.get(reverse("account")).content.decode()
    assert key not in account_page
    assert key[:8] in account_page
    assert all(key not in str(value) for value in client.session.values())


def test_user_revokes_own_token_from_the_account_page() -> None:
    user = UserFactory(roles=[SALESPERSON])
    key = api_token_issue(user=user)

    response = client_for(user).post(reverse("account-api-token-revoke"), follow=True)

    assert "The REST API token was revoked." in response.content.decode()
    assert api_get(key) == 401


def test_admin_issues_and_revokes_another_users_token() -> None:
    admin_user, other = UserFactory(roles=[INTEGRATION_ADMIN]), UserFactory(roles=[SUPPORT])
    client = client_for(admin_user)
    last_day = timezone.localdate() + datetime.timedelta(days=30)

    response = client.post(
        reverse("user-api-token", args=[other.pk]), {"expires_on": last_day.isoformat()}
    )
    key = response.context["key"]
    detail = client.get(reverse("user-detail", args=[other.pk])).content.decode()
    client.post(reverse("user-api-token-revoke", args=[other.pk]))

    assert key not in detail and key[:8] in detail
    assert api_get(key) == 401


def test_non_admin_cannot_issue_or_revoke_other_users_tokens() -> None:
    user, other = UserFactory(roles=[SALESPERSON]), UserFactory(roles=[SUPPORT])
    old = api_token_issue(user=other)
    client = client_for(user)

    issue = client.post(reverse("user-api-token", args=[other.pk]), {"expires_on": ""})
    revoke = client.post(reverse("user-api-token-revoke", args=[other.pk]))

    assert issue.status_code == 403
    assert revoke.status_code == 403
    assert api_get(old) == 200


def test_an_expiry_date_in_the_past_is_refused_and_keeps_the_old_token() -> None:
    user = UserFactory(roles=[SUPPORT])
    old = api_token_issue(user=user)

    response = client_for(user).post(reverse("account-api-token"), {"expires_on": "2000-01-01"})

    assert "today or later" in response.content.decode()
    assert api_get(old) == 200


def test_the_admin_shows_no_token_value() -> None:
    superuser = UserFactory(username="root")
    superuser.is_superuser = superuser.is_staff = True
    superuser.save()
    key = api_token_issue(user=superuser)
    client = client_for(superuser)

    listing = client.get("/admin/accounts/apitoken/").content.decode()

    assert key[:8] in listing
    assert key not in listing
    assert ApiToken.objects.get(user=superuser).key_hash not in listing
