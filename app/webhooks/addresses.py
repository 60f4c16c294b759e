"""Which addresses a webhook URL may reach: the host is resolved once, and every address it
resolves to must be public. The delivery then connects to one of these very addresses, so that
a DNS answer that changes between the check and the connection (DNS rebinding) cannot send it
to a private one."""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Unresolvable(Exception):
    """The host has no address."""


@dataclass(frozen=True)
class Resolved:
    host: str
    addresses: tuple[IPAddress, ...]

    @property
    def problem(self) -> str | None:
        """Why the host may not be called (one of its addresses is loopback, private,
        link-local or otherwise not public), or None."""
        for address in self.addresses:
            if not address.is_global:
                return f"{self.host} resolves to {address}, which is not a public address"
        return None


async def resolve(host: str) -> Resolved:
    """Every address of `host` (an IP literal resolves to itself), in the resolver's order."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Unresolvable(f"{host} does not resolve") from exc
    # One entry per address: getaddrinfo repeats an address for each protocol it knows.
    addresses = tuple(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise Unresolvable(f"{host} does not resolve")
    return Resolved(host, addresses)


async def public_address_problem(url: str) -> str | None:
    """Why `url` may not receive webhooks (its host does not resolve, or resolves to a
    non-public address), or None."""
    try:
        return (await resolve(httpx.URL(url).raw_host.decode("ascii"))).problem
    except Unresolvable as exc:
        return str(exc)
