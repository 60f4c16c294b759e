"""Material yards: append-only movements, stock as their sum, capacity, lots on the market,
pooling thresholds; on a real PostGIS, through the HTTP API."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import (
    Org,
    OrgFactory,
    Receiver,
    WorkerRun,
    assert_problem,
    offer_body,
    point,
    subscribe,
)
from tests.overlap import HOLD_HUB, overlapping

YARD = [4.2650, 50.8150]  # west of Anderlecht, away from the other tests' places
NEAR_YARD = [4.2700, 50.8170]  # about 400 m away
FAR_FROM_YARD = [4.4300, 50.8700]  # about 13 km away
DAY = "2027-05-03"


async def _yard(
    client: httpx.AsyncClient,
    operator: Org,
    where: list[float] = YARD,
    name: str = "Parc à matières",
    **settings: Any,
) -> str:
    site = await client.post(
        "/v1/sites",
        json={"name": name, "kind": "yard", "location": point(where)},
        headers=operator.headers,
    )
    assert site.status_code == 201, site.text
    hub_id = str(site.json()["id"])
    if settings:
        put = await client.put(f"/v1/hubs/{hub_id}", json=settings, headers=operator.headers)
        assert put.status_code == 200, put.text
    return hub_id


async def _move(
    client: httpx.AsyncClient, operator: Org, hub_id: str, **body: Any
) -> httpx.Response:
    return await client.post(f"/v1/hubs/{hub_id}/movements", json=body, headers=operator.headers)


async def _walk_in(
    client: httpx.AsyncClient, operator: Org, hub_id: str, tonnes: float, **fields: Any
) -> httpx.Response:
    body = {
        "kind": "intake",
        "walk_in": "Menuiserie Dupont",
        "material": "170201",
        "condition": "B",
        "quantity": {"value": tonnes, "unit": "t"},
        **fields,
    }
    return await _move(client, operator, hub_id, **body)


async def _dispatch(
    client: httpx.AsyncClient, operator: Org, hub_id: str, lot: str, tonnes: float, **to: str
) -> httpx.Response:
    body = {"kind": "dispatch", "lot": lot, "quantity": {"value": tonnes, "unit": "t"}, **to}
    return await _move(client, operator, hub_id, **body)


async def _shipment_from(client: httpx.AsyncClient, owner: Org) -> str:
    """A shipment of `owner`'s collecting at the yard: the operator's own is one a dispatch
    may name."""
    response = await client.post(
        "/v1/shipments",
        json={
            "pickup": {
                "location": point(YARD),
                "window_from": f"{DAY}T08:00:00+02:00",
                "window_until": f"{DAY}T12:00:00+02:00",
            },
            "delivery": {
                "location": point(FAR_FROM_YARD),
                "window_from": f"{DAY}T09:00:00+02:00",
                "window_until": f"{DAY}T17:00:00+02:00",
            },
            "load_kg": 1000,
        },
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _stock(client: httpx.AsyncClient, operator: Org, hub_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/hubs/{hub_id}/stock", headers=operator.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
async def operator(make_org: OrgFactory) -> Org:
    return await make_org("hub_operator", "supplier", "consumer")


async def test_stock_is_the_sum_of_movements_and_each_lot_is_on_the_market(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory, app: FastAPI
) -> None:
    hub_id = await _yard(client, operator, capacity={"t": 100})
    first = await _walk_in(client, operator, hub_id, 3, lot="WOOD-1", price_per_unit=12)
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/v1/hubs/{hub_id}/movements/{first.json()['id']}"
    assert first.json()["lot_stock_after"] == 3 and first.json()["mass_kg"] == 3000
    more = await _walk_in(client, operator, hub_id, 2, lot="WOOD-1")
    assert more.json()["lot_stock_after"] == 5
    out = await _dispatch(
        client, operator, hub_id, "WOOD-1", 1.5, shipment_id=await _shipment_from(client, operator)
    )
    assert out.status_code == 201, out.text
    assert out.json()["lot_stock_after"] == 3.5

    stock = await _stock(client, operator, hub_id)
    [lot] = stock["lots"]
    assert (lot["lot"], lot["stock"], lot["available"], lot["mass_kg"]) == (
        "WOOD-1",
        3.5,
        3.5,
        3500,
    )
    assert stock["mass_t"] == 3.5 and stock["capacity_t"] == 100
    history = await client.get(f"/v1/hubs/{hub_id}/movements", headers=operator.headers)
    assert [m["lot_stock_after"] for m in history.json()["items"]] == [3.5, 5, 3]

    # Every other organization sees the lot as an open offer at the yard, in step with stock.
    stranger = await make_org("consumer")
    offer = (await client.get(f"/v1/offers/{lot['offer_id']}", headers=stranger.headers)).json()
    assert offer["organization_id"] == operator.id and offer["location"]["coordinates"] == YARD
    assert offer["material"] == "170201" and offer["condition"] == "B"
    assert offer["quantity"] == {"value": 5.0, "unit": "t"}
    assert offer["remaining"] == {"value": 3.5, "unit": "t"} and offer["status"] == "open"
    assert offer["price_per_unit"] == 12
    # It follows the movements only: edited by hand it would drift from them.
    assert_problem(
        await client.patch(
            f"/v1/offers/{lot['offer_id']}", json={"title": "x"}, headers=operator.headers
        ),
        409,
    )
    assert_problem(
        await client.delete(f"/v1/offers/{lot['offer_id']}", headers=operator.headers), 409
    )
    # Movements are append-only, down to the database.
    async with app.state.sessionmaker() as session:
        for statement in (
            "UPDATE hub_movements SET quantity_value = 100 WHERE hub_id = :hub",
            "DELETE FROM hub_movements WHERE hub_id = :hub",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement), {"hub": hub_id})
            await session.rollback()
    assert (await _stock(client, operator, hub_id))["mass_t"] == 3.5


async def test_too_large_a_dispatch_or_an_intake_over_capacity_writes_nothing(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory
) -> None:
    hub_id = await _yard(
        client,
        operator,
        capacity={"t": 10, "families": [{"material": "1701", "t": 4, "m3": 3}]},
    )
    assert (await _walk_in(client, operator, hub_id, 8, lot="WOOD")).status_code == 201
    over = assert_problem(await _walk_in(client, operator, hub_id, 2.5, lot="WOOD"), 409)
    assert "10 t" in over["detail"]
    # Concrete (1701) has its own limit, in tonnes and in m3: the volume must then be known.
    concrete = {"material": "170101", "condition": "C"}
    assert_problem(
        await _walk_in(client, operator, hub_id, 1, **concrete),
        422,
        "volume_m3",
        "required_by_capacity",
    )
    assert_problem(await _walk_in(client, operator, hub_id, 1.5, volume_m3=3.5, **concrete), 409)
    assert (
        await _walk_in(client, operator, hub_id, 1.5, volume_m3=1, **concrete)
    ).status_code == 201

    # Counted in m3 or in pieces, an intake says its mass where the capacity counts tonnes,
    # and its volume too where it counts m3: both in one answer.
    timber_in_m3 = {"quantity": {"value": 2, "unit": "m3"}}
    assert_problem(
        await _walk_in(client, operator, hub_id, 0, **timber_in_m3),
        422,
        "mass_kg",
        "required_by_capacity",
    )
    beams = {**concrete, "quantity": {"value": 4, "unit": "piece"}}
    both = assert_problem(await _walk_in(client, operator, hub_id, 0, **beams), 422)
    assert {(e["field"], e["rule"]) for e in both["errors"]} == {
        ("mass_kg", "required_by_capacity"),
        ("volume_m3", "required_by_capacity"),
    }

    too_much = await _dispatch(
        client, operator, hub_id, "WOOD", 8.5, shipment_id=await _shipment_from(client, operator)
    )
    assert assert_problem(too_much, 409)["stock"] == 8
    stock = await _stock(client, operator, hub_id)
    assert stock["mass_t"] == 9.5 and stock["volume_m3"] == 1
    assert [(f["material"], f["mass_t"], f["capacity_t"]) for f in stock["families"]] == [
        ("1701", 1.5, 4)
    ]
    history = await client.get(f"/v1/hubs/{hub_id}/movements", headers=operator.headers)
    assert len(history.json()["items"]) == 2
    # A capacity below what is held already would leave the yard over it.
    assert_problem(
        await client.put(
            f"/v1/hubs/{hub_id}", json={"capacity": {"t": 5}}, headers=operator.headers
        ),
        409,
    )


async def test_concurrent_movements_never_drive_a_lot_negative_or_a_yard_over_capacity(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory, database_url: str
) -> None:
    hub_id = await _yard(client, operator, capacity={"t": 10})
    assert (await _walk_in(client, operator, hub_id, 10, lot="BRICKS")).status_code == 201
    shipment_id = await _shipment_from(client, operator)
    # Every movement runs under its hub's lock: the 25 wait on it together, then race.
    dispatches = await overlapping(
        database_url,
        HOLD_HUB,
        uuid.UUID(hub_id),
        requests=[
            _dispatch(client, operator, hub_id, "BRICKS", 1, shipment_id=shipment_id)
            for _ in range(25)
        ],
    )
    assert sorted(r.status_code for r in dispatches) == [201] * 10 + [409] * 15
    stock = await _stock(client, operator, hub_id)
    assert stock["lots"] == [] and stock["mass_t"] == 0

    intakes = await overlapping(
        database_url,
        HOLD_HUB,
        uuid.UUID(hub_id),
        requests=[_walk_in(client, operator, hub_id, 1, lot=f"NEW-{i}") for i in range(25)],
    )
    assert sorted(r.status_code for r in intakes) == [201] * 10 + [409] * 15
    assert (await _stock(client, operator, hub_id))["mass_t"] == 10


async def test_matching_sees_a_lot_and_its_dispatch_serves_the_match(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory
) -> None:
    hub_id = await _yard(client, operator)
    intake = await _walk_in(client, operator, hub_id, 6, lot="BEAMS", material="170201")
    offer_id = (await _stock(client, operator, hub_id))["lots"][0]["offer_id"]
    consumer = await make_org("consumer")
    request = await client.post(
        "/v1/requests",
        json={
            "location": point(NEAR_YARD),
            "material": "1702",
            "quantity": {"value": 4, "unit": "t"},
            "needed_from": intake.json()["created_at"][:10],
            "needed_by": "2099-12-31",
            "max_distance_km": 5,
            "min_condition": "C",
        },
        headers=consumer.headers,
    )
    assert request.status_code == 201, request.text
    candidates = await client.get(
        f"/v1/requests/{request.json()['id']}/candidates", headers=consumer.headers
    )
    assert offer_id in [c["offer"]["id"] for c in candidates.json()["items"]]

    proposed = await client.post(
        "/v1/matches",
        json={"offer_id": offer_id, "request_id": request.json()["id"]},
        headers=consumer.headers,
    )
    match_id = proposed.json()["id"]
    for side in (consumer, operator):
        accepted = await client.post(f"/v1/matches/{match_id}/accept", headers=side.headers)
        assert accepted.status_code == 200, accepted.text
    stock = await _stock(client, operator, hub_id)
    assert (stock["lots"][0]["reserved"], stock["lots"][0]["available"]) == (4, 2)
    # Stock held for the match cannot leave by another way, and the match is served by the
    # dispatch, not by hand.
    shipment_id = await _shipment_from(client, operator)
    assert_problem(
        await _dispatch(client, operator, hub_id, "BEAMS", 3, shipment_id=shipment_id),
        409,
    )
    assert_problem(
        await client.post(f"/v1/matches/{match_id}/fulfil", headers=consumer.headers), 409
    )
    served = await _dispatch(client, operator, hub_id, "BEAMS", 4, match_id=match_id)
    assert served.status_code == 201, served.text
    match = await client.get(f"/v1/matches/{match_id}", headers=consumer.headers)
    assert match.json()["status"] == "fulfilled"
    offer = (await client.get(f"/v1/offers/{offer_id}", headers=consumer.headers)).json()
    assert offer["remaining"]["value"] == 2 and offer["status"] == "open"


async def test_an_intake_from_an_offer_takes_what_a_match_reserved_for_the_yard(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory
) -> None:
    hub_id = await _yard(client, operator)
    supplier = await make_org("supplier")
    offer = await client.post(
        "/v1/offers",
        json=offer_body(
            location=point(NEAR_YARD),
            material="200110",
            title="Clothes",
            quantity={"value": 300, "unit": "kg"},
            condition="B",
            available_from="2027-01-01",
            available_until="2099-12-31",
        ),
        headers=supplier.headers,
    )
    offer_id = offer.json()["id"]
    intake = {"kind": "intake", "offer_id": offer_id, "quantity": {"value": 300, "unit": "kg"}}
    assert_problem(await _move(client, operator, hub_id, **intake), 409)

    request = await client.post(
        "/v1/requests",
        json={
            "location": point(YARD),
            "material": "2001",
            "quantity": {"value": 300, "unit": "kg"},
            "needed_from": "2027-01-01",
            "needed_by": "2099-12-31",
            "max_distance_km": 5,
            "min_condition": "C",
        },
        headers=operator.headers,
    )
    proposed = await client.post(
        "/v1/matches",
        json={"offer_id": offer_id, "request_id": request.json()["id"]},
        headers=operator.headers,
    )
    match_id = proposed.json()["id"]
    for side in (operator, supplier):
        await client.post(f"/v1/matches/{match_id}/accept", headers=side.headers)
    taken = await _move(client, operator, hub_id, **intake)
    assert taken.status_code == 201, taken.text
    assert taken.json()["material"] == "200110" and taken.json()["condition"] == "B"
    assert taken.json()["match_id"] == match_id and taken.json()["mass_kg"] == 300
    match = await client.get(f"/v1/matches/{match_id}", headers=supplier.headers)
    assert match.json()["status"] == "fulfilled"


async def test_pooling_counts_stock_and_nearby_offers_and_fires_once_when_crossed(
    client: httpx.AsyncClient,
    operator: Org,
    make_org: OrgFactory,
    run_worker: WorkerRun,
    receiver: Receiver,
) -> None:
    await subscribe(client, operator, receiver.url, ["hub.threshold_reached"])
    hub_id = await _yard(
        client, operator, pooling=[{"material": "1912", "threshold_t": 5, "radius_km": 3}]
    )
    textiles = {"material": "191208", "condition": "C"}
    assert (await _walk_in(client, operator, hub_id, 2, lot="TEX", **textiles)).status_code == 201
    supplier = await make_org("supplier")

    async def textiles_offered(where: list[float], tonnes: float) -> None:
        posted = await client.post(
            "/v1/offers",
            json=offer_body(
                location=point(where),
                material="191208",
                title="Textile offcuts",
                quantity={"value": tonnes, "unit": "t"},
                available_from="2027-01-01",
                available_until="2099-12-31",
            ),
            headers=supplier.headers,
        )
        assert posted.status_code == 201, posted.text

    await textiles_offered(NEAR_YARD, 2.5)
    await textiles_offered(FAR_FROM_YARD, 4)
    pooling = await client.get(
        f"/v1/hubs/{hub_id}/pooling", params={"material": "19"}, headers=operator.headers
    )
    [family] = pooling.json()["families"]
    assert (family["material"], family["stock_t"], family["offered_nearby_t"]) == ("1912", 2, 2.5)
    assert family["offers_nearby"] == 1 and family["total_t"] == 4.5
    assert family["threshold_t"] == 5 and family["reached"] is False

    for _ in range(2):  # crosses it, then stays over: one event
        assert (
            await _walk_in(client, operator, hub_id, 0.5, lot="TEX", **textiles)
        ).status_code == 201
    await run_worker()
    [event] = receiver.events("hub.threshold_reached")
    assert event["data"]["hub_id"] == hub_id and event["data"]["material"] == "1912"
    assert event["data"]["total_t"] == 5.0 and event["data"]["threshold_t"] == 5
    pooling = await client.get(f"/v1/hubs/{hub_id}/pooling", headers=operator.headers)
    assert pooling.json()["families"][0]["reached"] is True

    # A ton leaves: the pool falls back under. A company's new offer nearby brings it over
    # again, which fires again.
    shipment = await _shipment_from(client, operator)
    left = await _dispatch(client, operator, hub_id, "TEX", 1, shipment_id=shipment)
    assert left.status_code == 201, left.text
    await run_worker()
    assert len(receiver.events("hub.threshold_reached")) == 1
    await textiles_offered(NEAR_YARD, 1.5)
    await run_worker()
    first, again = receiver.events("hub.threshold_reached")
    assert again["data"]["total_t"] == 6.0 and again["id"] != first["id"]


async def test_hubs_are_their_operators_own_and_movements_are_checked(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory
) -> None:
    hub_id = await _yard(client, operator)
    other = await make_org("hub_operator")
    assert_problem(await client.get(f"/v1/hubs/{hub_id}/stock", headers=other.headers), 404)
    assert_problem(await _walk_in(client, other, hub_id, 1), 404)
    supplier = await make_org("supplier")
    assert_problem(await client.get(f"/v1/hubs/{hub_id}", headers=supplier.headers), 403)
    shop = await client.post(
        "/v1/sites",
        json={"name": "Shop", "kind": "shop", "location": point(NEAR_YARD)},
        headers=operator.headers,
    )
    assert_problem(await _walk_in(client, operator, shop.json()["id"], 1), 409)

    assert_problem(
        await _move(
            client,
            operator,
            hub_id,
            kind="dispatch",
            quantity={"value": 1, "unit": "t"},
            match_id=hub_id,
        ),
        422,
        "lot",
        "required_for_dispatch",
    )
    assert_problem(
        await _walk_in(client, operator, hub_id, 1, offer_id=hub_id),
        422,
        "walk_in",
        "exactly_one",
    )
    assert_problem(
        await _walk_in(client, operator, hub_id, 1, material=None),
        422,
        "material",
        "required_for_new_lot",
    )
    assert_problem(
        await _walk_in(client, operator, hub_id, 1, material="999999"),
        422,
        "material",
        "ewc_code_exists",
    )
    assert (await _walk_in(client, operator, hub_id, 1, lot="L")).status_code == 201
    assert_problem(
        await _walk_in(client, operator, hub_id, 1, lot="L", condition="A"),
        422,
        "condition",
        "same_as_lot",
    )
    assert_problem(
        await _dispatch(client, operator, hub_id, "NOPE", 1, shipment_id=hub_id),
        422,
        "lot",
        "known_lot",
    )
    assert_problem(
        await _dispatch(client, operator, hub_id, "L", 1, shipment_id=hub_id),
        422,
        "shipment_id",
        "shipment_from_hub",
    )
    assert_problem(
        await client.put(
            f"/v1/hubs/{hub_id}",
            json={
                "pooling": [
                    {"material": "17", "threshold_t": 1},
                    {"material": "17", "threshold_t": 2},
                ]
            },
            headers=operator.headers,
        ),
        422,
        "pooling",
        "unique_material",
    )
