import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import FailedAttempt
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

THROTTLED = "Too many failed attempts. Try again in"


def login(username: str, password: str, address: str = "10.0.0.1") -> tuple[Client, str]:
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse("login"), {"username": username, "password": password})
    return client, response.content.decode()


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_right_password_logs_in():
    user = UserFactory()
    client, _page = login(user.username, DEFAULT_PASSWORD)
    assert is_logged_in(client)


def test_too_many_failures_for_a_user_name_block_even_the_right_password(settings):
    user = UserFactory()
    for _ in range(settings.LOGIN_THROTTLE_ATTEMPTS):
        _client, page = login(user.username, "wrong", address="10.0.0.1")
        assert THROTTLED not in page
    # From another address too: the user name itself is throttled.
    client, page = login(user.username, DEFAULT_PASSWORD, address="10.0.0.2")
    assert not is_logged_in(client)
    minutes = -(-settings.LOGIN_THROTTLE_WINDOW_SECONDS // 60)
    assert f"Too many failed attempts. Try again in {minutes} minutes." in page


def test_too_many_failures_from_one_address_block_every_user_name(settings):
    user = UserFactory()
    for n in range(settings.LOGIN_THROTTLE_ATTEMPTS):
        login(f"someone{n}", "wrong", address="10.0.0.9")
    client, page = login(user.username, DEFAULT_PASSWORD, address="10.0.0.9")
    assert not is_logged_in(client)
    assert THROTTLED in page
    # Another address is not affected.
    client, _page = login(user.username, DEFAULT_PASSWORD, address="10.0.0.10")
    assert is_logged_in(client)


def login_errors(username: str, password: str, address: str) -> list[str]:
    response = Client(REMOTE_ADDR=address).post(
        reverse("login"), {"username": username, "password": password}
    )
    return list(response.context["form"].non_field_errors())


def test_unknown_user_names_get_the_same_messages_as_known_ones(settings):
    user = UserFactory()
    seen = {}
    for index, name in enumerate((user.username, "no-such-user")):
        first = [
            login_errors(name, "wrong", f"10.1.{index}.{n}")
            for n in range(settings.LOGIN_THROTTLE_ATTEMPTS)
        ]
        seen[name] = (first, login_errors(name, "wrong", f"10.2.0.{index}"))
    assert seen[user.username] == seen["no-such-user"]
    assert THROTTLED in seen["no-such-user"][1][0]


def test_throttling_ends_when_the_window_has_passed(settings):
    user = UserFactory()
    for _ in range(settings.LOGIN_THROTTLE_ATTEMPTS):
        login(user.username, "wrong")
    client, _page = login(user.username, DEFAULT_PASSWORD)
    assert not is_logged_in(client)
    # Age every recorded failure past the window.
    for attempt in FailedAttempt.objects.all():
        attempt.created_at -= timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW_SECONDS + 1)
        attempt.save()
    client, _page = login(user.username, DEFAULT_PASSWORD)
    assert is_logged_in(client)


def test_failures_below_the_limit_do_not_block(settings):
    user = UserFactory()
    for _ in range(settings.LOGIN_THROTTLE_ATTEMPTS - 1):
        login(user.username, "wrong")
    client, _page = login(user.username, DEFAULT_PASSWORD)
    assert is_logged_in(client)


def test_failed_logins_are_logged_without_the_password(caplog):
    user = UserFactory()
    with caplog.at_level(logging.WARNING, logger="accounts.login"):
        login(user.username, "My-Secret-Guess-42")
    assert user.username in caplog.text
    assert "My-Secret-Guess-42" not in caplog.text


def test_the_failure_table_does_not_hold_typed_user_names():
    login("typed-a-password-here", "wrong")
    assert FailedAttempt.objects.exists()
    assert not FailedAttempt.objects.filter(scope__contains="typed").exists()


def test_logout_needs_a_post():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    assert is_logged_in(client)
    client.post(reverse("logout"))
    assert not is_logged_in(client)


def test_behind_a_trusted_proxy_the_forwarded_address_is_throttled(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    user = UserFactory()
    for n in range(settings.LOGIN_THROTTLE_ATTEMPTS):
        Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.7").post(
            reverse("login"), {"username": f"guess{n}", "password": "wrong"}
        )
    blocked = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.7")
    blocked.post(reverse("login"), {"username": user.username, "password": DEFAULT_PASSWORD})
    assert not is_logged_in(blocked)
    # Another client behind the same proxy is not affected.
    other = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.1")
    other.post(reverse("login"), {"username": user.username, "password": DEFAULT_PASSWORD})
    assert is_logged_in(other)
