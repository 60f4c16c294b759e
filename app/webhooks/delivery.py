"""The HTTP exchange of one delivery attempt, bounded in time and in size.

One deadline covers the whole exchange, from resolving the host to the last byte read, so that
a receiver that trickles its answer cannot hold a worker longer than that (httpx's timeouts
bound each read, not their sum). At most `max_response_bytes` of the answer are read: a
receiver that answers 200 with an endless body has accepted the event, and the rest is not
waited for. The connection goes to an address checked by `app.webhooks.addresses`, not to
whatever the name resolves to a moment later, and only to a host that the allow-list names
now: a host taken off it after the subscription is sent nothing.

What a private destination (one the operator allows in `webhook_private_hosts`) answers is
not the subscriber's to read: its log keeps the status and the size of the answer, never its
bytes, nor an error that would quote them. Otherwise a subscription would read the operator's
internal network through the delivery log."""

import asyncio
import functools
import os
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import httpx

from app.kit.host_entries import IPAddress
from app.webhooks.addresses import Unresolvable, allowed_host_problem, resolve

# The start of a public receiver's answer other than 2xx kept in the delivery log, to show
# its reason.
EXCERPT_BYTES = 200
# Answers that say "not now" rather than "no": they are tried again like network errors.
TRANSIENT_CLIENT_ERRORS = frozenset({408, 429})


@dataclass(frozen=True)
class ExchangeBounds:
    """What an exchange may do: how long it takes in all, how much of the answer is read,
    the hosts it may reach (any, when `allowed_hosts` is empty) and the private destinations
    the operator allows."""

    deadline_seconds: float
    max_response_bytes: int
    allowed_hosts: Sequence[str]
    private_hosts: Sequence[str]


@dataclass(frozen=True)
class Answer:
    """What came of one attempt: the receiver's status code when it answered, how many bytes
    of its answer were read, an error when the exchange did not complete, and, from a public
    receiver, the start of the body of an answer other than 2xx. `not_allowed`: the allow-list
    refused the host, nothing was sent, and trying again would refuse it again."""

    status_code: int | None = None
    response_bytes: int | None = None
    error: str | None = None
    excerpt: str | None = None
    duration_ms: int = 0
    not_allowed: bool = False

    @property
    def accepted(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300

    @property
    def refused(self) -> bool:
        """The receiver answered that this event will never be accepted: a 4xx other than 408
        and 429. Trying again would only repeat it."""
        return (
            self.error is None
            and self.status_code is not None
            and 400 <= self.status_code < 500
            and self.status_code not in TRANSIENT_CLIENT_ERRORS
        )


def pinned_request(
    url: httpx.URL, address: IPAddress, content: bytes, headers: dict[str, str]
) -> httpx.Request:
    """A POST of `content` to `url` that connects to `address`: the URL's host is replaced by
    the address, the `Host` header keeps the original host[:port], and over https the TLS
    handshake names (SNI) and verifies the original host, not the address."""
    host = url.raw_host.decode("ascii")
    return httpx.Request(
        "POST",
        url.copy_with(host=str(address)),
        content=content,
        headers={**headers, "Host": url.netloc.decode("ascii")},
        extensions={"sni_hostname": host} if url.scheme == "https" else {},
    )


async def _send(
    client: httpx.AsyncClient,
    url: httpx.URL,
    addresses: Sequence[IPAddress],
    content: bytes,
    headers: dict[str, str],
) -> httpx.Response:
    """Sends to the first of `addresses` that accepts a connection (a name often has an IPv6
    and an IPv4 address, and a receiver listens on one only). A failed connection has sent
    nothing, so trying the next address cannot deliver twice."""
    failure: httpx.ConnectError | None = None
    for address in addresses:
        try:
            return await client.send(pinned_request(url, address, content, headers), stream=True)
        except httpx.ConnectError as exc:
            failure = exc
    assert failure is not None  # `resolve` answers at least one address
    raise failure


async def _read_start(response: httpx.Response, limit: int) -> tuple[bytes, int]:
    """Reads the body until its end or `limit` bytes, whichever comes first, and answers its
    first EXCERPT_BYTES and how many bytes were read. Raw bytes: a compressed body is not
    inflated."""
    start, read = bytearray(), 0
    # Leaving the loop early is safe: the caller closes the response, and its connection.
    async for chunk in response.aiter_raw():
        if len(start) < EXCERPT_BYTES:
            start += chunk[: EXCERPT_BYTES - len(start)]
        read += len(chunk)
        if read >= limit:
            break
    return bytes(start), read


def _error_text(exc: httpx.HTTPError, private: bool) -> str:
    """The error as the log shows it. A failure to connect, read or write says nothing the
    receiver sent; any other (an answer that is not HTTP, say) may quote its bytes, which a
    private destination's log leaves out."""
    if private and not isinstance(exc, httpx.NetworkError | httpx.TimeoutException):
        return (
            f"{type(exc).__name__}: its details are not logged for a private destination "
            "(they may quote what it answered)"
        )
    return f"{type(exc).__name__}: {exc}"[:300]


def delivery_tls() -> ssl.SSLContext:
    """The TLS context of deliveries: what httpx trusts by default (its bundle, or
    SSL_CERT_FILE / SSL_CERT_DIR), made once for each setting of them: making it loads the
    whole bundle, which held the worker's event loop for a tenth of a second at each
    delivery."""
    return _trusted(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _trusted(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()


async def _exchange(
    url: httpx.URL,
    content: bytes,
    headers: dict[str, str],
    bounds: ExchangeBounds,
) -> Answer:
    if refused := allowed_host_problem(url, bounds.allowed_hosts):
        return Answer(error=refused, not_allowed=True)
    status_code: int | None = None
    private = True  # until the addresses are known to be public
    try:
        async with asyncio.timeout(bounds.deadline_seconds):
            resolved = await resolve(url)
            if problem := resolved.problem(bounds.private_hosts):
                return Answer(error=problem)
            private = resolved.private
            # A transport of our own: no proxy from the environment, which would resolve the
            # name again on its side. TLS trusts what httpx trusts by default.
            async with httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(verify=delivery_tls()),
                timeout=None,
            ) as client:
                response = await _send(client, url, resolved.addresses, content, headers)
                status_code = response.status_code
                try:
                    start, size = await _read_start(response, bounds.max_response_bytes)
                finally:
                    await response.aclose()
        shown = not response.is_success and not private
        return Answer(
            status_code=status_code,
            response_bytes=size,
            excerpt=(start.decode(errors="replace") or None) if shown else None,
        )
    except Unresolvable as exc:
        return Answer(error=str(exc))
    except TimeoutError:
        answered = f" (the answer began with {status_code})" if status_code is not None else ""
        return Answer(
            status_code=status_code,
            error=f"deadline: no complete answer within {bounds.deadline_seconds:g} s{answered}",
        )
    except httpx.HTTPError as exc:
        return Answer(status_code=status_code, error=_error_text(exc, private))


async def post(
    url: str,
    content: bytes,
    headers: dict[str, str],
    bounds: ExchangeBounds,
) -> Answer:
    """POSTs `content` to `url` and answers what came of it; it never raises for what the
    network or the receiver did. A host off `bounds.allowed_hosts` (when not empty) is sent
    nothing, and non-public addresses are refused unless `bounds.private_hosts` names them."""
    started = time.monotonic()
    answer = await _exchange(
        httpx.URL(url),
        content,
        {**headers, "Accept-Encoding": "identity", "User-Agent": "boucle-webhooks"},
        bounds,
    )
    return replace(answer, duration_ms=round((time.monotonic() - started) * 1000))
