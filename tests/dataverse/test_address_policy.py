"""The outbound-address policy: the app reaches public CRM addresses only, after DNS resolution,
on every connection and redirect; a remote error body is never shown.

Host names are resolved by a stub resolver and every connection that is made goes to
127.0.0.1: no test sends anything outside 127.0.0.0/8.
"""

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from dataverse import addresses
from dataverse import errors as dv
from dataverse.addresses import AddressPolicy
from dataverse.client import ConnectionSettings, DataverseClient
from sandbox.process import free_port
from tests.support.stand_in import _Handler, stand_in_server
from tests.support.tls_server import self_signed

STUB_DNS = {
    "internal.example.test": ["10.0.0.7"],
    "metadata.example.test": ["169.254.169.254"],
    "mixed.example.test": ["93.184.216.34", "192.168.1.10"],
    "loopback.example.test": ["127.0.0.1"],
}


def stub_resolver(host: str, port: int) -> Sequence[str]:
    return STUB_DNS[host]


def _client(url: str, policy: AddressPolicy) -> DataverseClient:
    return DataverseClient(
        ConnectionSettings(
            environment_url=url,
            token_url=f"{url}/tenant/oauth2/v2.0/token",
            client_id="c",
            client_secret="s",
            max_attempts=1,
            connect_timeout=2.0,
            read_timeout=5.0,
            address_policy=policy,
        )
    )


@pytest.mark.parametrize(
    "host", ["internal.example.test", "metadata.example.test", "mixed.example.test"]
)
def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(host: str) -> None:
    client = _client(f"https://{host}", AddressPolicy(allow_private=False, resolver=stub_resolver))
    with pytest.raises(dv.AddressNotAllowed) as info:
        client.whoami()
    assert info.value.host == host
    assert not addresses.is_public(info.value.address)


def test_public_addresses_pass_the_policy() -> None:
    policy = AddressPolicy(allow_private=False, resolver=lambda host, port: ["93.184.216.34"])
    assert policy.resolve("crm.example.test", 443) == ["93.184.216.34"]
    # IPv4-mapped IPv6 is judged as the IPv4 address it carries.
    assert not addresses.is_public("::ffff:10.0.0.1")
    assert not addresses.is_public("fd00::1") and not addresses.is_public("::1")


@pytest.fixture
def stand_in() -> Iterator[tuple[int, type[_Handler]]]:
    with stand_in_server() as server:
        yield server


def test_a_redirect_is_never_followed_to_another_address(
    stand_in: tuple[int, type[_Handler]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, handler = stand_in
    handler.redirect_to = "http://internal.example.test/api/data/v9.2/WhoAmI"
    looked_up: list[str] = []

    def recording_resolver(host: str, port: int) -> Sequence[str]:
        looked_up.append(host)
        return stub_resolver(host, port)

    # The stand-in answers on 127.0.0.1; the policy treats exactly that address as public here,
    # so that the first hop passes and only the redirect is at stake.
    real_is_public = addresses.is_public
    monkeypatch.setattr(
        addresses, "is_public", lambda address: address == "127.0.0.1" or real_is_public(address)
    )
    client = _client(
        f"http://loopback.example.test:{port}",
        AddressPolicy(allow_private=False, resolver=recording_resolver),
    )
    with pytest.raises(dv.DataverseError, match="redirected"):
        client.whoami()
    # The redirect's target was not even looked up, let alone connected to.
    assert "internal.example.test" not in looked_up


def test_with_private_addresses_allowed_the_checked_address_is_the_one_connected(
    sandbox,
) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    client = DataverseClient(
        ConnectionSettings(
            environment_url=f"http://loopback.example.test:{port}",
            token_url=f"http://loopback.example.test:{port}/sandbox/oauth2/v2.0/token",
            client_id="5e1d6c7a-0d1b-4f1e-9c3a-2b7e8f9a0c01",
            client_secret="sandbox-integration-secret",
            address_policy=AddressPolicy(allow_private=True, resolver=stub_resolver),
        )
    )
    assert client.whoami().user_id
    closed = _client(
        f"http://loopback.example.test:{free_port()}",
        AddressPolicy(allow_private=True, resolver=stub_resolver),
    )
    with pytest.raises(dv.ConnectionFailed) as info:
        closed.whoami()
    assert info.value.reason == "refused"


def test_tls_and_the_host_header_still_use_the_host_name(tmp_path: Path) -> None:
    # A certificate for the name only: the connection goes to the checked address, but TLS
    # (SNI and the certificate check) and the Host header must still name the host.
    certificate = self_signed(tmp_path, "loopback.example.test")
    with stand_in_server(tls=certificate) as (port, handler):
        handler.api_status = 200
        settings = ConnectionSettings(
            environment_url=f"https://loopback.example.test:{port}",
            token_url=f"https://loopback.example.test:{port}/tenant/oauth2/v2.0/token",
            client_id="c",
            client_secret="s",
            verify_tls=str(certificate[0]),
            address_policy=AddressPolicy(allow_private=True, resolver=stub_resolver),
        )
        client = DataverseClient(settings)
        for _attempt in range(2):
            response = client.session.get(
                f"https://loopback.example.test:{port}/", headers={"Connection": "close"}
            )
            assert response.status_code == 200
        assert handler.hosts == [f"loopback.example.test:{port}"] * 2


def test_a_proxy_from_the_environment_does_not_bypass_the_policy(
    stand_in: tuple[int, type[_Handler]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, proxy = stand_in
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    client = _client(
        "http://internal.example.test", AddressPolicy(allow_private=False, resolver=stub_resolver)
    )
    with pytest.raises(dv.AddressNotAllowed):
        client.whoami()
    assert proxy.hosts == []  # nothing reached the proxy


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::a00:1", "64:ff9b::7f00:1", "2002:a00:1::1", "::a00:1", "fec0::1",
     "2001:0:4136:e378:8000:63bf:f5ff:fffe"],
)  # fmt: skip
def test_ipv6_addresses_that_lead_to_private_networks_are_not_public(address: str) -> None:
    assert not addresses.is_public(address)
