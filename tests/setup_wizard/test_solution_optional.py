"""The integration solution is optional: a CRM without it still gets an enabled integration, and a
later redeploy brings the connection record and the roles."""

import io

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from connection.models import CrmConnection
from connection.services import JOB_NAME_PREFIX
from syncjobs.models import IntegrationTableMapping
from tests.support.sandbox import crm_get

from .wizard_steps import post_step, walk_to

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


def test_setup_connection_without_the_solution_enables_the_integration(
    sandbox_crm,
    monkeypatch,
) -> None:
    # A freshly seeded sandbox: no solution, so no erpcrm_connections table and no roles.
    assert crm_get(sandbox_crm, "erpcrm_connections").status_code == 404
    monkeypatch.setenv("CRM_CLIENT_SECRET", sandbox_crm.client_secret)
    monkeypatch.delenv("CRM_ADMIN_PASSWORD", raising=False)
    out = io.StringIO()
    call_command(
        "setup_connection",
        "--environment-url", sandbox_crm.url, "--token-url", sandbox_crm.token_url,
        "--client-id", sandbox_crm.client_id,
        "--skip-solution-import", "--sales-orders",
        stdout=out,
    )  # fmt: skip
    connection = CrmConnection.objects.get()
    assert connection.is_enabled
    assert not connection.solution_imported and not connection.roles_assigned
    assert connection.crm_record_written_at is None
    assert "after a redeploy" in out.getvalue()
    assert IntegrationTableMapping.objects.filter(name="CUSTOMER").exists()
    jobs = PeriodicTask.objects.filter(name__startswith=JOB_NAME_PREFIX)
    assert jobs.exists() and not jobs.filter(enabled=False).exists()


def test_a_redeploy_later_writes_the_connection_record_and_assigns_the_roles(
    integration_admin_client,
    sandbox_crm,
    monkeypatch,
) -> None:
    monkeypatch.setenv("CRM_CLIENT_SECRET", sandbox_crm.client_secret)
    call_command(
        "setup_connection",
        "--environment-url", sandbox_crm.url, "--token-url", sandbox_crm.token_url,
        "--client-id", sandbox_crm.client_id,
        "--skip-solution-import",
        stdout=io.StringIO(),
    )  # fmt: skip
    page = integration_admin_client.get("/connection/").content.decode()
    assert "not imported" in page
    response = integration_admin_client.post(
        "/connection/",
        {
            "action": "redeploy",
            "redeploy-admin_username": sandbox_crm.admin_username,
            "redeploy-admin_password": sandbox_crm.admin_password,
        },
    )
    assert response.status_code == 302
    connection = CrmConnection.objects.get()
    assert connection.solution_imported and connection.roles_assigned
    assert connection.crm_record_written_at is not None
    rows = crm_get(sandbox_crm, "erpcrm_connections").json()["value"]
    assert len(rows) == 1 and rows[0]["erpcrm_erpwebclienturl"].startswith("http")


def test_the_wizard_finishes_without_the_solution_and_says_where_it_matters(
    integration_admin_client,
    sandbox_crm,
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "solution")
    assert (
        post_step(integration_admin_client, "solution", {"import_solution": ""}).status_code == 302
    )
    # The roles do not exist without the solution: the user step passes and says why.
    user_page = integration_admin_client.get("/setup/user/").content.decode()
    assert "come with the integration solution" in user_page
    assert post_step(integration_admin_client, "user", {}).status_code == 302
    post_step(
        integration_admin_client, "areas", {"areas": ["customers"], "owner_mode": "salesperson"}
    )
    availability_page = integration_admin_client.get("/setup/availability/").content.decode()
    assert "needs the integration solution" in availability_page
    post_step(integration_admin_client, "availability", {"publish": ""})
    post_step(integration_admin_client, "sales-orders", {"enabled": ""})
    response = post_step(integration_admin_client, "finish", {"enable": "on"})
    while response.status_code == 302 and "/complete/" not in response["Location"]:
        response = integration_admin_client.get(response["Location"])
    assert response["Location"].endswith("/setup/complete/")
    connection = CrmConnection.objects.get()
    assert connection.is_enabled and not connection.solution_imported
    assert IntegrationTableMapping.objects.filter(name="CUSTOMER").exists()
