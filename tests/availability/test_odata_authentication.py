import datetime
import logging
import re
import time

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import WebServiceKey
from accounts.services import availability_access_set, webservice_key_generate
from availability import auth
from tests.availability.conftest import basic

pytestmark = pytest.mark.django_db(transaction=True)


def get(
    live_server, auth=None, path: str = "ProductItemAvailability", headers=None
) -> requests.Response:
    return requests.get(f"{live_server.url}/odata/{path}", auth=auth, headers=headers, timeout=10)


def assert_unauthorized(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == 'Basic realm="erpcrm"'
    assert response.json()["error"]["code"] == "Unauthorized"


def test_no_credentials_is_401_with_a_basic_challenge(live_server):
    assert_unauthorized(get(live_server))
    assert_unauthorized(get(live_server, path="$metadata"))


def test_wrong_key_is_401(live_server, make_service_user):
    username, _key = make_service_user()
    assert_unauthorized(get(live_server, (username, "not-the-key")))


def test_unknown_user_is_401_like_a_wrong_key(live_server, make_service_user):
    _username, key = make_service_user()
    assert_unauthorized(get(live_server, ("nobody", key)))


def test_password_is_not_a_web_service_key(live_server, make_service_user):
    username, _key = make_service_user()
    assert_unauthorized(get(live_server, (username, "Not-used-1!")))


def test_right_key_is_200_and_records_its_use(live_server, make_service_user):
    username, key = make_service_user()
    assert get(live_server, (username, key)).status_code == 200
    assert WebServiceKey.objects.get(user__username=username).last_used_at is not None


def test_expired_key_stops_working(live_server, make_service_user):
    username, key = make_service_user()
    WebServiceKey.objects.filter(user__username=username).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert_unauthorized(get(live_server, (username, key)))


def test_replaced_key_stops_working_at_once(live_server, make_service_user):
    username, old_key = make_service_user()
    assert get(live_server, (username, old_key)).status_code == 200
    new_key = webservice_key_generate(user=get_user_model().objects.get(username=username))
    assert_unauthorized(get(live_server, (username, old_key)))
    assert get(live_server, (username, new_key)).status_code == 200


def test_user_without_the_permission_is_403(live_server, make_service_user):
    username, key = make_service_user("no-permission", allowed=False)
    response = get(live_server, (username, key))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Forbidden"


def test_group_membership_grants_the_permission(live_server, make_service_user):
    username, key = make_service_user("via-group", allowed=False)
    group = Group.objects.create(name="Item availability service users")
    group.permissions.add(Permission.objects.get(codename="use_item_availability_service"))
    get_user_model().objects.get(username=username).groups.add(group)
    assert get(live_server, (username, key)).status_code == 200


def test_withdrawn_permission_is_403_at_once(live_server, make_service_user):
    username, key = make_service_user()
    availability_access_set(user=get_user_model().objects.get(username=username), allowed=False)
    assert get(live_server, (username, key)).status_code == 403


def test_inactive_user_is_401(live_server, make_service_user):
    username, key = make_service_user()
    get_user_model().objects.filter(username=username).update(is_active=False)
    assert_unauthorized(get(live_server, (username, key)))


@override_settings(LOGIN_THROTTLE_ATTEMPTS=3)
def test_repeated_failures_from_an_address_are_throttled_even_with_the_right_key(
    live_server, make_service_user, caplog
):
    username, key = make_service_user()
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert_unauthorized(get(live_server, (username, "guess")))
        response = get(live_server, (username, key))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "TooManyRequests"
    assert key not in caplog.text and "guess" not in caplog.text


@override_settings(LOGIN_THROTTLE_ATTEMPTS=3, LOGIN_THROTTLE_ADDRESS_USERNAMES=3)
def test_repeated_failures_from_one_address_are_throttled_for_every_user_name(
    live_server, make_service_user
):
    username, key = make_service_user()
    for name in ("a", "b", "c"):
        assert_unauthorized(get(live_server, (name, "guess")))
    assert get(live_server, (username, key)).status_code == 429


@override_settings(LOGIN_THROTTLE_ATTEMPTS=2, LOGIN_THROTTLE_WINDOW_SECONDS=1)
def test_throttling_ends_when_the_window_has_passed(live_server, make_service_user):
    username, key = make_service_user()
    for _ in range(2):
        assert_unauthorized(get(live_server, (username, "guess")))
    assert get(live_server, (username, key)).status_code == 429
    time.sleep(1.2)
    assert get(live_server, (username, key)).status_code == 200


@override_settings(LOGIN_THROTTLE_ATTEMPTS=3, TRUSTED_PROXY_COUNT=1)
def test_failures_from_elsewhere_cannot_lock_a_user_out(live_server, make_service_user):
    username, key = make_service_user()
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    for n in range(3):
        assert_unauthorized(get(live_server, (username, f"guess{n}"), headers=attacker))
    assert get(live_server, (username, "guess"), headers=attacker).status_code == 429

    response = get(live_server, (username, key), headers={"X-Forwarded-For": "198.51.100.2"})

    assert response.status_code == 200


@pytest.mark.parametrize("with_key", [True, False], ids=["user with a key", "user without one"])
def test_unknown_user_names_cost_the_same_work_as_known_ones(
    client, make_service_user, monkeypatch, with_key
):
    """Equal work, observed rather than timed: the same queries and one key hash each way."""
    username, _key = make_service_user()
    if not with_key:
        WebServiceKey.objects.filter(user__username=username).delete()
    hashed: list[str] = []

    def spy(*, key: str) -> str:
        hashed.append(key)
        return auth.webservice_key_hash.__wrapped__(key=key)  # type: ignore[attr-defined]

    spy.__wrapped__ = auth.webservice_key_hash  # type: ignore[attr-defined]
    monkeypatch.setattr(auth, "webservice_key_hash", spy)

    def attempt(name: str) -> list[str]:
        hashed.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(
                "/odata/ProductItemAvailability", HTTP_AUTHORIZATION=basic(name, "guess")
            )
        assert_unauthorized(response)
        assert hashed == ["guess"]
        # The statements without their values (user name, timestamps): nothing else may differ.
        return [re.sub(r"'[^']*'", "?", query["sql"]) for query in queries.captured_queries]

    assert attempt(username) == attempt("nobody-by-this-name")
