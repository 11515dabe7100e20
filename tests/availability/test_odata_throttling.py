"""The item availability service's throttle keys on client address and user name: guessing
does not stop the CRM's calls, unless the CRM calls from an abusive address."""

import pytest
import requests
from django.test import override_settings

pytestmark = pytest.mark.django_db(transaction=True)


def get(live_server, auth, address: str | None = None) -> requests.Response:
    # Behind the trusted proxy (TRUSTED_PROXY_COUNT=1) the client is the forwarded address.
    headers = {"X-Forwarded-For": address} if address else None
    return requests.get(
        f"{live_server.url}/odata/ProductItemAvailability", auth=auth, headers=headers, timeout=10
    )


@override_settings(LOGIN_THROTTLE_ATTEMPTS=5)
def test_failures_under_other_user_names_from_the_crms_address_do_not_stop_it(
    live_server, make_service_user
):
    # Everyone behind one address (no trusted proxy): five guesses must not lock the CRM out.
    username, key = make_service_user()
    for n in range(5):
        assert get(live_server, (f"guess{n}", "wrong")).status_code == 401

    assert get(live_server, (username, key)).status_code == 200


@override_settings(LOGIN_THROTTLE_ATTEMPTS=3, TRUSTED_PROXY_COUNT=1)
def test_guessing_the_crms_user_name_from_elsewhere_does_not_stop_the_crm(
    live_server, make_service_user
):
    username, key = make_service_user()
    for n in range(3):
        assert get(live_server, (username, f"guess{n}"), "203.0.113.7").status_code == 401
    assert get(live_server, (username, "guess"), "203.0.113.7").status_code == 429

    assert get(live_server, (username, key), "198.51.100.2").status_code == 200


@override_settings(LOGIN_THROTTLE_ADDRESS_USERNAMES=3, TRUSTED_PROXY_COUNT=1)
def test_an_abusive_address_is_refused_for_every_user_name(live_server, make_service_user):
    username, key = make_service_user()
    for n in range(3):
        assert get(live_server, (f"guess{n}", "wrong"), "203.0.113.7").status_code == 401

    refused = get(live_server, (username, key), "203.0.113.7")

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert get(live_server, (username, key), "198.51.100.2").status_code == 200


@override_settings(LOGIN_THROTTLE_ATTEMPTS=3)
def test_a_right_key_ends_the_run_of_failures(live_server, make_service_user):
    username, key = make_service_user()
    for _ in range(2):
        assert get(live_server, (username, "wrong")).status_code == 401
    assert get(live_server, (username, key)).status_code == 200
    for _ in range(2):
        assert get(live_server, (username, "wrong")).status_code == 401

    assert get(live_server, (username, key)).status_code == 200
