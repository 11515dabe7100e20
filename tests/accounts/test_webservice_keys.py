import datetime
import hashlib
import io
import logging

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import WebServiceKey
from accounts.roles import INTEGRATION_ADMIN, SALESPERSON
from accounts.selectors import availability_users, webservice_key_active, webservice_key_check
from accounts.services import (
    availability_access_set,
    webservice_key_expiry,
    webservice_key_generate,
    webservice_key_revoke,
)
from connection.models import CrmConnection
from tests.factories.accounts import UserFactory

pytestmark = pytest.mark.django_db


def test_generated_key_works_and_only_its_hash_is_stored():
    user = UserFactory()
    key = webservice_key_generate(user=user)
    assert len(key) >= 40
    assert webservice_key_check(user=user, key=key)
    stored = WebServiceKey.objects.get(user=user)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {stored.key_hash, stored.prefix}
    assert key.startswith(stored.prefix) and len(stored.prefix) == 8


def test_new_key_makes_the_old_one_stop_working():
    user = UserFactory()
    old = webservice_key_generate(user=user)
    new = webservice_key_generate(user=user)
    assert old != new
    assert not webservice_key_check(user=user, key=old)
    assert webservice_key_check(user=user, key=new)
    assert WebServiceKey.objects.filter(user=user).count() == 1


def test_a_key_of_another_user_does_not_work():
    alice, bob = UserFactory(), UserFactory()
    webservice_key_generate(user=alice)
    bobs_key = webservice_key_generate(user=bob)
    assert not webservice_key_check(user=alice, key=bobs_key)


def test_expired_key_is_refused_and_inactive():
    user = UserFactory()
    key = webservice_key_generate(
        user=user, expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert not webservice_key_check(user=user, key=key)
    assert not webservice_key_active(user=user)


def test_key_with_an_expiry_date_works_until_the_end_of_that_day():
    user = UserFactory()
    today = timezone.localdate()
    key = webservice_key_generate(user=user, expires_at=webservice_key_expiry(expires_on=today))
    assert webservice_key_check(user=user, key=key)
    assert timezone.localtime(
        WebServiceKey.objects.get(user=user).expires_at
    ).date() == today + datetime.timedelta(days=1)


def test_revoked_key_stops_working():
    user = UserFactory()
    key = webservice_key_generate(user=user)
    webservice_key_revoke(user=user)
    assert not webservice_key_check(user=user, key=key)
    assert not webservice_key_active(user=user)


def test_availability_users_are_permission_holders_and_superusers():
    allowed, _other, inactive = UserFactory(), UserFactory(), UserFactory(is_active=False)
    boss = UserFactory(is_superuser=True)
    availability_access_set(user=allowed, allowed=True)
    availability_access_set(user=inactive, allowed=True)
    assert set(availability_users()) == {allowed, boss}
    availability_access_set(user=allowed, allowed=False)
    assert set(availability_users()) == {boss}


def test_generating_a_key_does_not_log_it(caplog):
    with caplog.at_level(logging.DEBUG):
        key = webservice_key_generate(user=UserFactory())
    assert key not in caplog.text


# --- the command --------------------------------------------------------------------------------


def test_command_prints_only_the_new_key():
    user = UserFactory(username="crm-service")
    out = io.StringIO()
    call_command("webservice_key", "crm-service", stdout=out)
    key = out.getvalue().strip()
    assert "\n" not in key
    assert webservice_key_check(user=user, key=key)


def test_command_sets_the_expiry_date():
    user = UserFactory(username="crm-service")
    out = io.StringIO()
    call_command("webservice_key", "crm-service", "--expires", "2099-12-31", stdout=out)
    expires_at = timezone.localtime(WebServiceKey.objects.get(user=user).expires_at)
    assert expires_at.date() == datetime.date(2100, 1, 1)
    assert webservice_key_check(user=user, key=out.getvalue().strip())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "No user named"),
        (["crm-service", "--expires", "31.12.2099"], "--expires must be a date"),
        (["crm-service", "--expires", "2000-01-01"], "today or later"),
    ],
)
def test_command_refuses_bad_input_and_keeps_the_old_key(args, message):
    user = UserFactory(username="crm-service")
    old = webservice_key_generate(user=user)
    with pytest.raises(CommandError, match=message):
        call_command("webservice_key", *args, stdout=io.StringIO())
    assert webservice_key_check(user=user, key=old)


