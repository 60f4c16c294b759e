"""Entries that name a host and perhaps a port (`name`, `name:port`, an address, `[v6]:port`),
as settings list them: parsed and checked, so that a malformed entry stops the start."""

import ipaddress

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def unmapped(address: IPAddress) -> IPAddress:
    """The IPv4 address of an IPv4-mapped IPv6 address (::ffff:a.b.c.d), else the address:
    both name the same destination."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normal_host(host: str) -> str:
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
    return normal_host(host), int(port) if port else None


def parse_private_host(entry: str) -> tuple[IPAddress, int | None]:
    """An entry of `webhook_private_hosts` as (address, port), the port None when the entry
    allows every port: written as an entry of `webhook_allowed_hosts`, but an address, never
    a name (a name can come to resolve to any other address). Raises ValueError otherwise."""
    host, port = parse_allowed_host(entry)
    try:
        return unmapped(ipaddress.ip_address(host)), port
    except ValueError:
        raise ValueError(
            f"{entry!r}: name an address (127.0.0.1:8901, [::1]:8901), not a host name, "
            "which could come to resolve to another address"
        ) from None
