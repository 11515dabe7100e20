"""The outbound-address policy and remote error bodies, as the setup wizard shows them.

Host names are resolved by a stub resolver; every connection goes to 127.0.0.1.
"""

import uuid
from collections.abc import Sequence

import pytest

from connection.errors import ConnectionProblem
from dataverse import addresses
from dataverse.addresses import AddressPolicy
from dataverse.client import ConnectionSettings
from setup_wizard import deploy
from tests.support.stand_in import stand_in_server

from .wizard_steps import crm_data, post_step, walk_to

STUB_DNS = {"metadata.example.test": ["169.254.169.254"]}


def stub_resolver(host: str, port: int) -> Sequence[str]:
    return STUB_DNS[host]


@pytest.fixture
def public_only(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Production's policy, with host names resolved by the stub."""
    settings.CRM_ALLOW_PRIVATE_ADDRESSES = False
    monkeypatch.setattr(addresses, "system_resolver", stub_resolver)


@pytest.mark.django_db
@pytest.mark.sandbox
def test_the_wizard_refuses_private_and_plain_http_addresses_in_production(
    integration_admin_client, sandbox_crm, public_only
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    token = "https://login.example.test/tenant/oauth2/v2.0/token"
    cases = [
        ("https://10.0.0.5", token, "private, loopback or reserved"),
        ("https://localhost", token, "private, loopback or reserved"),
        (sandbox_crm.url, token, "use https://"),  # the sandbox: plain http on 127.0.0.1
        (
            "https://metadata.example.test",
            "https://metadata.example.test/tenant/oauth2/v2.0/token",
            "metadata.example.test resolves to a private, loopback or reserved",
        ),
    ]
    for url, token_url, message in cases:
        response = post_step(
            integration_admin_client,
            "crm",
            crm_data(sandbox_crm, environment_url=url, token_url=token_url),
        )
        assert response.status_code == 200, url
        assert message in response.content.decode(), url


@pytest.mark.django_db
@pytest.mark.sandbox
def test_the_body_of_a_server_that_is_not_dataverse_is_never_shown(
    integration_admin_client, sandbox_crm
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "crm")
    with stand_in_server() as (port, _handler):
        url = f"http://127.0.0.1:{port}"
        response = post_step(
            integration_admin_client,
            "crm",
            crm_data(sandbox_crm, environment_url=url, token_url=f"{url}/tenant/oauth2/v2.0/token"),
        )
    text = response.content.decode()
    assert "SECRET-BANNER" not in text
    assert "not an answer of a Dataverse Web API" in text


def test_the_administrators_client_keeps_the_policy() -> None:
    # The wizard's solution step signs in as the administrator: that client obeys the same
    # policy (its password must not reach an internal address either).
    policy = AddressPolicy(allow_private=False, resolver=lambda host, port: ["10.0.0.7"])
    settings = ConnectionSettings(
        environment_url="https://internal.example.test",
        token_url="https://internal.example.test/t",
        client_id="c",
        client_secret="s",
        address_policy=policy,
    )
    with pytest.raises(ConnectionProblem) as info:
        deploy.solution_deploy(
            connection=settings,
            admin_username="admin@example.test",
            admin_password="pw",
            integration_user_id=uuid.uuid4(),
        )
    assert info.value.code == "address_not_allowed"
