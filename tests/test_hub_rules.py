"""What a yard moves is only its own: a dispatch moves the quantity it names of a match and
no more (the rest stays reserved, the match fulfilled only when its dispatches reach it), a
yard's intakes take in a match the same way, a dispatch names only its operator's own
shipments, and the open data shows a hub only as its operator publishes it. On a real
PostGIS, through the HTTP API."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import Org, OrgFactory, assert_problem, offer_body, point
from tests.overlap import HOLD_HUB, overlapping
from tests.test_hubs import (
    NEAR_YARD,
    YARD,
    _dispatch,
    _move,
    _shipment_from,
    _stock,
    _walk_in,
    _yard,
)

# A corner of the Bois de la Cambre that the open data's readers below look at alone.
PUBLISHED = [4.3790, 50.8050]
HUB_FIELDS = {
    "id",
    "name",
    "kind",
    "capacity_t",
    "capacity_m3",
    "stock_t",
    "stock_m3",
    "free_t",
    "free_m3",
    "public_stock",
}


@pytest.fixture
async def operator(make_org: OrgFactory) -> Org:
    return await make_org("hub_operator", "supplier", "consumer")


@dataclass
class LotMatch:
    code: str
    offer_id: str
    match_id: str


async def _lot_match(
    client: httpx.AsyncClient,
    operator: Org,
    buyer: Org,
    hub_id: str,
    *,
    stock_t: float,
    match_t: float,
) -> LotMatch:
    """A new lot of `stock_t` in the yard, and an accepted match of `match_t` of it for the
    buyer's new request."""
    code = f"BEAMS-{uuid.uuid4().hex[:6]}"
    assert (await _walk_in(client, operator, hub_id, stock_t, lot=code)).status_code == 201
    [lot] = [lot for lot in (await _stock(client, operator, hub_id))["lots"] if lot["lot"] == code]
    request = await client.post(
        "/v1/requests",
        json={
            "location": point(NEAR_YARD),
            "material": "1702",
            "quantity": {"value": match_t, "unit": "t"},
            "needed_from": lot["arrived_at"][:10],
            "needed_by": "2099-12-31",
            "max_distance_km": 5,
            "min_condition": "C",
        },
        headers=buyer.headers,
    )
    assert request.status_code == 201, request.text
    proposed = await client.post(
        "/v1/matches",
        json={"offer_id": lot["offer_id"], "request_id": request.json()["id"]},
        headers=buyer.headers,
    )
    assert proposed.status_code == 201, proposed.text
    match_id = str(proposed.json()["id"])
    for side in (buyer, operator):
        accepted = await client.post(f"/v1/matches/{match_id}/accept", headers=side.headers)
        assert accepted.status_code == 200, accepted.text
    return LotMatch(code, str(lot["offer_id"]), match_id)


async def _books(
    client: httpx.AsyncClient, operator: Org, hub_id: str, made: LotMatch
) -> dict[str, Any]:
    """The lot's stock, reserved and available, its offer's remaining, the match's status,
    delivered and to deliver, and how many movements the hub has: as the API shows them."""
    stock = await _stock(client, operator, hub_id)
    [lot] = [lot for lot in stock["lots"] if lot["lot"] == made.code]
    offer = (await client.get(f"/v1/offers/{made.offer_id}", headers=operator.headers)).json()
    match = (await client.get(f"/v1/matches/{made.match_id}", headers=operator.headers)).json()
    movements = await client.get(
        f"/v1/hubs/{hub_id}/movements", params={"limit": 100}, headers=operator.headers
    )
    return {
        "lot": (lot["stock"], lot["reserved"], lot["available"]),
        "offer_remaining": offer["remaining"]["value"],
        "match": (match["status"], match["delivered"]["value"], match["to_deliver"]["value"]),
        "movements": len(movements.json()["items"]),
    }


