"""Which network addresses the client may connect to (outbound-address policy).

An administrator types the environment and token URLs; without a policy they could point the
server at its own private network (server-side request forgery). The check happens where the
socket is opened, after DNS resolution, so it holds for every request, every redirect and every
reconnect, and a name that resolves to a public address at setup and to a private one later
(DNS rebinding) is refused then: the connection goes to the address that was checked.

The library applies a policy only when `ConnectionSettings.address_policy` is set; the app sets
it for every connection it builds (connection.selectors.connection_settings_build).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import AddressNotAllowed

# host, port -> the IP addresses the name resolves to (tests pass a stub: they never resolve or
# connect outside 127.0.0.0/8).
Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: str) -> bool:
    """A globally routable unicast address (not private, loopback, link-local, shared,
    reserved, multicast or unspecified); an IPv4-mapped IPv6 address counts as its IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class AddressPolicy:
    """`allow_private`: also loopback and private ranges (development, tests, an on-premises CRM
    on the local network); otherwise public addresses only."""

    allow_private: bool = False
    resolver: Resolver | None = None

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of `host` that may be connected to; AddressNotAllowed if none."""
        addresses = list((self.resolver or system_resolver)(host, port))
        if self.allow_private:
            return addresses
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            # One private address is enough to refuse: a resolver answering both is a trick.
            raise AddressNotAllowed(
                f"{host} resolves to {refused[0]}, a private, loopback or reserved address; "
                "only public addresses are allowed.",
                host=host,
                address=refused[0],
            )
        return addresses


class _GuardedMixin:
    """Resolves and checks the host before each connect, then connects to a checked address."""

    address_policy: AddressPolicy
    _dns_host: str
    port: int

    def _new_conn(self) -> socket.socket:
        host = getattr(self, "_policy_host", None) or self._dns_host
        self._policy_host = host  # a reconnect checks the name again, not the last address
        last_error: OSError | None = None
        for address in self.address_policy.resolve(host, self.port):
            # TLS still verifies the certificate against the host name (self.host).
            self._dns_host = address
            try:
                return super()._new_conn()  # type: ignore[misc, no-any-return]
            except OSError as exc:
                last_error = exc
        if last_error is not None:
            raise last_error
        raise OSError(f"{host} has no address")


class _GuardedHTTPConnection(_GuardedMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedMixin, HTTPSConnection):
    pass


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections obey `policy`."""

    def __init__(self, policy: AddressPolicy, **kwargs: Any) -> None:
        self.policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        policy = self.policy
        http_conn = type("PolicyHTTPConnection", (_GuardedHTTPConnection,), {})
        https_conn = type("PolicyHTTPSConnection", (_GuardedHTTPSConnection,), {})
        http_conn.address_policy = policy  # type: ignore[attr-defined]
        https_conn.address_policy = policy  # type: ignore[attr-defined]
        http_pool = type("PolicyHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
        https_pool = type("PolicyHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})
        self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}
