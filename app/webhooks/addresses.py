"""Which addresses a webhook URL may reach: its host must be on the allow-list when there is
one (`webhook_allowed_hosts`), the host is resolved once, and every address it resolves to must
be public. The delivery then connects to one of these very addresses, so that a DNS answer that
changes between the check and the connection (DNS rebinding) cannot send it to a private one."""

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
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


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normal_host(host: str) -> str:
    """A host as URLs carry it: a name lower-cased and IDNA-encoded, an address compressed."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return httpx.URL(scheme="http", host=host).raw_host.decode("ascii")


def parse_allowed_host(entry: str) -> tuple[str, int | None]:
    """An entry of `webhook_allowed_hosts` as (host, port), the port None when the entry allows
    every port: `name`, `name:port`, an IPv4 address, a bare IPv6 address, `[v6]` or
    `[v6]:port`. Raises ValueError for anything else."""
    if not entry or any(c in entry for c in "/@?#% "):
        raise ValueError(f"{entry!r}: name a host or host:port, without scheme or path")
    host, port = entry, ""
    if entry.startswith("["):
        host, bracket, port = entry[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            raise ValueError(f"{entry!r} is not [address] or [address]:port")
        port = port[1:]
        ipaddress.IPv6Address(host)
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    if not host:
        raise ValueError(f"{entry!r}: name a host before the port")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{entry!r}: the port is a number from 1 to 65535")
    return _normal_host(host), int(port) if port else None


def allowed_host_problem(url: str | httpx.URL, allowed_hosts: Sequence[str]) -> str | None:
    """Why the allow-list refuses `url` (its host and port match none of its entries), or
    None. An empty list allows every host."""
    if not allowed_hosts:
        return None
    url = httpx.URL(url)
    host = _normal_host(url.raw_host.decode("ascii"))
    port = url.port or _DEFAULT_PORTS.get(url.scheme)
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
    url: str, *, allowed_hosts: Sequence[str], allow_private: bool
) -> list[tuple[str, str]]:
    """The rules `url` breaks as a webhook destination, each as (rule, sentence):
    `allowed_host` when the allow-list refuses it, `public_address` when it does not resolve
    to public addresses only (unless `allow_private`)."""
    problems = []
    if refused := allowed_host_problem(url, allowed_hosts):
        problems.append(("allowed_host", f"Webhooks go to allowed hosts only: {refused}."))
    # A name the allow-list refuses is not even looked up: nothing is asked about a host that
    # may not be called. An address needs no lookup, and is still checked.
    host = httpx.URL(url).raw_host.decode("ascii")
    if allow_private or (problems and not _is_address(host)):
        return problems
    if private := await public_address_problem(url):
        problems.append(("public_address", f"Webhooks go to public addresses only: {private}."))
    return problems


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