async def test_a_small_dispatch_delivers_its_part_of_the_match_and_the_rest_stays_reserved(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory
) -> None:
    hub_id = await _yard(client, operator)
    buyer = await make_org("consumer")
    made = await _lot_match(client, operator, buyer, hub_id, stock_t=10, match_t=4)
    code, match_id = made.code, made.match_id
    start = await _books(client, operator, hub_id, made)
    assert start["lot"] == (10, 4, 6) and start["match"] == ("accepted", 0, 4)

    # A thousandth of a tonne is a thousandth of the match: the rest is still the buyer's.
    crumb = await _dispatch(client, operator, hub_id, code, 0.001, match_id=match_id)
    assert crumb.status_code == 201, crumb.text
    books = await _books(client, operator, hub_id, made)
    assert books["match"] == ("accepted", 0.001, 3.999)
    assert books["lot"] == (9.999, 3.999, 6) and books["offer_remaining"] == 6
    # What the match holds cannot leave for a shipment, nor be matched again.
    shipment = await _shipment_from(client, operator)
    assert_problem(await _dispatch(client, operator, hub_id, code, 6.5, shipment_id=shipment), 409)

    part = await _dispatch(client, operator, hub_id, code, 2, match_id=match_id)
    assert part.status_code == 201, part.text
    before = await _books(client, operator, hub_id, made)
    assert before["match"] == ("accepted", 2.001, 1.999) and before["lot"] == (7.999, 1.999, 6)

    # More than is left of the match: 409, and nothing recorded.
    over = assert_problem(
        await _dispatch(client, operator, hub_id, code, 2, match_id=match_id), 409
    )
    assert over["to_deliver"] == 1.999
    assert await _books(client, operator, hub_id, made) == before
    # Neither side can close it by hand meanwhile, nor reject it.
    for path in ("fulfil", "reject"):
        answer = await client.post(f"/v1/matches/{match_id}/{path}", headers=buyer.headers)
        assert_problem(answer, 409)
    assert await _books(client, operator, hub_id, made) == before

    # The dispatch that reaches the quantity fulfils it; nothing more goes to it.
    rest = await _dispatch(client, operator, hub_id, code, 1.999, match_id=match_id)
    assert rest.status_code == 201, rest.text
    done = await _books(client, operator, hub_id, made)
    assert done["match"] == ("fulfilled", 4, 0)
    assert done["lot"] == (6, 0, 6) and done["offer_remaining"] == 6
    assert_problem(await _dispatch(client, operator, hub_id, code, 0.5, match_id=match_id), 409)
    assert await _books(client, operator, hub_id, made) == done


async def test_concurrent_dispatches_to_one_match_never_deliver_more_than_it(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory, database_url: str
) -> None:
    hub_id = await _yard(client, operator)
    buyer = await make_org("consumer")
    made = await _lot_match(client, operator, buyer, hub_id, stock_t=10, match_t=5)
    code, match_id = made.code, made.match_id
    # Every movement runs under its hub's lock: the 25 wait on it together, then race.
    answers = await overlapping(
        database_url,
        HOLD_HUB,
        uuid.UUID(hub_id),
        requests=[
            _dispatch(client, operator, hub_id, code, 0.5, match_id=match_id) for _ in range(25)
        ],
    )
    assert sorted(r.status_code for r in answers) == [201] * 10 + [409] * 15
    books = await _books(client, operator, hub_id, made)
    assert books["match"] == ("fulfilled", 5, 0)
    assert books["lot"] == (5, 0, 5) and books["offer_remaining"] == 5
    assert books["movements"] == 11


async def test_a_yards_intakes_take_a_match_in_parts_and_no_more(
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
            available_from="2027-01-01",
            available_until="2099-12-31",
        ),
        headers=supplier.headers,
    )
    offer_id = offer.json()["id"]
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
        accepted = await client.post(f"/v1/matches/{match_id}/accept", headers=side.headers)
        assert accepted.status_code == 200, accepted.text

    def intake(kg: float) -> dict[str, Any]:
        return {
            "kind": "intake",
            "offer_id": offer_id,
            "lot": "CLOTHES",
            "quantity": {"value": kg, "unit": "kg"},
        }

    async def match() -> tuple[str, float, float]:
        seen = (await client.get(f"/v1/matches/{match_id}", headers=supplier.headers)).json()
        return seen["status"], seen["delivered"]["value"], seen["to_deliver"]["value"]

    first = await _move(client, operator, hub_id, **intake(100))
    assert first.status_code == 201, first.text
    assert first.json()["match_id"] == match_id
    assert await match() == ("accepted", 100, 200)
    # The supplier's offer keeps the 200 kg the yard has yet to take in reserved.
    assert (await client.get(f"/v1/offers/{offer_id}", headers=supplier.headers)).json()[
        "remaining"
    ]["value"] == 0
    over = assert_problem(await _move(client, operator, hub_id, **intake(250)), 409)
    assert over["left_to_take_in"] == 200
    # The yard's intakes deliver it: closed by hand, the 200 kg would be fulfilled unseen.
    assert_problem(
        await client.post(f"/v1/matches/{match_id}/fulfil", headers=supplier.headers), 409
    )
    assert await match() == ("accepted", 100, 200)
    assert (await _stock(client, operator, hub_id))["lots"][0]["stock"] == 100

    rest = await _move(client, operator, hub_id, **intake(200))
    assert rest.status_code == 201, rest.text
    assert await match() == ("fulfilled", 300, 0)
    assert_problem(await _move(client, operator, hub_id, **intake(1)), 409)
    [lot] = (await _stock(client, operator, hub_id))["lots"]
    assert lot["stock"] == 300


