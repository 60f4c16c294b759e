"""Webhooks delivered for real: a local HTTP receiver, the job queue and a real worker."""

import json
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from app.kit.local_time import brussels_today
from app.main import create_app
from app.matches.service import expire_stale_matches
from app.webhooks.outbox import emit, event_id
from tests.conftest import (
    SECRET,
    Org,
    OrgFactory,
    Receiver,
    WorkerRun,
    assert_problem,
    offer_body,
    point,
    request_body,
    settings_for,
    signature_is_valid,
    subscribe,
)
from tests.overlap import overlapping

HERE = [4.3800, 50.8500]
AVAILABLE = {"available_from": "2027-08-01", "available_until": "2027-08-31"}
NEEDED = {"needed_from": "2027-08-01", "needed_by": "2027-08-31"}


async def _textiles_offered(client: httpx.AsyncClient, org: Org) -> dict[str, Any]:
    offered = await client.post(
        "/v1/offers",
        json=offer_body(material="191201", location=point(HERE), **AVAILABLE),
        headers=org.headers,
    )
    assert offered.status_code == 201, offered.text
    return dict(offered.json())


async def _textiles_requested(client: httpx.AsyncClient, org: Org, **fields: Any) -> dict[str, Any]:
    requested = await client.post(
        "/v1/requests",
        json=request_body(material="1912", location=point(HERE), **NEEDED, **fields),
        headers=org.headers,
    )
    assert requested.status_code == 201, requested.text
    return dict(requested.json())


async def test_each_event_arrives_once_and_signed(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory, receiver: Receiver
) -> None:
    supplier, consumer = await make_org("supplier"), await make_org("consumer")
    events = ["match.proposed", "match.accepted", "match.rejected", "offer.candidate_found"]
    await subscribe(client, consumer, receiver.url, events)
    request = await _textiles_requested(client, consumer)
    offer = await _textiles_offered(client, supplier)
    # The events of a new offer are written by a job, soon after it is posted.
    await run_worker()
    match = (
        await client.post(
            "/v1/matches",
            json={"offer_id": offer["id"], "request_id": request["id"]},
            headers=supplier.headers,
        )
    ).json()
    for org in (supplier, consumer):
        assert (
            await client.post(f"/v1/matches/{match['id']}/accept", headers=org.headers)
        ).status_code == 200
    await run_worker()

    found = receiver.events("offer.candidate_found")
    assert [(e["data"]["offer_id"], e["data"]["request_id"]) for e in found] == [
        (offer["id"], request["id"])
    ]
    assert [e["data"]["match"]["id"] for e in receiver.events("match.proposed")] == [match["id"]]
    accepted = receiver.events("match.accepted")
    assert [e["data"]["match"]["status"] for e in accepted] == ["accepted"]
    assert len(receiver.received) == 3 and all(signature_is_valid(r) for r in receiver.received)
    assert len({e["id"] for e in receiver.events()}) == 3
    # Nothing more arrives when the worker runs again.
    await run_worker()
    assert len(receiver.received) == 3


async def test_a_rejection_and_a_window_that_passed_are_announced(
    client: httpx.AsyncClient,
    app: FastAPI,
    run_worker: WorkerRun,
    make_org: OrgFactory,
    receiver: Receiver,
) -> None:
    supplier, consumer = await make_org("supplier"), await make_org("consumer")
    await subscribe(client, supplier, receiver.url, ["match.rejected", "match.expired"])
    offer = await _textiles_offered(client, supplier)
    matches = []
    for _ in range(2):
        request = await _textiles_requested(client, consumer, quantity={"value": 2, "unit": "t"})
        proposed = await client.post(
            "/v1/matches",
            json={"offer_id": offer["id"], "request_id": request["id"]},
            headers=consumer.headers,
        )
        assert proposed.status_code == 201, proposed.text
        matches.append(proposed.json()["id"])
    rejected, lapsed = matches
    refusal = await client.post(f"/v1/matches/{rejected}/reject", headers=supplier.headers)
    assert refusal.status_code == 200, refusal.text
    # The offer's window passes; the hourly sweep finds the proposal stale.
    async with app.state.sessionmaker() as session:
        await session.execute(
            text(
                "UPDATE offers SET available_from = '2026-01-01', available_until = '2026-01-31' "
                "WHERE id = :id"
            ),
            {"id": offer["id"]},
        )
        await session.commit()
    # The sweep's step: one transaction, committed when it ends.
    async with app.state.sessionmaker.begin() as session:
        assert await expire_stale_matches(session, brussels_today()) >= 1
    await run_worker()

    assert [e["data"]["match"]["id"] for e in receiver.events("match.rejected")] == [rejected]
    [expired] = receiver.events("match.expired")
    assert expired["data"]["match"]["id"] == lapsed
    assert expired["data"]["match"]["status"] == "expired"
    assert "window passed" in expired["data"]["reason"]
    assert all(signature_is_valid(r) for r in receiver.received)


