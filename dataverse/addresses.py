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
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from .errors import AddressNotAllowed

# host, port -> the IP addresses the name resolves to (tests pass a stub: they never resolve or
# connect outside 127.0.0.0/8).
Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, IPv4-compatible): the
# packet ends up at that IPv4 address, so that is the one to judge.
_EMBEDDING_IPV4 = [ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96")]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in network for network in _EMBEDDING_IPV4) and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    """A globally routable unicast address (not private, loopback, link-local, site-local,
    shared, reserved, multicast or unspecified). An IPv6 address that carries an IPv4 one
    (mapped, NAT64, 6to4, Teredo, IPv4-compatible) is judged by that IPv4 address too."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not is_public(str(embedded)):
            return False
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
    """Resolves and checks the host before each connect (a reconnect checks again), then opens
    the socket to a checked address. The connection's host name is left as it is, so TLS (SNI
    and the certificate check) and the Host header still use the name."""

    address_policy: AddressPolicy
    _dns_host: str
    port: int
    host: str
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        try:
            addresses = self.address_policy.resolve(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        last_error: OSError | None = None
        for address in addresses:
            try:
                sock = create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                last_error = exc
                continue
            return sock
        raise NewConnectionError(
            self,  # type: ignore[arg-type]
            f"Failed to establish a new connection: {last_error or 'no address'}",
        ) from last_error


class _GuardedHTTPConnection(_GuardedMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedMixin, HTTPSConnection):
    pass


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections obey `policy`. It never goes through a proxy: a
    proxy resolves and connects on our behalf, where no check can run (the transport also turns
    off proxies from the environment when a policy is set)."""

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise AddressNotAllowed(
            "A proxy is configured, but the outbound-address policy cannot be checked through "
            "a proxy; unset HTTP(S)_PROXY for this service or allow private addresses.",
            host=proxy,
        )

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
