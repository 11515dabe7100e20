"""`manage.py setup_connection` against the live sandbox."""

import io
import subprocess
import sys

import pytest
import requests
from django.core.management import CommandError, call_command

from accounts import selectors as account_selectors
from accounts import services as account_services
from connection.clients import clients_close
from connection.models import ConnectionChange, CrmConnection
from syncjobs.models import IntegrationTableMapping
from tests.factories.accounts import UserFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


def _args(sandbox_crm, *extra: str) -> list[str]:
    return [
        "--environment-url", sandbox_crm.url, "--token-url", sandbox_crm.token_url,
        "--client-id", sandbox_crm.client_id,
        "--admin-username", sandbox_crm.admin_username, *extra,
    ]  # fmt: skip


def test_secrets_from_the_environment_set_up_an_enabled_connection(
    sandbox_crm, monkeypatch
) -> None:
    monkeypatch.setenv("CRM_CLIENT_SECRET", sandbox_crm.client_secret)
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", sandbox_crm.admin_password)
    out = io.StringIO()
    call_command("setup_connection", *_args(sandbox_crm, "--sales-orders"), stdout=out)
    connection = CrmConnection.objects.get()
    assert connection.is_enabled and connection.solution_imported and connection.roles_assigned
    assert connection.client_secret == sandbox_crm.client_secret
    assert IntegrationTableMapping.objects.filter(name="SALESORDER-ORDER").exists()
    assert ConnectionChange.objects.filter(
        source="command", field="client_secret", new_value="changed"
    ).exists()
    assert sandbox_crm.client_secret not in out.getvalue()


def test_secrets_from_standard_input(sandbox_crm, monkeypatch) -> None:
    monkeypatch.delenv("CRM_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("CRM_ADMIN_PASSWORD", raising=False)
    stdin = io.StringIO(f"{sandbox_crm.client_secret}\n{sandbox_crm.admin_password}\n")
    call_command(
        "setup_connection",
        *_args(
            sandbox_crm,
            "--client-secret-stdin",
            "--admin-password-stdin",
            "--areas",
            "customers,contacts",
        ),
        stdin=stdin,
        stdout=io.StringIO(),
    )
    names = set(IntegrationTableMapping.objects.values_list("name", flat=True))
    assert names == {"CUSTOMER", "CONTACT", "PAYMENT TERMS", "SHIPMENT METHOD", "SHIPPING AGENT"}


def test_availability_key_is_generated_and_published(sandbox_crm, monkeypatch) -> None:
    user = UserFactory(username="odata")
    account_services.availability_access_set(user=user, allowed=True)
    monkeypatch.setenv("CRM_CLIENT_SECRET", sandbox_crm.client_secret)
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", sandbox_crm.admin_password)
    call_command(
        "setup_connection",
        *_args(sandbox_crm, "--availability-user", "odata", "--generate-availability-key"),
        stdout=io.StringIO(),
    )
    connection = CrmConnection.objects.get()
    assert connection.availability_enabled
    assert account_selectors.webservice_key_check(user=user, key=connection.availability_key)


def test_wrong_secret_fails_with_the_wizard_message(sandbox_crm, monkeypatch) -> None:
    monkeypatch.setenv("CRM_CLIENT_SECRET", "wrong")
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", sandbox_crm.admin_password)
    with pytest.raises(CommandError, match="rejected the client id or client secret"):
        call_command("setup_connection", *_args(sandbox_crm), stdout=io.StringIO())
    assert not CrmConnection.objects.exists()


def test_a_secret_passed_as_an_argument_is_refused_with_a_failure_exit_code(sandbox_crm) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "setup_connection",
            *_args(sandbox_crm),
            "--client-secret",
            sandbox_crm.client_secret,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "never accepted as command-line arguments" in result.stderr
    assert sandbox_crm.client_secret not in result.stdout + result.stderr


def test_missing_admin_credentials_fail_when_the_import_is_wanted(sandbox_crm, monkeypatch) -> None:
    monkeypatch.setenv("CRM_CLIENT_SECRET", sandbox_crm.client_secret)
    monkeypatch.delenv("CRM_ADMIN_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="needs a CRM administrator"):
        call_command("setup_connection", *_args(sandbox_crm), stdout=io.StringIO())


def _tokens_issued(sandbox, user_id: str) -> int:
    stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
    return int(stats.get("tokens_issued", {}).get(user_id, 0))


def test_the_integration_user_signs_in_once_for_a_whole_setup(
    sandbox_crm, sandbox, monkeypatch
) -> None:
    # A process that never talked to this CRM: no client, no token yet.
    clients_close()
    before = _tokens_issued(sandbox, sandbox_crm.integration_user_id)
    monkeypatch.setenv("CRM_CLIENT_SECRET", sandbox_crm.client_secret)
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", sandbox_crm.admin_password)
    call_command("setup_connection", *_args(sandbox_crm, "--sales-orders"), stdout=io.StringIO())
    # The check, the user, the roles, the CRM users and the connection record: one sign-in.
    assert _tokens_issued(sandbox, sandbox_crm.integration_user_id) - before == 1
