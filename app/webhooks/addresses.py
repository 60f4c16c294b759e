"""Which addresses a webhook URL may reach: its host must be on the allow-list when there is
one (`webhook_allowed_hosts`), the host is resolved once, and every address it resolves to must
be public, or be one of the private destinations the operator names (`webhook_private_hosts`,
an address and perhaps a port, never a name). The delivery then connects to one of these very
addresses, so that a DNS answer that changes between the check and the connection (DNS
rebinding) cannot send it to another one."""

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from app.kit.host_entries import (
    IPAddress,
    normal_host,
    parse_allowed_host,
    parse_private_host,
    unmapped,
)

# IPv6 ranges that Python's `is_global` takes for public and that are not: the IPv4-compatible
# addresses (::a.b.c.d, deprecated, RFC 4291) and the local-use NAT64 prefix (RFC 8215).
_NOT_PUBLIC_V6 = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
# The well-known NAT64 prefix (RFC 6052): the gateway connects to the IPv4 address in the last
# 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _carried_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: through 6to4, Teredo or NAT64."""
    carried = []
    if address.sixtofour is not None:
        carried.append(address.sixtofour)
    if address.teredo is not None:
        carried.extend(address.teredo)
    if address in _NAT64:
        carried.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return carried


def is_public(address: IPAddress) -> bool:
    """Whether the address is on the public internet: not loopback, private, link-local,
    shared, reserved, multicast or unspecified, nor an IPv6 address that leads to such an
    IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64)."""
    address = unmapped(address)
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _NOT_PUBLIC_V6):
            return False
        if not all(is_public(carried) for carried in _carried_ipv4(address)):
            return False
    return address.is_global and not address.is_multicast


class Unresolvable(Exception):
    """The host has no address."""


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _port(url: httpx.URL) -> int:
    return url.port or _DEFAULT_PORTS[url.scheme]


@dataclass(frozen=True)
class Resolved:
    """A URL's host, the port it is called on and every address the host resolves to."""

    host: str
    port: int
    addresses: tuple[IPAddress, ...]

    @property
    def private(self) -> bool:
        """One of the addresses is not public (the operator allowed it): what it answers is
        none of the subscriber's business beyond its status and size."""
        return not all(is_public(address) for address in self.addresses)

    def problem(self, private_hosts: Sequence[str]) -> str | None:
        """Why the host may not be called on this port (one of its addresses is neither
        public nor, with this port, among `private_hosts`), or None. Which address a name
        resolves to is not said: the subscriber learns nothing of the operator's network."""
        allowed = [parse_private_host(entry) for entry in private_hosts]
        for address in self.addresses:
            if is_public(address) or any(
                unmapped(address) == a and p in (None, self.port) for a, p in allowed
            ):
                continue
            if _is_address(self.host):
                what = f"{self.host} is not a public address"
            else:
                what = f"{self.host} resolves to an address that is not public"
            return (
                f"{what} (loopback, private, link-local or reserved), and is not, on port "
                f"{self.port}, among the private destinations this service sends webhooks to "
                "(its operator names them in BOUCLE_WEBHOOK_PRIVATE_HOSTS)"
            )
        return None


async def resolve(url: httpx.URL) -> Resolved:
    """Every address of the URL's host (an IP literal resolves to itself), in the resolver's
    order."""
    host = url.raw_host.decode("ascii")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Unresolvable(f"{host} does not resolve") from exc
    # One entry per address: getaddrinfo repeats an address for each protocol it knows.
    addresses = tuple(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise Unresolvable(f"{host} does not resolve")
    return Resolved(host, _port(url), addresses)


def allowed_host_problem(url: str | httpx.URL, allowed_hosts: Sequence[str]) -> str | None:
    """Why the allow-list refuses `url` (its host and port match none of its entries), or
    None. An empty list allows every host."""
    if not allowed_hosts:
        return None
    url = httpx.URL(url)
    host = normal_host(url.raw_host.decode("ascii"))
    port = _port(url)
    for entry in allowed_hosts:
        allowed, allowed_port = parse_allowed_host(entry)
        if host == allowed and allowed_port in (None, port):
            return None
    shown = f"[{host}]" if ":" in host else host
    return (
        f"{shown}:{port} is not among the hosts this service sends webhooks to "
        "(its operator names them in BOUCLE_WEBHOOK_ALLOWED_HOSTS)"
    )


async def destination_problems(
    url: str, *, allowed_hosts: Sequence[str], private_hosts: Sequence[str]
) -> list[tuple[str, str]]:
    """The rules `url` breaks as a webhook destination, each as (rule, sentence):
    `allowed_host` when the allow-list refuses it, `public_address` when it does not resolve,
    or resolves to an address neither public nor among `private_hosts`."""
    problems = []
    if refused := allowed_host_problem(url, allowed_hosts):
        problems.append(("allowed_host", f"Webhooks go to allowed hosts only: {refused}."))
    # A name the allow-list refuses is not even looked up: nothing is asked about a host that
    # may not be called. An address needs no lookup, and is still checked.
    parsed = httpx.URL(url)
    if problems and not _is_address(parsed.raw_host.decode("ascii")):
        return problems
    try:
        problem = (await resolve(parsed)).problem(private_hosts)
    except Unresolvable as exc:
        problem = str(exc)
    if problem:
        problems.append(("public_address", f"Webhooks go to public addresses only: {problem}."))
    return problems


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
