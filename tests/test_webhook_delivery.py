"""Webhook delivery against receivers that misbehave, and the cap on subscriptions.

Real receivers on 127.0.0.1, a real worker and PostgreSQL. The deliveries here run with a
short deadline and retries an hour apart, so that a retry they queue is never due during the
suite (the suite's own app retries at once)."""

import asyncio
import ipaddress
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from app.main import create_app
from app.models import WebhookDelivery
from app.settings import Settings
from app.webhooks import addresses
from app.webhooks.attempts import DELIVER, deliver
from app.webhooks.delivery import pinned_request
from app.webhooks.outbox import emit
from app.webhooks.sweep import requeue_orphaned_deliveries
from app.worker.process import work_until_idle
from tests.conftest import (
    LOOPBACK_RECEIVERS,
    SECRET,
    Org,
    OrgFactory,
    Receiver,
    SocketReceiver,
    answer_endlessly,
    answer_trickling,
    assert_problem,
    self_signed_certificate,
    settings_for,
    signature_is_valid,
)
from tests.overlap import overlapping

DEADLINE_SECONDS = 2


def _delivery_settings(database_url: str, **overrides: Any) -> Settings:
    defaults: dict[str, Any] = {
        "webhook_private_hosts": LOOPBACK_RECEIVERS,
        "webhook_timeout_seconds": DEADLINE_SECONDS,
        "webhook_retry_base_seconds": 3600,
    }
    return settings_for(database_url, **{**defaults, **overrides})


async def _serving(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def delivering(database_url: str) -> AsyncIterator[FastAPI]:
    """An app whose worker delivers with a deadline of DEADLINE_SECONDS, to loopback too."""
    async for application in _serving(_delivery_settings(database_url)):
        yield application


@pytest.fixture(scope="module")
async def strict(database_url: str) -> AsyncIterator[FastAPI]:
    """The same, delivering to public addresses only."""
    async for application in _serving(_delivery_settings(database_url, webhook_private_hosts=[])):
        yield application


Subscribe = Callable[[Org, str], Awaitable[str]]


@pytest.fixture
async def subscribe(client: httpx.AsyncClient) -> AsyncIterator[Subscribe]:
    """Subscribes an organization to `match.accepted` at a URL; unsubscribes at the end, which
    deletes the deliveries, so that the retries left queued find nothing to send."""
    made: list[tuple[Org, str]] = []

    async def make(org: Org, url: str) -> str:
        response = await client.post(
            "/v1/webhooks",
            json={"url": url, "events": ["match.accepted"], "secret": SECRET},
            headers=org.headers,
        )
        assert response.status_code == 201, response.text
        made.append((org, response.json()["id"]))
        return str(response.json()["id"])

    yield make
    for org, webhook_id in made:
        await client.delete(f"/v1/webhooks/{webhook_id}", headers=org.headers)


@pytest.fixture
def socket_receivers() -> Iterator[Callable[..., SocketReceiver]]:
    opened: list[SocketReceiver] = []

    def make(answer: Any) -> SocketReceiver:
        opened.append(SocketReceiver(answer))
        return opened[-1]

    yield make
    for receiver in opened:
        receiver.close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    opened: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        opened.append(Receiver(**kwargs))
        return opened[-1]

    yield make
    for receiver in opened:
        receiver.server.shutdown()
        receiver.server.server_close()


async def _emit(app: FastAPI, org: Org, webhook_id: str) -> uuid.UUID:
    """Emits an event to the organization, as a change would, and answers the delivery of it
    to this subscription (queued, not attempted yet)."""
    async with app.state.sessionmaker.begin() as session:
        match_id = uuid.uuid4()
        await emit(
            session,
            {uuid.UUID(org.id)},
            "match.accepted",
            {"match": {"id": str(match_id)}},
            fact=(match_id,),
        )
    async with app.state.sessionmaker() as session:
        delivery_id: uuid.UUID = await session.scalar(
            select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == uuid.UUID(webhook_id))
        )
    return delivery_id


async def _queued_attempts(app: FastAPI, delivery_id: uuid.UUID) -> int:
    async with app.state.sessionmaker() as session:
        count: int = await session.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :task "
                "AND status = 'todo' AND args->>'delivery_id' = :id"
            ),
            {"task": DELIVER.name, "id": str(delivery_id)},
        )
    return count


async def _delivery(client: httpx.AsyncClient, org: Org, webhook_id: str) -> dict[str, Any]:
    """The subscription's one delivery, as its owner reads it."""
    response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=org.headers)
    [item] = response.json()["items"]
    return dict(item)


