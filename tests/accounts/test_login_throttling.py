"""Sign-in throttling: failures slow one user name down from the address they came from; only
an abusive address is refused outright. Time is moved by ageing the recorded failures."""

import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import FailedAttempt
from accounts.services import throttle_failure_record
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

THROTTLED = "Too many failed attempts. Try again in"
NETWORK_BLOCKED = "Too many failed sign-ins from your network. Try again in"


def attempt(
    username: str, password: str, address: str = "10.0.0.1", **headers: str
) -> tuple[Client, str, int]:
    client = Client(REMOTE_ADDR=address, **headers)
    response = client.post(reverse("login"), {"username": username, "password": password})
    return client, response.content.decode(), response.status_code


def login(username: str, password: str, address: str = "10.0.0.1") -> tuple[Client, str]:
    client, page, _status = attempt(username, password, address)
    return client, page


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def let_time_pass(seconds: int) -> None:
    """Every recorded failure becomes `seconds` older, as if that much time had passed."""
    for failure in FailedAttempt.objects.all():
        failure.created_at -= timedelta(seconds=seconds)
        failure.save()


def fail(username: str, times: int, address: str = "10.0.0.1") -> None:
    for _ in range(times):
        _client, page = login(username, "wrong", address)
        assert THROTTLED not in page and NETWORK_BLOCKED not in page


def test_right_password_logs_in():
    user = UserFactory()
    client, _page = login(user.username, DEFAULT_PASSWORD)
    assert is_logged_in(client)


# --- The lockouts of issue #8: neither may happen any more -------------------------------------


def test_failures_for_a_user_name_from_one_address_do_not_stop_its_owner_elsewhere(settings):
    user = UserFactory()
    fail(user.username, settings.LOGIN_THROTTLE_ATTEMPTS, address="10.0.0.1")
    _client, page = login(user.username, "wrong", address="10.0.0.1")
    assert THROTTLED in page  # the guesser is slowed down...

    client, _page = login(user.username, DEFAULT_PASSWORD, address="10.0.0.2")

    assert is_logged_in(client)  # ...the owner, elsewhere, is not


def test_a_few_failures_from_an_address_do_not_lock_out_everyone_behind_it(settings):
    user = UserFactory()
    for n in range(settings.LOGIN_THROTTLE_ATTEMPTS):
        fail(f"someone{n}", 1, address="10.0.0.9")

    client, _page = login(user.username, DEFAULT_PASSWORD, address="10.0.0.9")

    assert is_logged_in(client)