async def test_a_fact_told_again_is_the_same_event_and_is_delivered_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    run_worker: WorkerRun,
    make_org: OrgFactory,
    receiver: Receiver,
    database_url: str,
) -> None:
    supplier, consumer = await make_org("supplier"), await make_org("consumer")
    for org in (supplier, consumer):
        await subscribe(client, org, receiver.url, ["match.accepted"])
    sides = {uuid.UUID(supplier.id), uuid.UUID(consumer.id)}

    async def tell(match_id: uuid.UUID) -> None:
        """What a job that reports the fact does, each time it runs: a transaction of its own."""
        async with app.state.sessionmaker.begin() as session:
            await emit(
                session, sides, "match.accepted", {"match": {"id": str(match_id)}}, fact=(match_id,)
            )

    told, other = uuid.uuid4(), uuid.uuid4()
    # Three at once and once more later: the outbox takes the first, the others wait for it.
    # They meet at the outbox's key: the test's own transaction writes the first event each
    # of them writes (the lower organization's), so that the three wait on it together.
    first = min(sides)
    await overlapping(
        database_url,
        "INSERT INTO webhook_events (id, organization_id, type, data) "
        "VALUES ($1, $2, 'match.accepted', '{}')",
        event_id("match.accepted", first, (told,)),
        first,
        requests=[tell(told) for _ in range(3)],
    )
    await tell(told)
    await tell(other)
    await run_worker()

    events = receiver.events("match.accepted")
    # Each side hears of each fact once, under an id of its own.
    assert sorted(e["data"]["match"]["id"] for e in events) == sorted([str(told), str(other)] * 2)
    assert len({e["id"] for e in events}) == 4


async def test_a_failing_receiver_gets_the_event_on_the_third_try(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory, receiver: Receiver
) -> None:
    supplier, consumer = await make_org("supplier"), await make_org("consumer")
    receiver.failures = 2
    webhook_id = await subscribe(client, supplier, receiver.url, ["match.proposed"])
    offer = (
        await client.post(
            "/v1/offers",
            json=offer_body(material="191204", location=point(HERE), **AVAILABLE),
            headers=supplier.headers,
        )
    ).json()
    request = (
        await client.post(
            "/v1/requests",
            json=request_body(material="191204", location=point(HERE), **NEEDED),
            headers=consumer.headers,
        )
    ).json()
    await client.post(
        "/v1/matches",
        json={"offer_id": offer["id"], "request_id": request["id"]},
        headers=consumer.headers,
    )
    for _ in range(3):  # each attempt queues the next one; this worker runs what is due
        await run_worker()
    assert len(receiver.received) == 3
    assert len({json.loads(r["body"])["id"] for r in receiver.received}) == 1
    log = (
        await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=supplier.headers)
    ).json()["items"]
    assert len(log) == 1 and log[0]["status"] == "delivered" and log[0]["attempts"] == 3
    assert [a["status_code"] for a in log[0]["log"]] == [500, 500, 204]