async def test_a_trickling_answer_is_cut_at_the_deadline_and_tried_again(
    client: httpx.AsyncClient,
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    socket_receivers: Callable[..., SocketReceiver],
) -> None:
    org = await make_org()
    receiver = socket_receivers(answer_trickling)
    webhook_id = await subscribe(org, receiver.url)
    delivery_id = await _emit(delivering, org, webhook_id)

    await work_until_idle(delivering)

    delivery = await _delivery(client, org, webhook_id)
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    [attempt] = delivery["log"]
    assert attempt["error"].startswith("deadline:"), attempt
    assert f"within {DEADLINE_SECONDS} s" in attempt["error"]
    assert attempt["status_code"] == 200 and "retry_at" in attempt
    assert await _queued_attempts(delivering, delivery_id) == 1
    assert len(receiver.requests) == 1
    # The worker let go of the connection: the receiver's next byte found it closed.
    assert await asyncio.to_thread(receiver.hung_up.wait, 10)


async def test_an_endless_answer_is_read_no_further_than_its_start(
    client: httpx.AsyncClient,
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    socket_receivers: Callable[..., SocketReceiver],
) -> None:
    org = await make_org()
    receiver = socket_receivers(answer_endlessly)
    webhook_id = await subscribe(org, receiver.url)
    delivery_id = await _emit(delivering, org, webhook_id)

    await work_until_idle(delivering)

    # Delivered, so not cut at the deadline: reading stopped after 64 KiB.
    delivery = await _delivery(client, org, webhook_id)
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1
    [attempt] = delivery["log"]
    assert attempt["status_code"] == 200 and "error" not in attempt
    assert "response_excerpt" not in attempt
    assert await _queued_attempts(delivering, delivery_id) == 0
    assert await asyncio.to_thread(receiver.hung_up.wait, 10)


@pytest.mark.parametrize("status", [400, 410])
async def test_a_refusal_fails_the_delivery_at_once(
    status: int,
    client: httpx.AsyncClient,
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    receivers: Callable[..., Receiver],
) -> None:
    org = await make_org()
    refusal = b'{"error": "no such subscriber"}' + b" " * 1000
    receiver = receivers(failures=1, failure_status=status, failure_body=refusal)
    webhook_id = await subscribe(org, receiver.url)
    delivery_id = await _emit(delivering, org, webhook_id)

    await work_until_idle(delivering)

    delivery = await _delivery(client, org, webhook_id)
    assert delivery["status"] == "failed" and delivery["attempts"] == 1
    [attempt] = delivery["log"]
    assert attempt["status_code"] == status
    assert attempt["response_bytes"] == len(refusal)
    assert f"answered {status}" in attempt["reason"] and "retry_at" not in attempt
    assert await _queued_attempts(delivering, delivery_id) == 0
    await work_until_idle(delivering)
    assert len(receiver.received) == 1


