"""The connection checks against the live sandbox CRM."""

import uuid

import pytest

from connection import selectors
from connection.errors import ConnectionProblem
from sandbox import seed
from sandbox.process import free_port
from setup_wizard import deploy
from tests.support.tls_server import untrusted_https_server

pytestmark = pytest.mark.sandbox


def _settings(sandbox_crm, **overrides):
    values = {
        "environment_url": sandbox_crm.url,
        "token_url": sandbox_crm.token_url,
        "client_id": sandbox_crm.client_id,
        "client_secret": sandbox_crm.client_secret,
    }
    values.update(overrides)
    return selectors.connection_settings_build(**values)


def test_connection_check_reads_the_integration_user_and_base_currency(sandbox_crm) -> None:
    check = selectors.crm_connection_check(connection=_settings(sandbox_crm))
    assert str(check.user_id) == sandbox_crm.integration_user_id
    assert check.base_currency == "USD"


def test_wrong_secret_is_reported_as_rejected_credentials(sandbox_crm) -> None:
    with pytest.raises(ConnectionProblem) as info:
        selectors.crm_connection_check(connection=_settings(sandbox_crm, client_secret="wrong"))
    assert info.value.code == "credentials"
    assert info.value.field == "client_secret"


def test_currency_mismatch_explains_what_to_do(sandbox_crm, settings) -> None:
    settings.ERP_LOCAL_CURRENCY = "EUR"
    with pytest.raises(ConnectionProblem) as info:
        selectors.crm_connection_check(connection=_settings(sandbox_crm))
    assert info.value.code == "currency_mismatch"
    assert "EUR" in info.value.message and "USD" in info.value.message


def test_refused_port_is_reported_as_unreachable(sandbox_crm) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConnectionProblem) as info:
        selectors.crm_connection_check(
            connection=_settings(sandbox_crm, environment_url=url, token_url=url + "/t")
        )
    assert info.value.code == "unreachable_refused"


def test_admin_application_user_is_refused_as_integration_user(sandbox_crm) -> None:
    connection = _settings(
        sandbox_crm, client_id=seed.ADMIN_APP_CLIENT_ID, client_secret=seed.ADMIN_APP_CLIENT_SECRET
    )
    check = selectors.crm_connection_check(connection=connection)
    with pytest.raises(ConnectionProblem) as info:
        selectors.integration_user_check(connection=connection, user_id=check.user_id)
    assert info.value.code == "user_is_admin"


def test_solution_deploy_imports_and_assigns_both_roles(sandbox_crm) -> None:
    connection = _settings(sandbox_crm)
    user_id = uuid.UUID(sandbox_crm.integration_user_id)
    before = selectors.integration_user_check(connection=connection, user_id=user_id)
    assert len(before.missing_roles) == 2
    result = deploy.solution_deploy(
        connection=connection,
        admin_username=sandbox_crm.admin_username,
        admin_password=sandbox_crm.admin_password,
        integration_user_id=user_id,
    )
    assert result.imported and result.import_job_id
    after = selectors.integration_user_check(connection=connection, user_id=user_id)
    assert after.missing_roles == []
    assert {"Integration Administrator", "Integration User"} <= after.role_names


def test_wrong_admin_password_has_its_own_message(sandbox_crm) -> None:
    with pytest.raises(ConnectionProblem) as info:
        deploy.solution_deploy(
            connection=_settings(sandbox_crm),
            admin_username=sandbox_crm.admin_username,
            admin_password="not-the-password",
            integration_user_id=uuid.UUID(sandbox_crm.integration_user_id),
        )
    assert info.value.code == "admin_credentials"


def test_an_untrusted_certificate_is_reported_as_a_tls_failure(sandbox_crm, tmp_path) -> None:
    with untrusted_https_server(tmp_path) as url, pytest.raises(ConnectionProblem) as info:
        selectors.crm_connection_check(
            connection=_settings(sandbox_crm, environment_url=url, token_url=url + "/token")
        )
    assert info.value.code == "unreachable_tls"
    assert "certificate" in info.value.message


def test_crm_user_list_offers_enabled_users_only(sandbox_crm) -> None:
    ids = {str(u.id) for u in selectors.crm_user_list(connection=_settings(sandbox_crm))}
    assert seed.ADMIN_USER_ID in ids
    assert seed.DISABLED_USER_ID not in ids