def test_behind_the_trusted_proxy_a_guesser_does_not_stop_the_user(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    user = UserFactory()
    guesser = {"HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    for _ in range(settings.LOGIN_THROTTLE_ATTEMPTS + 1):
        attempt(user.username, "wrong", "10.9.9.9", **guesser)
    _client, page, _status = attempt(user.username, DEFAULT_PASSWORD, "10.9.9.9", **guesser)
    assert THROTTLED in page

    client, _page, _status = attempt(
        user.username, DEFAULT_PASSWORD, "10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.1"
    )

    assert is_logged_in(client)


# --- Progressive delay per user name and address ------------------------------------------------


def test_failures_below_the_limit_do_not_delay(settings):
    user = UserFactory()
    fail(user.username, settings.LOGIN_THROTTLE_ATTEMPTS - 1)
    client, _page = login(user.username, DEFAULT_PASSWORD)
    assert is_logged_in(client)


def test_after_the_free_attempts_even_the_right_password_waits_its_turn(settings):
    user = UserFactory()
    fail(user.username, settings.LOGIN_THROTTLE_ATTEMPTS)

    client, page, status = attempt(user.username, DEFAULT_PASSWORD)

    assert not is_logged_in(client)
    assert "Too many failed attempts. Try again in 1 second." in page
    assert status == 429

    let_time_pass(1)
    client, _page = login(user.username, DEFAULT_PASSWORD)
    assert is_logged_in(client)


def test_the_delay_grows_with_each_further_failure(settings):
    user = UserFactory()
    fail(user.username, settings.LOGIN_THROTTLE_ATTEMPTS)
    waits = []
    for _ in range(4):
        _client, page = login(user.username, "wrong")
        seconds = int(page[page.index(THROTTLED) + len(THROTTLED) :].split()[0])
        waits.append(seconds)
        let_time_pass(seconds)
        fail(user.username, 1)  # after the wait the attempt is checked: one more failure
    assert waits == [1, 2, 4, 8]


def test_the_longest_delay_is_the_window(settings):
    user = UserFactory()
    for _ in range(settings.LOGIN_THROTTLE_ATTEMPTS + 30):
        throttle_failure_record(service="login", address="10.0.0.1", username=user.username)

    _client, page = login(user.username, DEFAULT_PASSWORD)

    minutes = -(-settings.LOGIN_THROTTLE_WINDOW_SECONDS // 60)
    assert f"{THROTTLED} {minutes} minutes." in page


def test_a_successful_sign_in_ends_the_run_of_failures(settings):
    user = UserFactory()
    fail(user.username, settings.LOGIN_THROTTLE_ATTEMPTS - 1)
    client, _page = login(user.username, DEFAULT_PASSWORD)
    assert is_logged_in(client)

    fail(user.username, settings.LOGIN_THROTTLE_ATTEMPTS - 1)
    client, _page = login(user.username, DEFAULT_PASSWORD)
    assert is_logged_in(client)


def test_failures_are_forgotten_after_the_window(settings):
    user = UserFactory()
    fail(user.username, settings.LOGIN_THROTTLE_ATTEMPTS)
    let_time_pass(settings.LOGIN_THROTTLE_WINDOW_SECONDS + 1)

    fail(user.username, settings.LOGIN_THROTTLE_ATTEMPTS - 1)  # free attempts again
    client, _page = login(user.username, DEFAULT_PASSWORD)
    assert is_logged_in(client)


# --- Abusive addresses ---------------------------------------------------------------------------


def test_an_address_failing_for_many_user_names_is_refused_even_the_right_password(settings):
    settings.LOGIN_THROTTLE_ADDRESS_USERNAMES = 4
    user = UserFactory()
    for n in range(4):
        fail(f"guess{n}", 1, address="10.0.0.66")

    client, page, status = attempt(user.username, DEFAULT_PASSWORD, "10.0.0.66")

    assert not is_logged_in(client)
    assert NETWORK_BLOCKED in page
    assert status == 429
    # Other addresses are not affected.
    client, _page = login(user.username, DEFAULT_PASSWORD, address="10.0.0.67")
    assert is_logged_in(client)


def test_an_address_with_many_failures_is_refused(settings):
    settings.LOGIN_THROTTLE_ADDRESS_FAILURES = 6
    user = UserFactory()
    for n in range(3):
        fail(f"guess{n}", 2, address="10.0.0.66")

    client, page = login(user.username, DEFAULT_PASSWORD, address="10.0.0.66")

    assert not is_logged_in(client)
    assert NETWORK_BLOCKED in page


def test_an_abusive_address_is_admitted_again_after_the_window(settings):
    settings.LOGIN_THROTTLE_ADDRESS_USERNAMES = 3
    user = UserFactory()
    for n in range(3):
        fail(f"guess{n}", 1, address="10.0.0.66")
    client, page = login(user.username, DEFAULT_PASSWORD, address="10.0.0.66")
    minutes = -(-settings.LOGIN_THROTTLE_WINDOW_SECONDS // 60)
    assert f"{NETWORK_BLOCKED} {minutes} minutes." in page

    let_time_pass(settings.LOGIN_THROTTLE_WINDOW_SECONDS + 1)

    client, _page = login(user.username, DEFAULT_PASSWORD, address="10.0.0.66")
    assert is_logged_in(client)


# --- What the throttle does not reveal or keep -------------------------------------------------


def login_errors(username: str, password: str, address: str) -> list[str]:
    response = Client(REMOTE_ADDR=address).post(
        reverse("login"), {"username": username, "password": password}
    )
    return list(response.context["form"].non_field_errors())


def test_unknown_user_names_get_the_same_messages_as_known_ones(settings):
    user = UserFactory()
    seen = {}
    for index, name in enumerate((user.username, "no-such-user")):
        address = f"10.1.0.{index}"
        seen[name] = [
            login_errors(name, "wrong", address)
            for _ in range(settings.LOGIN_THROTTLE_ATTEMPTS + 1)
        ]
    assert seen[user.username] == seen["no-such-user"]
    assert THROTTLED in seen["no-such-user"][-1][0]


def test_failed_logins_are_logged_without_the_password(caplog):
    user = UserFactory()
    with caplog.at_level(logging.WARNING, logger="accounts.login"):
        login(user.username, "My-Secret-Guess-42")
    assert user.username in caplog.text
    assert "My-Secret-Guess-42" not in caplog.text


def test_the_failure_table_does_not_hold_typed_user_names_or_addresses():
    login("typed-a-password-here", "wrong", address="192.0.2.55")
    failure = FailedAttempt.objects.get()
    assert "typed" not in failure.username
    assert "192.0.2" not in failure.address


def test_logout_needs_a_post():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    assert is_logged_in(client)
    client.post(reverse("logout"))
    assert not is_logged_in(client)