async def test_an_event_waits_for_a_worker_that_starts_later(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory, receiver: Receiver
) -> None:
    supplier, consumer = await make_org("supplier"), await make_org("consumer")
    await subscribe(client, consumer, receiver.url, ["offer.candidate_found"])
    await client.post(
        "/v1/requests",
        json=request_body(material="191205", location=point(HERE), **NEEDED),
        headers=consumer.headers,
    )
    # The event is committed with the offer while no worker runs...
    await client.post(
        "/v1/offers",
        json=offer_body(material="191205", location=point(HERE), **AVAILABLE),
        headers=supplier.headers,
    )
    assert receiver.received == []
    # ...and a worker started afterwards delivers it, once.
    await run_worker()
    await run_worker()
    assert len(receiver.events("offer.candidate_found")) == 1


async def test_subscriptions_are_checked_and_private(
    client: httpx.AsyncClient, make_org: OrgFactory, database_url: str
) -> None:
    org, other = await make_org(), await make_org()
    webhook_id = await subscribe(client, org, "http://127.0.0.1:9/hook", ["match.accepted"])
    assert_problem(
        await client.post(
            "/v1/webhooks",
            json={"url": "ftp://x", "events": ["match.accepted"], "secret": SECRET},
            headers=org.headers,
        ),
        422,
        "url",
        "url_scheme",
    )
    assert_problem(
        await client.post(
            "/v1/webhooks",
            json={"url": "http://example.org", "events": ["nope"], "secret": SECRET},
            headers=org.headers,
        ),
        422,
        "events.0",
        "enum",
    )
    assert_problem(
        await client.post(
            "/v1/webhooks",
            json={"url": "http://example.org", "events": ["match.accepted"], "secret": "short"},
            headers=org.headers,
        ),
        422,
        "secret",
        "string_too_short",
    )
    assert [
        w["id"] for w in (await client.get("/v1/webhooks", headers=org.headers)).json()["items"]
    ] == [webhook_id]
    assert (await client.get("/v1/webhooks", headers=other.headers)).json()["items"] == []
    assert_problem(
        await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=other.headers), 404
    )
    assert_problem(await client.delete(f"/v1/webhooks/{webhook_id}", headers=other.headers), 404)
    assert (
        await client.delete(f"/v1/webhooks/{webhook_id}", headers=org.headers)
    ).status_code == 204

    # Without the setting, loopback, private and link-local addresses are refused.
    strict = create_app(settings_for(database_url))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=strict), base_url="http://t"
    ) as strict_client:
        for url in (
            "http://127.0.0.1:8080/hook",
            "http://10.1.2.3/hook",
            "http://169.254.169.254/latest",
            "http://localhost/x",
        ):
            body = {"url": url, "events": ["match.accepted"], "secret": SECRET}
            assert_problem(
                await strict_client.post("/v1/webhooks", json=body, headers=org.headers),
                422,
                "url",
                "public_address",
            )
    await strict.state.engine.dispose()


async def test_a_finished_route_plan_is_announced(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory, receiver: Receiver
) -> None:
    carrier = await make_org("carrier")
    await subscribe(client, carrier, receiver.url, ["route_plan.completed"])
    day = "2026-12-02"
    body = {
        "date": day,
        "time_limit_s": 1,
        "vehicles": [{"name": "Bike", "type": "cargo_bike", "start": point(HERE)}],
        "shipments": [
            {
                "pickup": {
                    "location": point([4.3700, 50.8500]),
                    "window_from": f"{day}T08:00:00+01:00",
                    "window_until": f"{day}T12:00:00+01:00",
                },
                "delivery": {
                    "location": point([4.3600, 50.8450]),
                    "window_from": f"{day}T09:00:00+01:00",
                    "window_until": f"{day}T17:00:00+01:00",
                },
                "load_kg": 10,
            }
        ],
    }
    plan = await client.post("/v1/route-plans", json=body, headers=carrier.headers)
    await run_worker()
    await run_worker()
    [event] = receiver.events("route_plan.completed")
    assert event["data"]["route_plan_id"] == plan.json()["id"]
    assert event["data"]["kpis"]["vehicles"] == 1 and "saving" in event["data"]
    assert signature_is_valid(receiver.received[0])
