"""The option mappings (PAYMENT TERMS, SHIPMENT METHOD, SHIPPING AGENT) add option values to CRM
Choice columns as the integration user; Dataverse needs prvWriteOptionSet for that, which the
solution's Integration Administrator role grants (setup_wizard/solution/customizations.xml)."""

import pytest

from connection import clients, selectors
from dataverse import errors
from dataverse.client import DataverseClient
from tests.support.sandbox import sandbox_settings

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


def test_after_the_setup_the_integration_user_may_add_option_values(saved_connection) -> None:
    assert saved_connection.solution_imported and saved_connection.roles_assigned
    settings = selectors.crm_connection_settings()
    assert settings is not None
    client = clients.client_get(settings=settings)
    value = client.insert_option_value("account", "paymenttermscode", "NET 14")
    assert isinstance(value, int)
    assert client.option_set("account", "paymenttermscode")[value] == "NET 14"


def test_before_the_solution_import_the_integration_user_is_refused(sandbox_crm, tmp_path) -> None:
    client = DataverseClient(sandbox_settings(sandbox_crm, tmp_path))
    try:
        with pytest.raises(errors.Forbidden) as refused:
            client.insert_option_value("account", "paymenttermscode", "NET 14")
    finally:
        client.close()
    assert refused.value.status == 403
    assert refused.value.code == "0x80040220"
    assert "prvWriteOptionSet" in refused.value.message