async def test_a_yard_takes_in_what_another_hubs_dispatches_sent_and_no_more(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory
) -> None:
    seller_hub = await _yard(client, operator)
    buyer = await make_org("hub_operator", "consumer")
    buyer_hub = await _yard(client, buyer, NEAR_YARD, "Recy-K")
    made = await _lot_match(client, operator, buyer, seller_hub, stock_t=10, match_t=4)
    code, offer_id, match_id = made.code, made.offer_id, made.match_id

    def intake(tonnes: float) -> dict[str, Any]:
        return {"kind": "intake", "offer_id": offer_id, "quantity": {"value": tonnes, "unit": "t"}}

    sent = await _dispatch(client, operator, seller_hub, code, 1.5, match_id=match_id)
    assert sent.status_code == 201, sent.text
    too_much = assert_problem(await _move(client, buyer, buyer_hub, **intake(2)), 409)
    assert too_much["left_to_take_in"] == 1.5
    assert (await _move(client, buyer, buyer_hub, **intake(1.5))).status_code == 201
    assert_problem(await _move(client, buyer, buyer_hub, **intake(0.5)), 409)
    books = await _books(client, operator, seller_hub, made)
    assert books["match"] == ("accepted", 1.5, 2.5) and books["lot"] == (8.5, 2.5, 6)

    assert (
        await _dispatch(client, operator, seller_hub, code, 2.5, match_id=match_id)
    ).status_code == 201
    assert (await _move(client, buyer, buyer_hub, **intake(2.5))).status_code == 201
    books = await _books(client, operator, seller_hub, made)
    assert books["match"] == ("fulfilled", 4, 0) and books["lot"] == (6, 0, 6)
    assert (await _stock(client, buyer, buyer_hub))["mass_t"] == 4


async def test_a_dispatch_names_only_its_operators_own_shipments(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory
) -> None:
    hub_id = await _yard(client, operator)
    assert (await _walk_in(client, operator, hub_id, 5, lot="WOOD")).status_code == 201
    carrier = await make_org("carrier")
    theirs = await _shipment_from(client, carrier)
    unknown = str(uuid.uuid4())

    # Another organization's shipment is answered as an unknown one, and pinned by nothing.
    foreign = assert_problem(
        await _dispatch(client, operator, hub_id, "WOOD", 1, shipment_id=theirs),
        422,
        "shipment_id",
        "shipment_from_hub",
    )
    missing = assert_problem(
        await _dispatch(client, operator, hub_id, "WOOD", 1, shipment_id=unknown),
        422,
        "shipment_id",
        "shipment_from_hub",
    )
    assert foreign["detail"].replace(theirs, "?") == missing["detail"].replace(unknown, "?")
    assert (await _stock(client, operator, hub_id))["lots"][0]["stock"] == 5
    withdrawn = await client.delete(f"/v1/shipments/{theirs}", headers=carrier.headers)
    assert withdrawn.status_code == 204, withdrawn.text

    # Its own shipment it may name; the movement then keeps it.
    mine = await _shipment_from(client, operator)
    out = await _dispatch(client, operator, hub_id, "WOOD", 1, shipment_id=mine)
    assert out.status_code == 201, out.text
    assert out.json()["shipment_id"] == mine
    assert_problem(await client.delete(f"/v1/shipments/{mine}", headers=operator.headers), 409)


