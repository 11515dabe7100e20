"""The connection page (/connection/ and /setup/connection/)."""

import pytest
from django_celery_beat.models import PeriodicTask

from accounts import selectors as account_selectors
from accounts import services as account_services
from connection import services
from connection.models import ConnectionChange, CrmConnection
from dataverse import errors as dv
from sandbox import seed
from syncjobs.models import IntegrationTableMapping
from syncjobs.services import JOB_NAME_PREFIX
from tests.factories.accounts import UserFactory
from tests.support.sandbox import crm_get

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


def _form(connection, **overrides):
    data = {
        "action": "save",
        "environment_url": connection.environment_url,
        "token_url": connection.token_url,
        "client_id": connection.client_id,
        "client_secret": "",
        "areas": connection.sync_areas,
        "owner_mode": connection.owner_mode,
    }
    data.update(overrides)
    return data


def _jobs():
    return PeriodicTask.objects.filter(name__startswith=JOB_NAME_PREFIX)


def test_the_page_answers_at_both_addresses_and_never_shows_the_secret(
    integration_admin_client, saved_connection, sandbox_crm
) -> None:
    for url in ("/connection/", "/setup/connection/"):
        response = integration_admin_client.get(url)
        assert response.status_code == 200
        text = response.content.decode()
        assert sandbox_crm.url in text
        assert sandbox_crm.client_secret not in text


def test_blank_secret_keeps_the_stored_one(
    integration_admin_client, saved_connection, sandbox_crm
) -> None:
    response = integration_admin_client.post(
        "/connection/", _form(saved_connection, client_id=saved_connection.client_id)
    )
    assert response.status_code == 302
    assert CrmConnection.objects.get().client_secret == sandbox_crm.client_secret


