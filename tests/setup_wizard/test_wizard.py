"""The assisted setup wizard, driven with the Django test client against the live sandbox."""

import pytest
from django.contrib.sessions.models import Session
from django.views.debug import SafeExceptionReporterFilter

from accounts import selectors as account_selectors
from accounts import services as account_services
from connection import selectors
from connection.models import CrmConnection
from dataverse.client import ConnectionSettings, DataverseClient
from sandbox import seed
from sandbox.process import free_port
from setup_wizard import deploy
from syncjobs.models import IntegrationTableMapping
from tests.factories.accounts import UserFactory
from tests.support.sandbox import crm_get

from .wizard_steps import crm_data, post_step, walk_to

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


def _page_text(response) -> str:
    return response.content.decode()


def test_only_integration_administrators_may_open_the_wizard(client, db) -> None:
    client.force_login(UserFactory())
    assert client.get("/setup/welcome/").status_code == 403


def test_malformed_url_shows_its_own_message_and_keeps_the_input(
    integration_admin_client, sandbox_crm
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    response = post_step(
        integration_admin_client,
        "crm",
        crm_data(sandbox_crm, environment_url="https://exa mple..com"),
    )
    assert response.status_code == 200
    text = _page_text(response)
    assert "is not a valid URL" in text
    assert 'value="https://exa mple..com"' in text
    assert sandbox_crm.client_secret not in text


def test_plain_http_to_a_remote_host_is_refused(integration_admin_client, sandbox_crm) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    response = post_step(
        integration_admin_client,
        "crm",
        crm_data(sandbox_crm, environment_url="http://crm.example.com"),
    )
    assert "use https://" in _page_text(response)


def test_unreachable_host_shows_its_own_message(integration_admin_client, sandbox_crm) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    url = f"http://127.0.0.1:{free_port()}"
    response = post_step(
        integration_admin_client,
        "crm",
        crm_data(sandbox_crm, environment_url=url, token_url=url + "/token"),
    )
    text = _page_text(response)
    assert "refused the connection" in text
    assert f'value="{url}"' in text


def test_unknown_host_name_is_reported_as_a_dns_failure(
    integration_admin_client, sandbox_crm
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    response = post_step(
        integration_admin_client,
        "crm",
        crm_data(
            sandbox_crm,
            environment_url="https://crm.nonexistent.invalid",
            token_url="https://login.nonexistent.invalid/t",
        ),
    )
    assert "could not be found (DNS lookup failed)" in _page_text(response)


def test_wrong_secret_shows_its_own_message_and_never_echoes_the_secret(
    integration_admin_client, sandbox_crm
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    response = post_step(
        integration_admin_client, "crm", crm_data(sandbox_crm, client_secret="wrong-secret-value")
    )
    text = _page_text(response)
    assert "rejected the client id or client secret" in text
    assert "wrong-secret-value" not in text
    assert f'value="{sandbox_crm.client_id}"' in text


def test_an_administrator_as_integration_user_gets_its_own_message(
    integration_admin_client, sandbox_crm
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    response = post_step(
        integration_admin_client,
        "crm",
        crm_data(
            sandbox_crm,
            client_id=seed.ADMIN_APP_CLIENT_ID,
            client_secret=seed.ADMIN_APP_CLIENT_SECRET,
        ),
    )
    text = _page_text(response)
    assert "has the System Administrator role" in text
    assert seed.ADMIN_APP_CLIENT_SECRET not in text


def test_an_application_that_is_not_a_user_of_the_organization_gets_its_own_message(
    integration_admin_client,
    sandbox_crm,
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    secret = seed.UNBOUND_CLIENT_SECRET
    response = post_step(
        integration_admin_client,
        "crm",
        crm_data(sandbox_crm, client_id=seed.UNBOUND_CLIENT_ID, client_secret=secret),
    )
    text = _page_text(response)
    assert "it is not a user of this CRM organization" in text
    assert f'value="{seed.UNBOUND_CLIENT_ID}"' in text
    assert secret not in text


def test_currency_mismatch_blocks_with_an_explanation(
    integration_admin_client, sandbox_crm, settings
) -> None:
    settings.ERP_LOCAL_CURRENCY = "EUR"
    walk_to(integration_admin_client, sandbox_crm, "crm")
    response = post_step(integration_admin_client, "crm", crm_data(sandbox_crm))
    text = _page_text(response)
    assert response.status_code == 200
    assert "local currency is EUR" in text and "USD" in text


def test_url_with_path_is_normalised_with_a_notice(integration_admin_client, sandbox_crm) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    response = post_step(
        integration_admin_client,
        "crm",
        crm_data(sandbox_crm, environment_url=f"  {sandbox_crm.url}/main.aspx?appid=1  "),
    )
    assert response.status_code == 302
    follow = integration_admin_client.get(response["Location"])
    assert "must not contain a path" in _page_text(follow)


def test_test_connection_reports_success_and_keeps_the_secret_stored_encrypted(
    integration_admin_client, sandbox_crm
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    response = post_step(
        integration_admin_client, "crm", crm_data(sandbox_crm), test_connection="1"
    )
    assert response.status_code == 302
    page = integration_admin_client.get("/setup/crm/")
    text = _page_text(page)
    assert "The connection test was successful" in text
    assert "A client secret is stored" in text
    assert sandbox_crm.client_secret not in text
    # Next with a blank secret uses the stored one.
    response = post_step(integration_admin_client, "crm", crm_data(sandbox_crm, client_secret=""))
    assert response.status_code == 302 and response["Location"].endswith("/setup/solution/")
    for session in Session.objects.all():
        assert sandbox_crm.client_secret not in str(session.get_decoded())


def test_wrong_admin_password_shows_its_own_message_and_is_not_kept(
    integration_admin_client, sandbox_crm
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "solution")
    response = post_step(
        integration_admin_client,
        "solution",
        {
            "import_solution": "on",
            "admin_username": sandbox_crm.admin_username,
            "admin_password": "nope-123",
        },
    )
    text = _page_text(response)
    assert "rejected the administrator user name or password" in text
    assert f'value="{sandbox_crm.admin_username}"' in text
    for session in Session.objects.all():
        assert "nope-123" not in str(session.get_decoded())


def test_skipping_the_import_asks_for_admin_credentials_to_assign_roles(
    integration_admin_client, sandbox_crm
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "solution")
    # The roles exist in the CRM only after an import: import once directly, unassigned.

    connection = selectors.connection_settings_build(
        environment_url=sandbox_crm.url,
        token_url=sandbox_crm.token_url,
        client_id=sandbox_crm.client_id,
        client_secret=sandbox_crm.client_secret,
    )
    deploy.solution_deploy(
        connection=connection,
        admin_username=sandbox_crm.admin_username,
        admin_password=sandbox_crm.admin_password,
        integration_user_id=__import__("uuid").UUID(sandbox_crm.integration_user_id),
    )
    # Remove one role again so the user step has something to do.

    admin = DataverseClient(
        ConnectionSettings(
            environment_url=sandbox_crm.url, token_url=sandbox_crm.token_url,
            client_id=sandbox_crm.client_id,
            client_secret=sandbox_crm.client_secret, username=sandbox_crm.admin_username,
            password=sandbox_crm.admin_password,
        )
    )  # fmt: skip
    admin.disassociate(
        "systemusers",
        sandbox_crm.integration_user_id,
        "systemuserroles_association",
        "roles",
        "6f960e32-a72b-e511-80d9-3863bb349780",
    )
    response = post_step(integration_admin_client, "solution", {"import_solution": ""})
    assert response.status_code == 302
    response = post_step(integration_admin_client, "user", {})
    assert "lacks the roles Integration User" in _page_text(response)
    response = post_step(
        integration_admin_client,
        "user",
        {
            "admin_username": sandbox_crm.admin_username,
            "admin_password": sandbox_crm.admin_password,
        },
    )
    assert response.status_code == 302


def test_the_whole_wizard_saves_an_enabled_connection_with_default_mappings(
    integration_admin_client, sandbox_crm
) -> None:
    erp_user = UserFactory(username="availability")
    account_services.availability_access_set(user=erp_user, allowed=True)
    walk_to(
        integration_admin_client,
        sandbox_crm,
        "finish",
        availability={"publish": "on", "user": str(erp_user.pk), "key_action": "generate"},
    )
    # Mid-wizard the session holds the client secret only encrypted, the admin password not at all.
    sessions = " ".join(str(session.get_decoded()) for session in Session.objects.all())
    assert sandbox_crm.admin_password not in sessions and sandbox_crm.client_secret not in sessions
    assert "crm-client_secret" in sessions
    response = post_step(integration_admin_client, "finish", {"enable": "on"})
    while response.status_code == 302 and "/complete/" not in response["Location"]:
        response = integration_admin_client.get(response["Location"])
    assert response.status_code == 302, _page_text(response)[:2000]
    connection = CrmConnection.objects.get()
    assert connection.is_enabled
    assert connection.client_secret == sandbox_crm.client_secret
    assert sandbox_crm.client_secret not in connection.client_secret_encrypted
    assert connection.solution_imported and connection.roles_assigned
    names = set(IntegrationTableMapping.objects.values_list("name", flat=True))
    assert {
        "SALESPEOPLE",
        "CUSTOMER",
        "CONTACT",
        "CURRENCY",
        "ITEM-PRODUCT",
        "SALESORDER-ORDER",
    } <= names
    assert account_selectors.webservice_key_check(user=erp_user, key=connection.availability_key)
    rows = crm_get(sandbox_crm, "erpcrm_connections").json()["value"]
    assert rows[0]["erpcrm_availabilityusername"] == "availability"
    assert rows[0]["erpcrm_availabilityserviceurl"].endswith("/odata/")
    assert rows[0]["erpcrm_availabilitykey"] == connection.availability_key


def test_the_wizard_is_resumable_and_back_keeps_what_was_typed(
    integration_admin_client, sandbox_crm
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "areas")
    # Leaving and coming back resumes at the same step.
    response = integration_admin_client.get("/setup/")
    assert response["Location"].endswith("/setup/areas/")
    response = post_step(integration_admin_client, "areas", {}, wizard_goto_step="user")
    assert response["Location"].endswith("/setup/user/")
    response = integration_admin_client.get("/setup/crm/")
    text = _page_text(response)
    assert f'value="{sandbox_crm.url}"' in text
    assert "A client secret is stored" in text
    assert sandbox_crm.client_secret not in text


def test_a_failure_at_finish_keeps_every_step_for_a_retry(
    integration_admin_client, sandbox_crm, sandbox
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "finish")
    rule = {"method": "POST", "path": "erpcrm_connections", "count": 1, "status": 403,
            "code": "0x80040220",
            "message": "Principal user is missing prvCreateerpcrm_connection."}  # fmt: skip
    sandbox.control("config", {"rules": [rule]})
    try:
        # The finish step's POST runs the finish (never a GET of /setup/done/).
        response = post_step(integration_admin_client, "finish", {"enable": "on"})
        assert response["Location"].endswith("/setup/finish/")
        text = _page_text(integration_admin_client.get(response["Location"]))
        assert "prvCreateerpcrm_connection" in text
        assert not CrmConnection.objects.exists()
    finally:
        sandbox.control("config", {"rules": []})
    response = post_step(integration_admin_client, "finish", {"enable": "on"})
    assert response["Location"].endswith("/setup/complete/")
    assert CrmConnection.objects.get().is_enabled


def test_a_wrong_url_path_answering_404_has_its_own_message(
    integration_admin_client, sandbox_crm, sandbox
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    rule = {"method": "GET", "path": "WhoAmI", "count": 1, "status": 404, "code": "0x80060888",
            "message": "Resource not found for the segment 'WhoAmI'."}  # fmt: skip
    sandbox.control("config", {"rules": [rule]})
    try:
        response = post_step(integration_admin_client, "crm", crm_data(sandbox_crm))
    finally:
        sandbox.control("config", {"rules": []})
    assert "No Dataverse Web API answered" in _page_text(response)


def test_post_parameters_are_hidden_from_error_reports(
    integration_admin_client, sandbox_crm
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "solution")
    response = post_step(
        integration_admin_client,
        "solution",
        {
            "import_solution": "on",
            "admin_username": sandbox_crm.admin_username,
            "admin_password": "x-123",
        },
    )
    request = response.wsgi_request
    cleaned = SafeExceptionReporterFilter().get_post_parameters(request)
    assert "x-123" not in str(cleaned)
    assert cleaned["solution-admin_password"] == SafeExceptionReporterFilter.cleansed_substitute


def test_running_the_wizard_again_starts_from_the_saved_settings(
    integration_admin_client, saved_connection, sandbox_crm
) -> None:
    integration_admin_client.get("/setup/?reset")
    post_step(integration_admin_client, "welcome", {})
    text = _page_text(integration_admin_client.get("/setup/crm/"))
    assert f'value="{sandbox_crm.url}"' in text and "A client secret is stored" in text
    assert sandbox_crm.client_secret not in text
    response = post_step(integration_admin_client, "crm", crm_data(sandbox_crm, client_secret=""))
    assert response["Location"].endswith("/setup/solution/")


def test_a_default_owner_must_be_chosen_from_the_crm_users(
    integration_admin_client, sandbox_crm
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "areas")
    page = _page_text(integration_admin_client.get("/setup/areas/"))
    assert seed.ADMIN_USER_ID in page and seed.DISABLED_USER_ID not in page
    response = post_step(
        integration_admin_client, "areas", {"areas": ["customers"], "owner_mode": "default"}
    )
    assert "Choose the CRM user who owns new CRM records" in _page_text(response)
    response = post_step(
        integration_admin_client,
        "areas",
        {"areas": ["customers"], "owner_mode": "default", "default_owner": seed.ADMIN_USER_ID},
    )
    assert response["Location"].endswith("/setup/availability/")


def test_a_get_of_the_done_address_finishes_nothing(
    integration_admin_client, sandbox_crm, sandbox
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "finish")
    # A first finish fails: every step, the finish step included, stays stored for a retry.
    rule = {"method": "POST", "path": "erpcrm_connections", "count": 1, "status": 403,
            "code": "0x80040220", "message": "Principal user is missing a privilege."}  # fmt: skip
    sandbox.control("config", {"rules": [rule]})
    try:
        post_step(integration_admin_client, "finish", {"enable": "on"})
    finally:
        sandbox.control("config", {"rules": []})
    # A link or an image pointing here (a GET, no CSRF token) must not finish the setup.
    response = integration_admin_client.get("/setup/done/")
    assert response.status_code == 302 and response["Location"].endswith("/setup/finish/")
    assert not CrmConnection.objects.exists()