async def _open_hubs(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """The hubs of the open data around PUBLISHED, by id, as a GIS client reads them."""
    lon, lat = PUBLISHED
    answer = await client.get(
        "/ogc/collections/ogc.hubs/items",
        params={"bbox": f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}", "limit": 1000},
    )
    assert answer.status_code == 200, answer.text
    return {f["id"]: f["properties"] for f in answer.json()["features"]}


async def _open_offer_ids(client: httpx.AsyncClient) -> set[str]:
    """The offers of the open data around PUBLISHED."""
    lon, lat = PUBLISHED
    answer = await client.get(
        "/ogc/collections/ogc.offers/items",
        params={"bbox": f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}", "limit": 1000},
    )
    assert answer.status_code == 200, answer.text
    return {f["id"] for f in answer.json()["features"]}


async def _stocked_hub(client: httpx.AsyncClient, owner: Org, kind: str = "yard") -> str:
    """A hub at PUBLISHED with 10 t and 20 m3 of capacity and 3.4 t, 2.6 m3 in stock."""
    site = await client.post(
        "/v1/sites",
        json={"name": f"Parc {uuid.uuid4().hex[:4]}", "kind": kind, "location": point(PUBLISHED)},
        headers=owner.headers,
    )
    assert site.status_code == 201, site.text
    hub_id = str(site.json()["id"])
    put = await client.put(
        f"/v1/hubs/{hub_id}", json={"capacity": {"t": 10, "m3": 20}}, headers=owner.headers
    )
    assert put.status_code == 200, put.text
    intake = await _walk_in(client, owner, hub_id, 3.4, volume_m3=2.6)
    assert intake.status_code == 201, intake.text
    return hub_id


async def _publish(client: httpx.AsyncClient, owner: Org, hub_id: str, **publication: Any) -> None:
    put = await client.put(
        f"/v1/hubs/{hub_id}",
        json={"capacity": {"t": 10, "m3": 20}, **publication},
        headers=owner.headers,
    )
    assert put.status_code == 200, put.text
    shown = await client.get(f"/v1/hubs/{hub_id}", headers=owner.headers)
    assert {k: shown.json()[k] for k in ("public", "public_stock")} == {
        "public": publication.get("public", False),
        "public_stock": publication.get("public_stock", "rounded"),
    }


async def test_the_open_data_shows_a_hub_only_as_its_operator_publishes_it(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory, app: FastAPI
) -> None:
    hub_id = await _stocked_hub(client, operator)
    stock = await client.get(f"/v1/hubs/{hub_id}/stock", headers=operator.headers)
    [lot_offer] = [lot["offer_id"] for lot in stock.json()["lots"]]
    # Private until published; its lot, on the market for the organizations, is not open data
    # either: at the hub's point, it would place it.
    assert hub_id not in await _open_hubs(client)
    assert lot_offer not in await _open_offer_ids(client)

    await _publish(client, operator, hub_id, public=True)
    rounded = (await _open_hubs(client))[hub_id]
    assert set(rounded) == HUB_FIELDS
    assert rounded["public_stock"] == "rounded" and rounded["kind"] == "yard"
    assert (rounded["stock_t"], rounded["stock_m3"]) == (3, 3)
    assert (rounded["capacity_t"], rounded["free_t"]) == (10, 7)
    assert (rounded["capacity_m3"], rounded["free_m3"]) == (20, 17)
    # Its lot's exact quantity would give the exact stock away.
    assert lot_offer not in await _open_offer_ids(client)

    await _publish(client, operator, hub_id, public=True, public_stock="exact")
    exact = (await _open_hubs(client))[hub_id]
    assert exact["public_stock"] == "exact"
    assert (exact["stock_t"], exact["stock_m3"]) == (3.4, 2.6)
    assert (exact["free_t"], exact["free_m3"]) == (6.6, 17.4)
    assert lot_offer in await _open_offer_ids(client)

    # Withdrawn by a PUT that leaves it out: a hub's settings are replaced whole.
    await _publish(client, operator, hub_id)
    assert hub_id not in await _open_hubs(client)
    assert lot_offer not in await _open_offer_ids(client)

    # A yard of an organization that is no hub operator is never open data, even marked
    # public in the database.
    company = await make_org("supplier", "consumer")
    site = await client.post(
        "/v1/sites",
        json={"name": "Dépôt de chantier", "kind": "yard", "location": point(PUBLISHED)},
        headers=company.headers,
    )
    assert site.status_code == 201, site.text
    assert_problem(
        await client.put(
            f"/v1/hubs/{site.json()['id']}", json={"public": True}, headers=company.headers
        ),
        403,
    )
    async with app.state.sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO hub_publications (hub_id, public, stock) VALUES (:id, true, 'exact')"
            ),
            {"id": site.json()["id"]},
        )
        await session.commit()
    assert site.json()["id"] not in await _open_hubs(client)
