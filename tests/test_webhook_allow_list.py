"""The allow-list of webhook hosts (`webhook_allowed_hosts`): a subscription to a host off it is
refused, and a delivery to a host taken off it after the subscription is never sent. A real
receiver on 127.0.0.1 and a real PostgreSQL."""

import uuid

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from app.main import create_app
from app.models import WebhookDelivery
from app.settings import Settings
from app.webhooks.addresses import allowed_host_problem
from app.webhooks.attempts import deliver
from app.webhooks.outbox import emit
from tests.conftest import (
    LOOPBACK_RECEIVERS,
    SECRET,
    OrgFactory,
    Receiver,
    assert_problem,
    settings_for,
    subscribe,
)


def _subscription(url: str) -> dict[str, object]:
    return {"url": url, "events": ["match.accepted"], "secret": SECRET}


async def test_only_the_allowed_host_and_port_can_be_subscribed(
    database_url: str, make_org: OrgFactory, receiver: Receiver
) -> None:
    org = await make_org()
    only_receiver = create_app(
        settings_for(
            database_url,
            webhook_private_hosts=LOOPBACK_RECEIVERS,
            webhook_allowed_hosts=[f"127.0.0.1:{receiver.port}"],
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=only_receiver), base_url="http://t"
    ) as client:
        webhook_id = await subscribe(client, org, receiver.url, ["match.accepted"])
        for url, shown in (
            (f"http://localhost:{receiver.port}/hook", f"localhost:{receiver.port}"),
            (f"http://127.0.0.1:{receiver.port + 1}/hook", f"127.0.0.1:{receiver.port + 1}"),
            ("https://hooks.example.org/boucle", "hooks.example.org:443"),
        ):
            refused = await client.post(
                "/v1/webhooks", json=_subscription(url), headers=org.headers
            )
            problem = assert_problem(refused, 422, "url", "allowed_host")
            assert f"{shown} is not among the hosts" in problem["detail"]
        listed = (await client.get("/v1/webhooks", headers=org.headers)).json()["items"]
        assert [w["id"] for w in listed] == [webhook_id]
    await only_receiver.state.engine.dispose()


async def test_the_suite_subscribes_loopback_hosts_only(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    org = await make_org()
    refused = await client.post(
        "/v1/webhooks", json=_subscription("https://hooks.example.org/boucle"), headers=org.headers
    )
    assert_problem(refused, 422, "url", "allowed_host")


async def test_a_name_off_the_list_is_not_even_looked_up(
    database_url: str, make_org: OrgFactory
) -> None:
    org = await make_org()
    # Public addresses only, as in production: a name that does not resolve would be refused
    # for that too, had it been looked up.
    strict = create_app(settings_for(database_url, webhook_allowed_hosts=["hooks.example.org"]))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=strict), base_url="http://t"
    ) as client:
        refused = await client.post(
            "/v1/webhooks", json=_subscription("https://nowhere.invalid/x"), headers=org.headers
        )
    problem = assert_problem(refused, 422, "url", "allowed_host")
    assert [e["rule"] for e in problem["errors"]] == ["allowed_host"]
    await strict.state.engine.dispose()


async def test_a_delivery_to_a_host_taken_off_the_list_is_never_sent(
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
            session, {uuid.UUID(org.id)}, "match.accepted", {"match": {"id": "m-1"}}, fact=("m-1",)
        )
    async with app.state.sessionmaker() as session:
        # The one delivery of the one event to this subscription.
        [delivery_id] = await session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == uuid.UUID(webhook_id))
        )

    # The operator narrows the list to `localhost` after the subscription to 127.0.0.1.
    narrowed = settings_for(
        database_url, webhook_private_hosts=LOOPBACK_RECEIVERS, webhook_allowed_hosts=["localhost"]
    )
    await deliver(app.state.sessionmaker, narrowed, delivery_id)

    response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=org.headers)
    [delivery] = response.json()["items"]
    assert delivery["status"] == "failed" and delivery["attempts"] == 1
    [attempt] = delivery["log"]
    assert f"127.0.0.1:{receiver.port} is not among the hosts" in attempt["error"]
    assert "nothing was sent" in attempt["reason"] and "status_code" not in attempt
    assert receiver.received == []
    # Failed for good: running the delivery again sends nothing either.
    await deliver(app.state.sessionmaker, app.state.settings, delivery_id)
    assert receiver.received == []


def test_an_entry_names_a_host_and_perhaps_its_port() -> None:
    allowed = ["hooks.example.org", "127.0.0.1:8080", "[::1]:443", "Bücher.example"]
    for url in (
        "https://hooks.example.org/x",
        "http://HOOKS.example.org:9000/x",
        "http://127.0.0.1:8080/x",
        "https://[0:0::1]/x",
        "https://bücher.example/x",
    ):
        assert allowed_host_problem(url, allowed) is None, url
    for url in ("http://127.0.0.1/x", "http://[::1]/x", "https://example.org/x"):
        assert allowed_host_problem(url, allowed), url
    assert allowed_host_problem("https://anything.example/x", []) is None
    for entry in ("https://hooks.example.org", "hooks.example.org:http", "[::1", ":8080"):
        with pytest.raises(ValidationError, match="webhook_allowed_hosts"):
            Settings(webhook_allowed_hosts=[entry])
