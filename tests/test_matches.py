"""The match lifecycle: propose, accept by both sides, reserve once, never over-allocate."""

import uuid
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from app.matches.service import expire_stale_matches
from tests.conftest import (
    Org,
    OrgFactory,
    Receiver,
    WorkerRun,
    assert_problem,
    offer_body,
    point,
    request_body,
    subscribe,
)
from tests.overlap import HOLD_OFFER, overlapping

HERE = [4.3467, 50.8660]  # Tour & Taxis
WINDOW = {"needed_from": "2027-04-01", "needed_by": "2027-04-30"}
AVAILABLE = {"available_from": "2027-04-01", "available_until": "2027-04-30"}


async def _offer(client: httpx.AsyncClient, org: Org, tonnes: float, **fields: object) -> dict:
    body = offer_body(
        **{
            "material": "040221",
            "location": point(HERE),
            "quantity": {"value": tonnes, "unit": "t"},
            **AVAILABLE,
            **fields,
        }
    )
    response = await client.post("/v1/offers", json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _request(client: httpx.AsyncClient, org: Org, tonnes: float, **fields: object) -> dict:
    body = request_body(
        **{
            "material": "0402",
            "location": point(HERE),
            "quantity": {"value": tonnes, "unit": "t"},
            **WINDOW,
            **fields,
        }
    )
    response = await client.post("/v1/requests", json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _propose(
    client: httpx.AsyncClient, org: Org, offer: dict, request: dict, tonnes: float | None = None
) -> httpx.Response:
    body: dict[str, object] = {"offer_id": offer["id"], "request_id": request["id"]}
    if tonnes is not None:
        body["quantity"] = {"value": tonnes, "unit": "t"}
    return await client.post("/v1/matches", json=body, headers=org.headers)


@pytest.fixture
async def sides(make_org: OrgFactory) -> tuple[Org, Org]:
    return await make_org("supplier"), await make_org("consumer")


async def test_both_sides_accept_and_the_quantity_is_reserved_once(
    client: httpx.AsyncClient, sides: tuple[Org, Org], make_org: OrgFactory
) -> None:
    supplier, consumer = sides
    offer, request = await _offer(client, supplier, 12), await _request(client, consumer, 4)
    proposed = await _propose(client, consumer, offer, request)
    assert proposed.status_code == 201, proposed.text
    match = proposed.json()
    assert match["status"] == "proposed" and match["proposed_by"] == "request"
    assert match["quantity"] == {"value": 4.0, "unit": "t"} and match["offer_quantity"] == {
        "value": 4.0,
        "unit": "t",
    }
    assert match["mass_kg"] == 4000.0 and match["score"]["total"] > 0
    path = proposed.headers["location"]

    stranger = await make_org("consumer")
    assert_problem(await client.get(path, headers=stranger.headers), 404)
    assert_problem(await client.post(f"{path}/accept", headers=stranger.headers), 404)

    first = await client.post(f"{path}/accept", headers=consumer.headers)
    assert first.json()["status"] == "proposed" and first.json()["request_accepted_at"]
    # Nothing is reserved until the second side accepts.
    assert (await client.get(f"/v1/offers/{offer['id']}", headers=supplier.headers)).json()[
        "remaining"
    ]["value"] == 12
    second = await client.post(f"{path}/accept", headers=supplier.headers)
    assert second.status_code == 200 and second.json()["status"] == "accepted"

    offer_now = (await client.get(f"/v1/offers/{offer['id']}", headers=supplier.headers)).json()
    request_now = (
        await client.get(f"/v1/requests/{request['id']}", headers=consumer.headers)
    ).json()
    assert offer_now["remaining"] == {"value": 8.0, "unit": "t"} and offer_now["status"] == "open"
    assert (
        request_now["remaining"] == {"value": 0.0, "unit": "t"}
        and request_now["status"] == "reserved"
    )

    assert_problem(await client.post(f"{path}/accept", headers=supplier.headers), 409)
    assert_problem(await client.post(f"{path}/reject", headers=consumer.headers), 409)
    assert (await client.get(f"/v1/offers/{offer['id']}", headers=supplier.headers)).json()[
        "remaining"
    ]["value"] == 8
    # A matched offer is closed, not deleted.
    assert_problem(await client.delete(f"/v1/offers/{offer['id']}", headers=supplier.headers), 409)

    listed = await client.get(
        "/v1/matches", params={"offer_id": offer["id"]}, headers=supplier.headers
    )
    assert [m["id"] for m in listed.json()["items"]] == [match["id"]]
    assert (
        await client.get("/v1/matches", params={"offer_id": offer["id"]}, headers=stranger.headers)
    ).json()["items"] == []


async def test_an_accept_beyond_what_remains_answers_409_and_changes_nothing(
    client: httpx.AsyncClient, sides: tuple[Org, Org]
) -> None:
    supplier, consumer = sides
    offer = await _offer(client, supplier, 5)
    first_request, second_request = (
        await _request(client, consumer, 4),
        await _request(client, consumer, 4),
    )
    first = (await _propose(client, consumer, offer, first_request)).json()
    second = (await _propose(client, consumer, offer, second_request)).json()
    for match in (first, second):
        assert (
            await client.post(f"/v1/matches/{match['id']}/accept", headers=consumer.headers)
        ).status_code == 200
    assert (
        await client.post(f"/v1/matches/{first['id']}/accept", headers=supplier.headers)
    ).json()["status"] == "accepted"

    refused = await client.post(f"/v1/matches/{second['id']}/accept", headers=supplier.headers)
    body = assert_problem(refused, 409)
    assert body["remaining"] == 1.0
    after = (await client.get(f"/v1/matches/{second['id']}", headers=supplier.headers)).json()
    assert (
        after["status"] == "proposed"
        and after["offer_accepted_at"] is None
        and after["request_accepted_at"]
    )
    assert (await client.get(f"/v1/offers/{offer['id']}", headers=supplier.headers)).json()[
        "remaining"
    ]["value"] == 1
    assert (
        await client.get(f"/v1/requests/{second_request['id']}", headers=consumer.headers)
    ).json()["remaining"]["value"] == 4

    rejected = await client.post(f"/v1/matches/{second['id']}/reject", headers=supplier.headers)
    assert rejected.json()["status"] == "rejected"


async def test_a_pair_has_one_proposal_waiting_and_another_answers_409_naming_it(
    client: httpx.AsyncClient, sides: tuple[Org, Org]
) -> None:
    supplier, consumer = sides
    offer, request = await _offer(client, supplier, 10), await _request(client, consumer, 4)
    pair = {"offer_id": offer["id"], "request_id": request["id"]}
    retry_safe = {**consumer.headers, "Idempotency-Key": f"propose-{offer['id']}"}
    first = await client.post("/v1/matches", json=pair, headers=retry_safe)
    assert first.status_code == 201, first.text
    # A retry with the key answers the first answer again...
    retried = await client.post("/v1/matches", json=pair, headers=retry_safe)
    assert retried.status_code == 201 and retried.json()["id"] == first.json()["id"]
    # ...a new proposal, by the same side or the other, with another quantity, is refused.
    for org, tonnes in ((consumer, None), (supplier, 2.0)):
        again = await _propose(client, org, offer, request, tonnes)
        problem = assert_problem(again, 409)
        assert problem["type"].endswith("/match-already-proposed")
        assert problem["match_id"] == first.json()["id"]
        assert again.headers["location"] == first.headers["location"]
    listed = await client.get(
        "/v1/matches",
        params={"offer_id": offer["id"], "request_id": request["id"]},
        headers=consumer.headers,
    )
    assert [m["id"] for m in listed.json()["items"]] == [first.json()["id"]]

    # Once it is answered, the pair may be proposed again.
    refused = await client.post(f"{first.headers['location']}/reject", headers=supplier.headers)
    assert refused.json()["status"] == "rejected"
    anew = await _propose(client, supplier, offer, request, 2.0)
    assert anew.status_code == 201, anew.text
    assert anew.json()["id"] != first.json()["id"] and anew.json()["status"] == "proposed"
    for org in sides:
        accepted = await client.post(f"/v1/matches/{anew.json()['id']}/accept", headers=org.headers)
        assert accepted.status_code == 200, accepted.text
    rest = await _propose(client, consumer, offer, request)
    assert rest.status_code == 201, rest.text
    assert rest.json()["quantity"] == {"value": 2.0, "unit": "t"}


async def test_concurrent_proposals_of_one_pair_make_one_and_announce_it_once(
    client: httpx.AsyncClient,
    sides: tuple[Org, Org],
    run_worker: WorkerRun,
    receiver: Receiver,
    database_url: str,
) -> None:
    supplier, consumer = sides
    webhook_id = await subscribe(client, consumer, receiver.url, ["match.proposed"])
    try:
        await _one_proposal_of_ten(client, supplier, consumer, run_worker, receiver, database_url)
    finally:
        # `sides` outlive this test, its receiver does not: later proposals go nowhere.
        await client.delete(f"/v1/webhooks/{webhook_id}", headers=consumer.headers)


async def _one_proposal_of_ten(
    client: httpx.AsyncClient,
    supplier: Org,
    consumer: Org,
    run_worker: WorkerRun,
    receiver: Receiver,
    database_url: str,
) -> None:
    offer, request = await _offer(client, supplier, 10), await _request(client, consumer, 4)
    # The proposals meet at the offer's row: each insert's foreign key takes its key-share
    # lock, which the held FOR UPDATE blocks. So all ten have found no proposal of the pair
    # before any inserts one, and the unique index of pending proposals alone lets one through
    # (the first insert holds the index entry; the nine others wait on it, then fail).
    answers = await overlapping(
        database_url,
        "SELECT 1 FROM offers WHERE id = $1 FOR UPDATE",
        uuid.UUID(offer["id"]),
        requests=[_propose(client, org, offer, request) for org in (supplier, consumer) * 5],
    )
    created = [a for a in answers if a.status_code == 201]
    assert len(created) == 1, [a.text for a in answers]
    match_id = created[0].json()["id"]
    refused = [a for a in answers if a is not created[0]]
    assert len(refused) == 9
    for answer in refused:
        assert assert_problem(answer, 409)["match_id"] == match_id
    listed = await client.get(
        "/v1/matches",
        params={"offer_id": offer["id"], "request_id": request["id"]},
        headers=supplier.headers,
    )
    assert [m["id"] for m in listed.json()["items"]] == [match_id]
    await run_worker()
    assert [e["data"]["match"]["id"] for e in receiver.events("match.proposed")] == [match_id]


async def test_proposals_are_checked(
    client: httpx.AsyncClient, sides: tuple[Org, Org], make_org: OrgFactory
) -> None:
    supplier, consumer = sides
    offer, request = (
        await _offer(client, supplier, 6, min_lot=2),
        await _request(client, consumer, 4),
    )
    stranger = await make_org("consumer")
    assert_problem(await _propose(client, stranger, offer, request), 403)
    assert_problem(
        await _propose(client, consumer, offer, request, tonnes=5),
        422,
        "quantity.value",
        "within_supply",
    )
    assert_problem(
        await _propose(client, consumer, offer, request, tonnes=1), 422, "quantity.value", "min_lot"
    )
    far = await _request(client, consumer, 4, location=point([4.40, 50.80]), max_distance_km=1)
    assert_problem(await _propose(client, consumer, offer, far), 422, "offer_id", "candidate")
    kilograms = await client.post(
        "/v1/matches",
        json={
            "offer_id": offer["id"],
            "request_id": request["id"],
            "quantity": {"value": 3000, "unit": "kg"},
        },
        headers=supplier.headers,
    )
    assert kilograms.status_code == 201 and kilograms.json()["quantity"] == {
        "value": 3.0,
        "unit": "t",
    }
    assert kilograms.json()["proposed_by"] == "offer"


async def test_an_offer_below_its_min_lot_is_no_longer_a_candidate(
    client: httpx.AsyncClient, sides: tuple[Org, Org]
) -> None:
    supplier, consumer = sides
    offer = await _offer(client, supplier, 10, min_lot=4)
    request = await _request(client, consumer, 7)
    match = (await _propose(client, consumer, offer, request)).json()
    for org in sides:
        await client.post(f"/v1/matches/{match['id']}/accept", headers=org.headers)
    other = await _request(client, consumer, 3)
    candidates = (
        await client.get(f"/v1/requests/{other['id']}/candidates", headers=consumer.headers)
    ).json()["items"]
    assert offer["id"] not in {c["offer"]["id"] for c in candidates}


async def test_fifty_concurrent_accepts_never_over_allocate(
    client: httpx.AsyncClient, sides: tuple[Org, Org], database_url: str
) -> None:
    supplier, consumer = sides
    offer = await _offer(client, supplier, 10)
    matches = []
    for _ in range(50):
        request = await _request(client, consumer, 1)
        match = (await _propose(client, consumer, offer, request)).json()
        assert (
            await client.post(f"/v1/matches/{match['id']}/accept", headers=consumer.headers)
        ).status_code == 200
        matches.append(match["id"])

    # Each accept locks the offer's row (app.quantity_locks) before it reads what is left.
    responses = await overlapping(
        database_url,
        HOLD_OFFER,
        uuid.UUID(offer["id"]),
        requests=[
            client.post(f"/v1/matches/{m}/accept", headers=supplier.headers) for m in matches
        ],
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 10 and statuses.count(409) == 40
    offer_now = (await client.get(f"/v1/offers/{offer['id']}", headers=supplier.headers)).json()
    assert offer_now["remaining"]["value"] == 0 and offer_now["status"] == "reserved"
    accepted = await client.get(
        "/v1/matches",
        params={"offer_id": offer["id"], "status": "accepted", "limit": 100},
        headers=supplier.headers,
    )
    assert sum(m["quantity"]["value"] for m in accepted.json()["items"]) == 10


async def test_fulfilment_and_expiry(
    client: httpx.AsyncClient, app: FastAPI, sides: tuple[Org, Org]
) -> None:
    supplier, consumer = sides
    offer = await _offer(client, supplier, 10)
    accepted = (await _propose(client, consumer, offer, await _request(client, consumer, 2))).json()
    stale = (await _propose(client, consumer, offer, await _request(client, consumer, 2))).json()
    assert_problem(
        await client.post(f"/v1/matches/{accepted['id']}/fulfil", headers=supplier.headers), 409
    )
    for org in sides:
        await client.post(f"/v1/matches/{accepted['id']}/accept", headers=org.headers)

    # The offer and the requests are for April 2027: on 1 May the proposal is stale.
    # The sweep's step: one transaction, committed when it ends.
    async with app.state.sessionmaker.begin() as session:
        assert await expire_stale_matches(session, date(2027, 4, 15)) == 0
        assert await expire_stale_matches(session, date(2027, 5, 1)) >= 1
    assert (await client.get(f"/v1/matches/{stale['id']}", headers=consumer.headers)).json()[
        "status"
    ] == "expired"
    assert_problem(
        await client.post(f"/v1/matches/{stale['id']}/accept", headers=supplier.headers), 409
    )

    fulfilled = await client.post(f"/v1/matches/{accepted['id']}/fulfil", headers=consumer.headers)
    assert fulfilled.status_code == 200 and fulfilled.json()["status"] == "fulfilled"


async def test_an_accepted_match_becomes_a_shipment(
    client: httpx.AsyncClient, sides: tuple[Org, Org]
) -> None:
    supplier, consumer = sides
    offer = await _offer(client, supplier, 6)
    request = await _request(client, consumer, 2, location=point([4.3600, 50.8500]))
    match = (await _propose(client, consumer, offer, request)).json()
    assert_problem(
        await client.post(f"/v1/matches/{match['id']}/shipment", json={}, headers=supplier.headers),
        409,
    )
    for org in sides:
        await client.post(f"/v1/matches/{match['id']}/accept", headers=org.headers)
    shipped = await client.post(
        f"/v1/matches/{match['id']}/shipment", json={}, headers=supplier.headers
    )
    assert shipped.status_code == 201, shipped.text
    shipment = shipped.json()
    assert shipment["match_id"] == match["id"] and shipment["load_kg"] == 2000
    assert shipment["pickup"]["location"]["coordinates"] == HERE
    assert shipment["delivery"]["location"]["coordinates"] == [4.36, 50.85]
    assert shipment["pickup"]["window_from"] == "2027-04-01T08:00:00+02:00"  # Brussels summer time
    assert (
        await client.get(shipped.headers["location"], headers=supplier.headers)
    ).status_code == 200
