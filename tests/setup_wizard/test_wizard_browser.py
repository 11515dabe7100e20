"""The whole assisted setup in a real browser, from an empty database to an enabled connection,
then proof from the CRM side and a search for leaked secrets everywhere we keep data."""

import logging

import pytest
import requests
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection as db_connection
from django.test import Client
from playwright.sync_api import expect

from accounts import services as account_services
from connection.models import CrmConnection
from syncjobs.models import IntegrationTableMapping
from tests.factories.accounts import IntegrationAdminFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

INTEGRATION_ADMINISTRATOR = "8c8d4f51-a72b-e511-80d9-3863bb349780"
INTEGRATION_USER = "6f960e32-a72b-e511-80d9-3863bb349780"


def _logged_in_page(browser, live_server, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(20_000)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return context, context.new_page()


def _api(sandbox_crm, path: str) -> dict:
    token = requests.post(
        sandbox_crm.token_url,
        data={
            "grant_type": "password",
            "client_id": sandbox_crm.client_id,
            "username": sandbox_crm.admin_username,
            "password": sandbox_crm.admin_password,
            "scope": f"{sandbox_crm.url}/.default",
        },
        timeout=10,
    ).json()["access_token"]
    response = requests.get(
        f"{sandbox_crm.url}/api/data/v9.2/{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def _database_text() -> str:
    """Every text value in every table of the database, plus the decoded sessions."""
    chunks = []
    with db_connection.cursor() as cursor:
        for table in db_connection.introspection.table_names():
            quoted = db_connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - table names from introspection
            chunks.extend(str(value) for row in cursor.fetchall() for value in row)
    chunks.extend(str(s.get_decoded()) for s in Session.objects.all())
    return "\n".join(chunks)


def test_wizard_in_the_browser_sets_up_an_enabled_connection_without_leaking_secrets(
    browser,
    live_server,
    sandbox_crm,
    caplog,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = IntegrationAdminFactory()
    erp_user = UserFactory(username="crm-availability")
    account_services.availability_access_set(user=erp_user, allowed=True)
    context, page = _logged_in_page(browser, live_server, admin)
    try:
        page.goto("/setup/")
        page.get_by_role("button", name="Next").click()

        # Connection: a wrong secret first, then the right one tested and kept (encrypted).
        page.get_by_label("Environment URL").fill(f" {sandbox_crm.url}/main.aspx ")
        page.get_by_label("Token URL").fill(sandbox_crm.token_url)
        page.get_by_label("Client id").fill(sandbox_crm.client_id)
        page.get_by_label("Client secret").fill("this-is-not-the-secret")
        page.get_by_role("button", name="Next").click()
        assert (
            page.locator(".error-summary")
            .get_by_text("rejected the client id or client secret")
            .count()
            == 1
        )
        assert page.get_by_label("Client id").input_value() == sandbox_crm.client_id
        assert page.get_by_label("Client secret").input_value() == ""
        page.get_by_label("Environment URL").fill(sandbox_crm.url)
        page.get_by_label("Client secret").fill(sandbox_crm.client_secret)
        page.get_by_role("button", name="Test connection").click()
        assert page.get_by_text("The connection test was successful").is_visible()
        assert page.locator("#secret-stored").is_visible()
        assert page.get_by_label("Client secret").input_value() == ""
        page.get_by_role("button", name="Next").click()

        # Solution import with the administrator, once.
        assert page.get_by_label(
            "Import the integration solution and assign the integration roles"
        ).is_checked()
        page.get_by_label("Administrator user name").fill(sandbox_crm.admin_username)
        page.get_by_label("Administrator password").fill(sandbox_crm.admin_password)
        page.get_by_role("button", name="Next").click()

        # Integration user: roles now assigned.
        assert (
            page.locator(".integration-user").get_by_text("Integration Administrator").count() == 1
        )
        page.get_by_role("button", name="Next").click()

        # Areas: defaults.
        page.get_by_role("button", name="Next").click()

        # Item availability: generate a key for the chosen ERP user.
        page.get_by_label("ERP user whose web service access key the CRM uses").select_option(
            label="crm-availability"
        )
        page.get_by_label("Generate a new key for this user").check()
        page.get_by_role("button", name="Next").click()

        # Sales orders: defaults (on, processed by the integration user).
        page.get_by_role("button", name="Next").click()

        page.get_by_role("button", name="Finish").click()
        page.wait_for_url("**/setup/complete/")
        assert (
            page.locator("#connection-status").get_by_text("The integration is enabled.").count()
            == 1
        )
        page.get_by_role("link", name="Go to synchronization").click()
        # count() does not wait for the click's page load; expect() does.
        expect(page.locator('#mappings tr[data-mapping="CUSTOMER"]')).to_have_count(1)
    finally:
        context.close()

    connection = CrmConnection.objects.get()
    assert connection.is_enabled and connection.environment_url == sandbox_crm.url
    assert IntegrationTableMapping.objects.filter(name="SALESORDER-ORDER").exists()

    # The CRM side, over HTTP.
    jobs = _api(sandbox_crm, "importjobs?$select=solutionname,progress")["value"]
    assert any(j.get("solutionname") == "ErpCrmIntegration" for j in jobs)
    roles = _api(
        sandbox_crm,
        f"systemusers({sandbox_crm.integration_user_id})/systemuserroles_association?$select=roleid",
    )["value"]
    assert {INTEGRATION_ADMINISTRATOR, INTEGRATION_USER} <= {r["roleid"] for r in roles}
    record = _api(sandbox_crm, "erpcrm_connections")["value"][0]
    assert (
        record["erpcrm_availabilityserviceurl"] == settings.ERP_PUBLIC_URL.rstrip("/") + "/odata/"
    )
    assert record["erpcrm_availabilityusername"] == "crm-availability"
    assert record["erpcrm_availabilitykey"] == connection.availability_key

    # No clear-text secret anywhere we keep data or write logs.
    stored = _database_text()
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    # The searches see real data (the connection row, the wizard's CRM calls) ...
    assert sandbox_crm.client_id in stored and sandbox_crm.url in stored
    assert "ImportSolution" in logged or "importjobs" in logged or "erpcrm_connections" in logged
    # ... and find neither secret.
    for secret in (sandbox_crm.admin_password, sandbox_crm.client_secret):
        assert secret not in stored
        assert secret not in logged