def test_a_wrong_new_secret_is_refused_and_the_old_one_kept(
    integration_admin_client, saved_connection, sandbox_crm
) -> None:
    response = integration_admin_client.post(
        "/connection/", _form(saved_connection, client_secret="totally-wrong")
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "rejected the client id or client secret" in text
    assert "totally-wrong" not in text
    assert CrmConnection.objects.get().client_secret == sandbox_crm.client_secret


def test_a_changed_token_url_needs_the_secret_typed_again(
    integration_admin_client, saved_connection, sandbox_crm
) -> None:
    elsewhere = "https://login.attacker.example/tenant/oauth2/v2.0/token"

    response = integration_admin_client.post(
        "/connection/", _form(saved_connection, token_url=elsewhere)
    )

    assert response.status_code == 400
    assert "enter the client secret again" in response.content.decode()
    assert CrmConnection.objects.get().token_url == saved_connection.token_url


def test_disable_pauses_every_job_and_enable_resumes_them(
    integration_admin_client, saved_connection
) -> None:
    total = _jobs().count()
    assert total > 0 and _jobs().filter(enabled=True).count() == total
    integration_admin_client.post(
        "/connection/", {"action": "disable", "disable-reason": "maintenance"}
    )
    assert _jobs().filter(enabled=True).count() == 0
    page = integration_admin_client.get("/connection/").content.decode()
    assert f"0 of {total}" in page
    assert "maintenance" in page
    integration_admin_client.post("/connection/", {"action": "enable"})
    assert _jobs().filter(enabled=True).count() == total
    assert f"{total} of {total}" in integration_admin_client.get("/connection/").content.decode()


def test_a_fatal_privilege_error_disables_the_integration_with_its_reason(
    integration_admin_client, saved_connection
) -> None:
    services.connection_disable_for_error(
        error=dv.Forbidden(
            "Principal user is missing prvCreateAccount privilege", status=403, code="0x80040220"
        )
    )
    connection = CrmConnection.objects.get()
    assert not connection.is_enabled
    assert _jobs().filter(enabled=True).count() == 0
    page = integration_admin_client.get("/connection/").content.decode()
    assert "insufficient privileges" in page and "prvCreateAccount" in page


def test_reset_to_defaults_asks_for_confirmation_first(
    integration_admin_client, saved_connection
) -> None:
    IntegrationTableMapping.objects.filter(name="CUSTOMER").update(direction="to_crm")
    IntegrationTableMapping.objects.filter(name="CONTACT").delete()
    response = integration_admin_client.get("/setup/connection/reset-defaults/")
    assert (
        response.status_code == 200
        and "Changes you made to mappings are lost" in response.content.decode()
    )
    assert not IntegrationTableMapping.objects.filter(name="CONTACT").exists()
    integration_admin_client.post("/setup/connection/reset-defaults/", {"confirm": "yes"})
    assert IntegrationTableMapping.objects.get(name="CUSTOMER").direction == "bidirectional"
    assert IntegrationTableMapping.objects.filter(name="CONTACT").exists()
    assert (
        _jobs().filter(enabled=True, task="syncjobs.synchronize_mapping").count()
        == IntegrationTableMapping.objects.exclude(periodic_task=None).count()
    )
    # And the jobs that are not a mapping's (customer statistics with the customers).
    assert _jobs().filter(enabled=True, task="salesorders.customer_statistics").exists()


def test_history_records_who_changed_what_without_secret_values(
    integration_admin_client, saved_connection, sandbox_crm, integration_admin
) -> None:
    response = integration_admin_client.post(
        "/connection/",
        _form(
            saved_connection,
            client_secret=sandbox_crm.client_secret + "",
            areas=["customers", "contacts"],
        ),
    )
    assert response.status_code == 302
    change = ConnectionChange.objects.filter(field="sync_areas").first()
    assert change.changed_by == integration_admin
    assert change.new_value == "customers, contacts"
    page = integration_admin_client.get("/connection/").content.decode()
    assert "Areas to synchronize" in page
    for row in ConnectionChange.objects.all():
        assert sandbox_crm.client_secret not in row.old_value + row.new_value


def test_redeploy_asks_for_admin_credentials_and_reports_a_wrong_password(
    integration_admin_client, saved_connection, sandbox_crm
) -> None:
    response = integration_admin_client.post(
        "/connection/",
        {
            "action": "redeploy",
            "redeploy-admin_username": sandbox_crm.admin_username,
            "redeploy-admin_password": "bad",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "rejected the administrator user name or password" in page
    assert f'value="{sandbox_crm.admin_username}"' in page
    response = integration_admin_client.post(
        "/connection/",
        {
            "action": "redeploy",
            "redeploy-admin_username": sandbox_crm.admin_username,
            "redeploy-admin_password": sandbox_crm.admin_password,
        },
    )
    page = integration_admin_client.get("/connection/").content.decode()
    assert "have been deployed" in page
    assert sandbox_crm.admin_password not in page


def test_publishing_item_availability_from_the_page_writes_the_crm_record(
    integration_admin_client, saved_connection, sandbox_crm
) -> None:
    user = UserFactory(username="odata-page")
    account_services.availability_access_set(user=user, allowed=True)
    refused = integration_admin_client.post(
        "/connection/",
        _form(saved_connection, availability_enabled="on", availability_user=user.pk),
    )
    assert refused.status_code == 400
    assert "Generate a key for this user or enter" in refused.content.decode()
    response = integration_admin_client.post(
        "/connection/",
        _form(
            saved_connection,
            availability_enabled="on",
            availability_user=user.pk,
            availability_key_action="generate",
        ),
    )
    assert response.status_code == 302
    connection = CrmConnection.objects.get()
    assert account_selectors.webservice_key_check(user=user, key=connection.availability_key)
    rows = crm_get(sandbox_crm, "erpcrm_connections").json()["value"]
    assert rows[0]["erpcrm_availabilityusername"] == "odata-page"
    assert rows[0]["erpcrm_availabilitykey"] == connection.availability_key
    history = ConnectionChange.objects.filter(field="availability_key").first()
    assert (
        history.new_value == "changed"
        and connection.availability_key not in history.old_value + history.new_value
    )


def test_default_owner_is_chosen_from_crm_users(integration_admin_client, saved_connection) -> None:
    page = integration_admin_client.get("/connection/").content.decode()
    assert seed.ADMIN_USER_ID in page
    response = integration_admin_client.post(
        "/connection/",
        _form(saved_connection, owner_mode="default", default_owner=seed.ADMIN_USER_ID),
    )
    assert response.status_code == 302
    connection = CrmConnection.objects.get()
    assert str(connection.default_owner_id) == seed.ADMIN_USER_ID
    assert connection.default_owner_name


def test_only_integration_administrators_may_open_the_connection_page(
    client, saved_connection
) -> None:
    client.force_login(UserFactory())
    assert client.get("/connection/").status_code == 403
    assert client.post("/connection/", {"action": "disable"}).status_code == 403
    assert CrmConnection.objects.get().is_enabled


def test_publishing_availability_later_schedules_its_job_and_unpublishing_removes_it(
    integration_admin_client, saved_connection
) -> None:
    availability_job = _jobs().filter(task="syncjobs.item_availability")
    assert not availability_job.exists()
    user = UserFactory(username="odata-later")
    account_services.availability_access_set(user=user, allowed=True)

    published = integration_admin_client.post(
        "/connection/",
        _form(
            saved_connection,
            availability_enabled="on",
            availability_user=user.pk,
            availability_key_action="generate",
        ),
    )
    assert published.status_code == 302
    assert availability_job.filter(enabled=True).count() == 1

    unpublished = integration_admin_client.post("/connection/", _form(saved_connection))
    assert unpublished.status_code == 302
    assert not availability_job.exists()
