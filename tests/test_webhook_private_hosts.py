"""Private webhook destinations are named one by one (`webhook_private_hosts`): the address and
port on the list receive, and every other loopback, private, link-local or reserved address is
refused, however the URL writes it, when subscribing and at each attempt. A refused
destination is never connected to: the subscription is checked without any connection, and
an attempt checks before it connects. The one receiver listens on 127.0.0.1."""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from app.main import create_app
from app.models import WebhookDelivery
from app.settings import Settings
from app.webhooks.attempts import deliver
from app.webhooks.outbox import emit
from tests.conftest import OrgFactory, Receiver, assert_problem, settings_for, subscribe
from tests.test_webhook_allow_list import _subscription


@pytest.fixture
async def only_the_receiver(
    database_url: str, receiver: Receiver
) -> AsyncIterator[httpx.AsyncClient]:
    """The API of a server that allows one private destination, the receiver's port of
    127.0.0.1, and any public host (no allow-list of hosts)."""
    app = create_app(
        settings_for(
            database_url,
            webhook_allowed_hosts=[],
            webhook_private_hosts=[f"127.0.0.1:{receiver.port}"],
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield client
    await app.state.engine.dispose()


def _refused(port: int) -> list[str]:
    """URLs of destinations other than 127.0.0.1:`port`, each written as an attacker might."""
    return [
        "http://10.0.0.1/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",  # shared address space (carrier-grade NAT)
        "http://224.0.0.1/hook",  # multicast
        f"http://0.0.0.0:{port}/hook",
        f"http://[::]:{port}/hook",
        f"http://[::1]:{port}/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        f"http://127.0.0.1:{port + 1}/hook",  # the allowed address, another port
        f"http://127.0.0.2:{port}/hook",  # another loopback address, the allowed port
        "http://2852039166/latest/meta-data/",  # 169.254.169.254 as one decimal number
        "http://0251.0376.0251.0376/latest/meta-data/",  # ... in octal
        "http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/",  # ... in hexadecimal
        "http://[::ffff:169.254.169.254]/latest/meta-data/",  # IPv4-mapped IPv6
        "http://[::ffff:a00:1]/hook",  # 10.0.0.1, IPv4-mapped, in hexadecimal
        f"http://[::127.0.0.1]:{port}/hook",  # IPv4-compatible IPv6
        "http://[2002:a9fe:a9fe::1]/latest/meta-data/",  # 6to4 of 169.254.169.254
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 of 169.254.169.254
    ]


async def test_only_the_listed_private_destination_can_be_subscribed(
    only_the_receiver: httpx.AsyncClient, make_org: OrgFactory, receiver: Receiver
) -> None:
    org = await make_org()
    for url in _refused(receiver.port):
        refused = await only_the_receiver.post(
            "/v1/webhooks", json=_subscription(url), headers=org.headers
        )
        problem = assert_problem(refused, 422, "url", "public_address")
        assert "BOUCLE_WEBHOOK_PRIVATE_HOSTS" in problem["detail"], url
    # The listed destination, however it is written, is the one accepted.
    for url in (
        receiver.url,
        f"http://2130706433:{receiver.port}/hook",
        f"http://[::ffff:127.0.0.1]:{receiver.port}/hook",
    ):
        accepted = await only_the_receiver.post(
            "/v1/webhooks", json=_subscription(url), headers=org.headers
        )
        assert accepted.status_code == 201, (url, accepted.text)
    listed = (await only_the_receiver.get("/v1/webhooks", headers=org.headers)).json()["items"]
    assert len(listed) == 3
    assert receiver.received == []


async def test_a_name_that_resolves_to_a_private_address_is_refused_without_saying_which(
    only_the_receiver: httpx.AsyncClient, make_org: OrgFactory, receiver: Receiver
) -> None:
    org = await make_org()
    refused = await only_the_receiver.post(
        "/v1/webhooks",
        json=_subscription(f"http://localhost:{receiver.port + 1}/hook"),
        headers=org.headers,
    )
    problem = assert_problem(refused, 422, "url", "public_address")
    assert "localhost resolves to an address that is not public" in problem["detail"]
    assert "127.0.0.1" not in problem["detail"]


async def test_a_destination_taken_off_the_list_is_not_called(
    app: FastAPI,
    client: httpx.AsyncClient,
    database_url: str,
    make_org: OrgFactory,
    receiver: Receiver,
) -> None:
    org = await make_org()
    webhook_id = await subscribe(client, org, receiver.url, ["match.accepted"])
    async with app.state.sessionmaker.begin() as session:
        await emit(
            session,
            {uuid.UUID(org.id)},
            "match.accepted",
            {"match": {"id": "m-1"}},
            fact=[uuid.uuid4()],
        )
    async with app.state.sessionmaker() as session:
        # The one delivery of the one event to this subscription.
        [delivery_id] = await session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == uuid.UUID(webhook_id))
        )

    # The operator now allows another port of 127.0.0.1 only.
    narrowed = settings_for(
        database_url,
        webhook_private_hosts=[f"127.0.0.1:{receiver.port + 1}"],
        webhook_retry_base_seconds=3600,
    )
    await deliver(app.state.sessionmaker, narrowed, delivery_id)

    response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=org.headers)
    [attempt] = response.json()["items"][0]["log"]
    assert f"is not, on port {receiver.port}, among the private destinations" in attempt["error"]
    assert "status_code" not in attempt
    assert receiver.received == []
    # Unsubscribed: the retry queued an hour later finds nothing to send.
    await client.delete(f"/v1/webhooks/{webhook_id}", headers=org.headers)


def test_a_private_destination_is_named_by_its_address() -> None:
    settings = Settings(webhook_private_hosts=["127.0.0.1:8901", "10.0.0.5", "[::1]:9000"])
    assert settings.webhook_private_hosts == ["127.0.0.1:8901", "10.0.0.5", "[::1]:9000"]
    for entry in ("localhost:8901", "hooks.internal", "http://127.0.0.1:8901", "127.0.0.1:x"):
        with pytest.raises(ValidationError, match="webhook_private_hosts"):
            Settings(webhook_private_hosts=[entry])