# --- the pages --------------------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_user_changes_own_key_and_sees_it_exactly_once():
    user = UserFactory(roles=[SALESPERSON])
    client = client_for(user)
    old = webservice_key_generate(user=user)
    form_page = client.get(reverse("account-key"))
    assert "makes the old key not valid" in form_page.content.decode()
    response = client.post(reverse("account-key"), {"expires_on": ""})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = response.context["key"]
    assert key in response.content.decode()
    assert webservice_key_check(user=user, key=key)
    assert not webservice_key_check(user=user, key=old)
    # Never again: not on the account page, not in the session.
    account_page = client.get(reverse("account")).content.decode()
    assert key not in account_page
    assert key[:8] in account_page
    assert all(key not in str(value) for value in client.session.values())


def test_expiry_date_in_the_past_is_refused_and_keeps_the_old_key():
    user = UserFactory()
    old = webservice_key_generate(user=user)
    client = client_for(user)
    response = client.post(reverse("account-key"), {"expires_on": "2000-01-01"})
    assert "today or later" in response.content.decode()
    assert webservice_key_check(user=user, key=old)


def test_non_admin_cannot_see_or_change_other_users_keys():
    user, other = UserFactory(roles=[SALESPERSON]), UserFactory()
    old = webservice_key_generate(user=other)
    client = client_for(user)
    assert client.get(reverse("user-list")).status_code == 403
    assert client.get(reverse("user-detail", args=[other.pk])).status_code == 403
    assert client.post(reverse("user-key", args=[other.pk]), {"expires_on": ""}).status_code == 403
    assert client.post(reverse("user-key-revoke", args=[other.pk])).status_code == 403
    assert webservice_key_check(user=other, key=old)


def test_admin_changes_another_users_key_with_an_expiry_date():
    admin, other = UserFactory(roles=[INTEGRATION_ADMIN]), UserFactory(username="crm-service")
    client = client_for(admin)
    assert "crm-service" in client.get(reverse("user-list")).content.decode()
    expires_on = timezone.localdate() + datetime.timedelta(days=30)
    response = client.post(
        reverse("user-key", args=[other.pk]), {"expires_on": expires_on.isoformat()}
    )
    assert "no-store" in response["Cache-Control"]
    key = response.context["key"]
    assert webservice_key_check(user=other, key=key)
    detail = client.get(reverse("user-detail", args=[other.pk])).content.decode()
    assert key not in detail and key[:8] in detail
    assert timezone.localtime(
        WebServiceKey.objects.get(user=other).expires_at
    ).date() == expires_on + datetime.timedelta(days=1)


def test_admin_grants_the_availability_service_on_the_user_page():
    admin, other = UserFactory(roles=[INTEGRATION_ADMIN]), UserFactory()
    client = client_for(admin)
    client.post(reverse("user-detail", args=[other.pk]), {"allowed": "on"})
    assert other in availability_users()
    client.post(reverse("user-detail", args=[other.pk]), {})
    assert other not in availability_users()


def test_admin_revokes_a_key():
    admin, other = UserFactory(roles=[INTEGRATION_ADMIN]), UserFactory()
    key = webservice_key_generate(user=other)
    client_for(admin).post(reverse("user-key-revoke", args=[other.pk]))
    assert not webservice_key_check(user=other, key=key)


def test_key_forms_need_a_csrf_token():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(reverse("account-key"), {"expires_on": ""}).status_code == 403
    assert not WebServiceKey.objects.filter(user=user).exists()


def test_changing_the_key_the_crm_uses_says_how_to_update_the_crm():
    service_user = UserFactory()
    other = UserFactory()
    CrmConnection.objects.create(
        pk=CrmConnection.SINGLETON_ID,
        environment_url="https://contoso.crm.dynamics.com",
        token_url="https://login.example/t",
        client_id="app",
        availability_enabled=True,
        availability_user=service_user,
    )
    admin = Client()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))

    used = admin.get(reverse("user-key", args=[service_user.pk])).content.decode()
    unused = admin.get(reverse("user-key", args=[other.pk])).content.decode()

    assert "The CRM uses this user's key" in used
    assert "The CRM uses this user's key" not in unused