async def test_a_public_receiver_s_refusal_shows_the_start_of_its_answer(
    client: httpx.AsyncClient,
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    receivers: Callable[..., Receiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = await make_org()
    refusal = b'{"error": "no such subscriber"}' + b" " * 1000
    receiver = receivers(failures=1, failure_status=400, failure_body=refusal)
    webhook_id = await subscribe(org, receiver.url)
    await _emit(delivering, org, webhook_id)
    # The loopback receiver stands for one on the internet: nothing leaves this machine.
    monkeypatch.setattr(addresses, "is_public", lambda address: True)

    await work_until_idle(delivering)

    [attempt] = (await _delivery(client, org, webhook_id))["log"]
    assert attempt["status_code"] == 400 and attempt["response_bytes"] == len(refusal)
    # A short excerpt of the answer, not all of it.
    assert attempt["response_excerpt"].startswith('{"error": "no such subscriber"}')
    assert len(attempt["response_excerpt"]) == 200


INTERNAL = b"internal-token-3f9a"


def _answer_with(head: bytes, body: bytes = b"") -> Callable[[socket.socket, Any], None]:
    def answer(connection: socket.socket, stopped: Any) -> None:
        connection.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    return answer


# What a service of the operator's network might answer to a POST: a page of its own, a
# refusal quoting it, a banner that is not HTTP, a header line HTTP cannot read.
PRIVATE_ANSWERS = {
    "200 with a page": (_answer_with(b"HTTP/1.1 200 OK\r\n", b"<h1>" + INTERNAL + b"</h1>"), 1),
    "500 quoting it": (_answer_with(b"HTTP/1.1 500 Oops\r\n", b"key=" + INTERNAL), 1),
    "403 quoting it": (_answer_with(b"HTTP/1.1 403 No\r\n", b"key=" + INTERNAL), 1),
    "not HTTP": (_answer_with(b"SSH-2.0-" + INTERNAL + b"\r\n"), 0),
    "a broken header": (_answer_with(b"HTTP/1.1 200 OK\r\nbroken " + INTERNAL + b"\r\n"), 0),
}


@pytest.mark.parametrize("answer", list(PRIVATE_ANSWERS))
async def test_a_private_destination_s_answer_never_shows_in_the_log(
    answer: str,
    client: httpx.AsyncClient,
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    socket_receivers: Callable[..., SocketReceiver],
) -> None:
    """A subscription to a private destination the operator allows learns whether it
    answered, its status and its size: none of its bytes."""
    respond, has_a_body = PRIVATE_ANSWERS[answer]
    org = await make_org()
    receiver = socket_receivers(respond)
    webhook_id = await subscribe(org, receiver.url)
    await _emit(delivering, org, webhook_id)

    await work_until_idle(delivering)

    response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=org.headers)
    assert len(receiver.requests) == 1
    assert INTERNAL.decode() not in response.text
    [attempt] = response.json()["items"][0]["log"]
    assert "response_excerpt" not in attempt
    if has_a_body:
        assert attempt["status_code"] and attempt["response_bytes"] > len(INTERNAL)
    else:
        assert "its details are not logged for a private destination" in attempt["error"]


@pytest.mark.parametrize("status", [408, 429, 503, 302])
async def test_not_now_is_tried_again(
    status: int,
    client: httpx.AsyncClient,
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    receivers: Callable[..., Receiver],
) -> None:
    org = await make_org()
    receiver = receivers(failures=1, failure_status=status)
    webhook_id = await subscribe(org, receiver.url)
    delivery_id = await _emit(delivering, org, webhook_id)

    await work_until_idle(delivering)

    delivery = await _delivery(client, org, webhook_id)
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    [attempt] = delivery["log"]
    assert attempt["status_code"] == status and "retry_at" in attempt
    assert "reason" not in attempt
    assert await _queued_attempts(delivering, delivery_id) == 1
    # Between half the base and the base after the first attempt (then twice that, ...).
    wait = datetime.fromisoformat(attempt["retry_at"]) - datetime.fromisoformat(attempt["at"])
    base = delivering.state.settings.webhook_retry_base_seconds
    assert base / 2 <= wait.total_seconds() <= base + 1, wait

    # When the retry runs, it delivers, and nothing more is queued.
    await deliver(delivering.state.sessionmaker, delivering.state.settings, delivery_id)
    delivery = await _delivery(client, org, webhook_id)
    assert delivery["status"] == "delivered" and delivery["attempts"] == 2
    assert [a["status_code"] for a in delivery["log"]] == [status, 204]
    assert len(receiver.received) == 2
    # One delivery, named the same on each attempt, and each attempt signed.
    first, second = receiver.received
    assert first["headers"]["Boucle-Delivery"] == second["headers"]["Boucle-Delivery"]
    assert first["headers"]["Boucle-Delivery"] == str(delivery_id)
    assert signature_is_valid(first) and signature_is_valid(second)


async def test_no_connection_is_tried_again_until_the_window_ends(
    client: httpx.AsyncClient,
    database_url: str,
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
) -> None:
    org = await make_org()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    webhook_id = await subscribe(org, f"http://127.0.0.1:{closed_port}/hook")
    delivery_id = await _emit(delivering, org, webhook_id)
    await deliver(delivering.state.sessionmaker, delivering.state.settings, delivery_id)
    delivery = await _delivery(client, org, webhook_id)
    [attempt] = delivery["log"]
    assert delivery["status"] == "pending" and attempt["error"] and "retry_at" in attempt

    # Past the retry window, the next failure fails the delivery, and says why.
    async for closing in _serving(_delivery_settings(database_url, webhook_retry_window_hours=0)):
        await deliver(closing.state.sessionmaker, closing.state.settings, delivery_id)
    delivery = await _delivery(client, org, webhook_id)
    assert delivery["status"] == "failed" and delivery["attempts"] == 2
    assert "no 2xx answer within 0 hours" in delivery["log"][-1]["reason"]


async def test_the_receiver_sees_the_host_of_its_url(
    client: httpx.AsyncClient,
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    receivers: Callable[..., Receiver],
) -> None:
    org = await make_org()
    receiver = receivers()
    webhook_id = await subscribe(org, f"http://localhost:{receiver.port}/hook")
    await _emit(delivering, org, webhook_id)

    await work_until_idle(delivering)

    assert (await _delivery(client, org, webhook_id))["status"] == "delivered"
    [received] = receiver.received
    assert received["headers"]["Host"] == f"localhost:{receiver.port}"


async def test_https_is_verified_against_the_name_while_connecting_to_the_address(
    client: httpx.AsyncClient,
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    receivers: Callable[..., Receiver],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The receiver's certificate names `localhost` only; the worker trusts it alone.
    certificate, key = self_signed_certificate(tmp_path, "localhost")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    receiver = receivers(tls=(certificate, key))
    org = await make_org()
    by_name = await subscribe(org, f"https://localhost:{receiver.port}/hook")
    by_address = await subscribe(org, receiver.url)
    await _emit(delivering, org, by_name)

    await work_until_idle(delivering)

    # Connected to 127.0.0.1, and the certificate was checked against `localhost`...
    assert (await _delivery(client, org, by_name))["status"] == "delivered"
    assert receiver.received[0]["headers"]["Host"] == f"localhost:{receiver.port}"
    # ...as it is checked at all: for the bare address, the same certificate does not do.
    delivery = await _delivery(client, org, by_address)
    assert delivery["status"] == "pending"
    assert "certificate" in delivery["log"][0]["error"].lower()
    assert len(receiver.received) == 1


def test_a_pinned_request_connects_to_the_address_under_the_original_name() -> None:
    url = httpx.URL("https://hooks.example.org:8443/boucle?x=1")
    request = pinned_request(url, ipaddress.ip_address("203.0.113.7"), b"{}", {"A": "b"})
    assert str(request.url) == "https://203.0.113.7:8443/boucle?x=1"
    assert request.headers["Host"] == "hooks.example.org:8443" and request.headers["A"] == "b"
    assert request.extensions["sni_hostname"] == "hooks.example.org"

    plain = pinned_request(
        httpx.URL("http://hooks.example.org/x"), ipaddress.ip_address("2001:db8::1"), b"", {}
    )
    assert str(plain.url) == "http://[2001:db8::1]/x"
    assert plain.headers["Host"] == "hooks.example.org"
    assert "sni_hostname" not in plain.extensions


async def test_a_private_address_is_refused_on_the_way_out(
    client: httpx.AsyncClient,
    strict: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    receivers: Callable[..., Receiver],
) -> None:
    """A subscription whose name resolves to a private address by the time of delivery (here
    subscribed while private addresses were allowed) is not called."""
    org = await make_org()
    receiver = receivers()
    webhook_id = await subscribe(org, f"http://localhost:{receiver.port}/hook")
    delivery_id = await _emit(strict, org, webhook_id)

    await work_until_idle(strict)

    delivery = await _delivery(client, org, webhook_id)
    assert delivery["status"] == "pending"
    error = delivery["log"][0]["error"]
    assert "localhost resolves to an address that is not public" in error
    assert "BOUCLE_WEBHOOK_PRIVATE_HOSTS" in error and "127.0.0.1" not in error
    assert receiver.received == []
    assert await _queued_attempts(strict, delivery_id) == 1


async def test_no_lock_is_held_while_the_receiver_answers(
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    socket_receivers: Callable[..., SocketReceiver],
) -> None:
    org = await make_org()
    receiver = socket_receivers(answer_trickling)
    delivery_id = await _emit(delivering, org, await subscribe(org, receiver.url))
    settings = delivering.state.settings
    attempt = asyncio.create_task(deliver(delivering.state.sessionmaker, settings, delivery_id))

    assert await asyncio.to_thread(receiver.requested.wait, 10)
    # Mid-exchange, the delivery row can be locked at once by someone else.
    async with delivering.state.sessionmaker.begin() as session:
        locked = await session.scalar(
            text("SELECT id FROM webhook_deliveries WHERE id = :id FOR UPDATE NOWAIT"),
            {"id": delivery_id},
        )
    assert locked == delivery_id
    await attempt


async def test_a_delivery_run_twice_at_once_sends_twice_and_queues_one_retry(
    client: httpx.AsyncClient,
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    receivers: Callable[..., Receiver],
    database_url: str,
) -> None:
    """A job whose worker died is run again while, maybe, it still runs: both send (receivers
    deduplicate by event id), both attempts are logged, and the retries do not fork."""
    org = await make_org()
    receiver = receivers(failures=3)
    webhook_id = await subscribe(org, receiver.url)
    delivery_id = await _emit(delivering, org, webhook_id)
    await work_until_idle(delivering)
    assert await _queued_attempts(delivering, delivery_id) == 1

    sessionmaker, settings = delivering.state.sessionmaker, delivering.state.settings
    # Both send, then meet where each records its attempt, under the delivery's row lock.
    await overlapping(
        database_url,
        "SELECT 1 FROM webhook_deliveries WHERE id = $1 FOR UPDATE",
        delivery_id,
        requests=[deliver(sessionmaker, settings, delivery_id) for _ in range(2)],
    )

    delivery = await _delivery(client, org, webhook_id)
    assert delivery["status"] == "pending" and delivery["attempts"] == 3
    assert await _queued_attempts(delivering, delivery_id) == 1
    # Once delivered, running it again sends nothing.
    await deliver(sessionmaker, settings, delivery_id)
    await deliver(sessionmaker, settings, delivery_id)
    delivery = await _delivery(client, org, webhook_id)
    assert delivery["status"] == "delivered" and delivery["attempts"] == 4
    assert len(receiver.received) == 4
    assert len({r["body"] for r in receiver.received}) == 1


async def test_an_organization_has_at_most_twenty_subscriptions_even_created_at_once(
    client: httpx.AsyncClient, make_org: OrgFactory, database_url: str
) -> None:
    org, other = await make_org(), await make_org()

    async def create(org: Org, n: int) -> httpx.Response:
        body = {"url": f"http://127.0.0.1:9/hook/{n}", "events": ["match.accepted"]}
        return await client.post(
            "/v1/webhooks", json={**body, "secret": SECRET}, headers=org.headers
        )

    # Each creation counts the organization's subscriptions under its advisory lock: the 25
    # wait on it together, then count one after the other.
    responses = await overlapping(
        database_url,
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        f"webhooks:{org.id}",
        requests=[create(org, n) for n in range(25)],
    )

    assert sorted(r.status_code for r in responses) == [201] * 20 + [422] * 5
    for refused in (r for r in responses if r.status_code == 422):
        problem = assert_problem(refused, 422, "url", "max_subscriptions")
        assert "at most 20 subscriptions" in problem["detail"]
    listed = (await client.get("/v1/webhooks", headers=org.headers)).json()["items"]
    assert len(listed) == 20
    # The cap is per organization, and deleting one makes room for another.
    assert (await create(other, 0)).status_code == 201
    await client.delete(f"/v1/webhooks/{listed[0]['id']}", headers=org.headers)
    assert (await create(org, 25)).status_code == 201
    assert_problem(await create(org, 26), 422, "url", "max_subscriptions")


async def test_a_cursor_that_is_no_date_answers_422(
    client: httpx.AsyncClient, make_org: OrgFactory, subscribe: Subscribe
) -> None:
    org = await make_org()
    webhook_id = await subscribe(org, "http://127.0.0.1:9/hook")
    cursor = "WyJub3QgYSBkYXRlIl0="  # ["not a date"]
    response = await client.get(
        f"/v1/webhooks/{webhook_id}/deliveries?cursor={cursor}", headers=org.headers
    )
    assert_problem(response, 422, "cursor", "valid_cursor")


async def test_a_pending_delivery_whose_job_was_lost_is_queued_again_by_the_sweep(
    client: httpx.AsyncClient,
    delivering: FastAPI,
    make_org: OrgFactory,
    subscribe: Subscribe,
    receivers: Callable[..., Receiver],
) -> None:
    org = await make_org()
    receiver = receivers()
    webhook_id = await subscribe(org, receiver.url)
    delivery_id = await _emit(delivering, org, webhook_id)
    # Its job ran out of retries (the database was away each time, say).
    async with delivering.state.sessionmaker.begin() as session:
        await session.execute(
            text(
                "UPDATE procrastinate_jobs SET status = 'failed' "
                "WHERE task_name = :task AND args->>'delivery_id' = :id"
            ),
            {"task": DELIVER.name, "id": str(delivery_id)},
        )
    assert await _queued_attempts(delivering, delivery_id) == 0

    async with delivering.state.sessionmaker.begin() as session:
        assert await requeue_orphaned_deliveries(session) >= 1
    assert await _queued_attempts(delivering, delivery_id) == 1
    async with delivering.state.sessionmaker.begin() as session:
        await requeue_orphaned_deliveries(session)
    assert await _queued_attempts(delivering, delivery_id) == 1

    await work_until_idle(delivering)
    assert (await _delivery(client, org, webhook_id))["status"] == "delivered"
    assert len(receiver.received) == 1
