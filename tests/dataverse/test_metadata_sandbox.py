"""The client's Choice column layer (`option_set`, `insert_option_value`) against the live
sandbox CRM. Uses the session sandbox (reset before and after): inserted options are part of
the organization's schema, which the other client tests' sandbox must not carry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dataverse import errors
from dataverse.client import DataverseClient
from sandbox.process import SandboxProcess
from tests.support.sandbox import ADMIN_APP, sandbox_settings

pytestmark = pytest.mark.sandbox

DEFAULT_PAYMENT_TERMS = {1: "Net 30", 2: "2% 10, Net 30", 3: "Net 45", 4: "Net 60"}


@pytest.fixture
def reset_sandbox(sandbox: SandboxProcess) -> Iterator[SandboxProcess]:
    sandbox.reset()
    yield sandbox
    sandbox.reset()


@pytest.fixture
def integration_client(reset_sandbox: SandboxProcess, tmp_path: Path) -> Iterator[DataverseClient]:
    client = DataverseClient(sandbox_settings(reset_sandbox, tmp_path))
    yield client
    client.close()


@pytest.fixture
def admin_client(reset_sandbox: SandboxProcess, tmp_path: Path) -> Iterator[DataverseClient]:
    """The sandbox's administrator application user (System Administrator)."""
    client_id, secret = ADMIN_APP
    client = DataverseClient(
        sandbox_settings(reset_sandbox, tmp_path, client_id=client_id, client_secret=secret)
    )
    yield client
    client.close()


def test_option_set_lists_the_default_options(integration_client: DataverseClient) -> None:
    assert integration_client.option_set("account", "paymenttermscode") == DEFAULT_PAYMENT_TERMS
    assert integration_client.option_set("account", "address1_freighttermscode") == {
        1: "FOB",
        2: "No Charge",
    }
    assert integration_client.option_set("account", "address1_shippingmethodcode")[7] == (
        "Will Call"
    )


def test_option_set_of_an_unknown_or_non_choice_column(
    integration_client: DataverseClient,
) -> None:
    with pytest.raises(errors.NotFound):
        integration_client.option_set("account", "nope")
    with pytest.raises(errors.NotFound):
        integration_client.option_set("account", "name")
    with pytest.raises(errors.NotFound):
        integration_client.option_set("nope", "paymenttermscode")


def test_insert_option_value_then_write_it(
    admin_client: DataverseClient, integration_client: DataverseClient
) -> None:
    value = admin_client.insert_option_value("account", "paymenttermscode", "NET 14")
    assert value == 100000000
    assert admin_client.insert_option_value("account", "paymenttermscode", "NET 21", 21) == 21
    assert integration_client.option_set("account", "paymenttermscode") == {
        **DEFAULT_PAYMENT_TERMS,
        21: "NET 21",
        100000000: "NET 14",
    }
    account_id = integration_client.create(
        "accounts", {"name": "Option Ltd", "paymenttermscode": value}
    )
    row = integration_client.get("accounts", account_id, select=["paymenttermscode"])
    assert row is not None and row["paymenttermscode"] == value

    with pytest.raises(errors.ValidationFailed) as refused:
        integration_client.update("accounts", account_id, {"paymenttermscode": 100000001})
    assert refused.value.status == 400
    assert refused.value.code == "0x80044331"
    assert "The value 100000001 of 'paymenttermscode'" in refused.value.message
    assert "outside the valid range" in refused.value.message


def test_insert_option_value_needs_the_privilege(integration_client: DataverseClient) -> None:
    with pytest.raises(errors.Forbidden) as refused:
        integration_client.insert_option_value("account", "paymenttermscode", "NET 14")
    assert "prvWriteOptionSet" in refused.value.message
    assert integration_client.option_set("account", "paymenttermscode") == DEFAULT_PAYMENT_TERMS


def test_an_existing_value_is_refused(admin_client: DataverseClient) -> None:
    with pytest.raises(errors.ValidationFailed):
        admin_client.insert_option_value("account", "paymenttermscode", "Again", 2)


def test_reset_removes_inserted_options(
    admin_client: DataverseClient, reset_sandbox: SandboxProcess
) -> None:
    admin_client.insert_option_value("account", "paymenttermscode", "NET 14")
    reset_sandbox.reset()
    assert admin_client.option_set("account", "paymenttermscode") == DEFAULT_PAYMENT_TERMS
    with pytest.raises(errors.ValidationFailed):
        admin_client.create("accounts", {"name": "x", "paymenttermscode": 100000000})
