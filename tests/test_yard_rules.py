"""What a yard may do to the matches and lots of others, one mass per piece per lot, and the
pools of nearby hubs a new lot wakes; on a real PostGIS, through the HTTP API."""

from typing import Any

import httpx
import pytest

from tests.conftest import (
    Org,
    OrgFactory,
    Receiver,
    WorkerRun,
    assert_problem,
    point,
    subscribe,
)
from tests.test_hubs import (
    NEAR_YARD,
    _dispatch,
    _move,
    _shipment_from,
    _stock,
    _walk_in,
    _yard,
)


@pytest.fixture
async def operator(make_org: OrgFactory) -> Org:
    return await make_org("hub_operator", "supplier", "consumer")


async def _other_yard(client: httpx.AsyncClient, operator: Org, **settings: Any) -> str:
    return await _yard(client, operator, NEAR_YARD, "Recy-K", **settings)


async def test_a_yard_takes_in_another_hubs_lot_only_once_its_operator_dispatched_it(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory
) -> None:
    seller_hub = await _yard(client, operator)
    assert (await _walk_in(client, operator, seller_hub, 10, lot="BEAMS")).status_code == 201
    [lot] = (await _stock(client, operator, seller_hub))["lots"]
    buyer = await make_org("hub_operator", "consumer")
    buyer_hub = await _other_yard(client, buyer)
    request = await client.post(
        "/v1/requests",
        json={
            "location": point(NEAR_YARD),
            "material": "1702",
            "quantity": {"value": 4, "unit": "t"},
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
    match_id = proposed.json()["id"]
    for side in (buyer, operator):
        accepted = await client.post(f"/v1/matches/{match_id}/accept", headers=side.headers)
        assert accepted.status_code == 200, accepted.text

    intake = {"kind": "intake", "offer_id": lot["offer_id"], "quantity": {"value": 4, "unit": "t"}}
    # The goods are still at the seller's yard: the buyer's intake cannot close the match.
    assert_problem(await _move(client, buyer, buyer_hub, **intake), 409)
    match = await client.get(f"/v1/matches/{match_id}", headers=operator.headers)
    assert match.json()["status"] == "accepted"
    [held] = (await _stock(client, operator, seller_hub))["lots"]
    assert (held["stock"], held["reserved"], held["available"]) == (10, 4, 6)

    served = await _dispatch(client, operator, seller_hub, "BEAMS", 4, match_id=match_id)
    assert served.status_code == 201, served.text
    taken = await _move(client, buyer, buyer_hub, **intake)
    assert taken.status_code == 201, taken.text
    assert taken.json()["match_id"] == match_id and taken.json()["mass_kg"] == 4000
    match = await client.get(f"/v1/matches/{match_id}", headers=buyer.headers)
    assert match.json()["status"] == "fulfilled"
    # What one dispatch delivered is taken in once.
    assert_problem(await _move(client, buyer, buyer_hub, **intake), 409)
    [left] = (await _stock(client, operator, seller_hub))["lots"]
    assert (left["stock"], left["reserved"], left["available"]) == (6, 0, 6)


async def test_a_lot_keeps_the_mass_per_piece_of_its_first_intake(
    client: httpx.AsyncClient, operator: Org, make_org: OrgFactory
) -> None:
    hub_id = await _yard(client, operator, capacity={"t": 1})
    doors = {
        "kind": "intake",
        "walk_in": "Démolition Lambert",
        "lot": "DOORS",
        "material": "170201",
        "condition": "A",
    }
    first = await _move(
        client, operator, hub_id, **doors, quantity={"value": 10, "unit": "piece"}, mass_kg=300
    )
    assert first.status_code == 201, first.text
    # 30 kg a door since the first intake: 20 doors cannot weigh 20 kg, in the stock or
    # against the capacity.
    light = await _move(
        client, operator, hub_id, **doors, quantity={"value": 20, "unit": "piece"}, mass_kg=20
    )
    assert_problem(light, 422, "mass_kg", "consistent_with_lot")
    heavy = await _move(client, operator, hub_id, **doors, quantity={"value": 30, "unit": "piece"})
    problem = assert_problem(heavy, 409)
    assert "1.2 t" in problem["detail"]
    weighed = await _move(
        client, operator, hub_id, **doors, quantity={"value": 20, "unit": "piece"}, mass_kg=600
    )
    assert weighed.status_code == 201, weighed.text
    [lot] = (await _stock(client, operator, hub_id))["lots"]
    assert (lot["stock"], lot["mass_kg"]) == (30, 900)
    out = await _move(
        client,
        operator,
        hub_id,
        kind="dispatch",
        lot="DOORS",
        quantity={"value": 1, "unit": "piece"},
        mass_kg=5,
        shipment_id=await _shipment_from(client, operator),
    )
    assert_problem(out, 422, "mass_kg", "consistent_with_lot")


async def test_a_new_lot_wakes_the_pooling_thresholds_of_nearby_hubs(
    client: httpx.AsyncClient,
    operator: Org,
    make_org: OrgFactory,
    receiver: Receiver,
    run_worker: WorkerRun,
) -> None:
    neighbour = await make_org("hub_operator")
    await subscribe(client, neighbour, receiver.url, ["hub.threshold_reached"])
    pooled = await _other_yard(
        client, neighbour, pooling=[{"material": "1709", "threshold_t": 2, "radius_km": 3}]
    )
    before = await client.get(f"/v1/hubs/{pooled}/pooling", headers=neighbour.headers)
    [family] = before.json()["families"]
    assert family["reached"] is False, family
    hub_id = await _yard(client, operator)
    mixed = {"lot": "MIXED", "material": "170904", "condition": "C"}
    assert (await _walk_in(client, operator, hub_id, 3, **mixed)).status_code == 201
    await run_worker()
    [event] = receiver.events("hub.threshold_reached")
    assert event["data"]["hub_id"] == pooled and event["data"]["material"] == "1709"
    assert event["data"]["offered_nearby_t"] >= 3


async def test_a_hubs_settings_are_written_on_the_version_read(
    client: httpx.AsyncClient, operator: Org
) -> None:
    hub_id = await _yard(client, operator)
    read = await client.get(f"/v1/hubs/{hub_id}", headers=operator.headers)
    tag = read.headers["etag"]
    settings = {"capacity": {"t": 50}, "pooling": []}
    put = await client.put(
        f"/v1/hubs/{hub_id}", json=settings, headers={**operator.headers, "If-Match": tag}
    )
    assert put.status_code == 200, put.text
    assert put.headers["etag"] != tag
    stale = await client.put(
        f"/v1/hubs/{hub_id}",
        json={"capacity": {"t": 10}, "pooling": []},
        headers={**operator.headers, "If-Match": tag},
    )
    assert_problem(stale, 412)
    weak = await client.put(
        f"/v1/hubs/{hub_id}",
        json={"capacity": {"t": 10}, "pooling": []},
        headers={**operator.headers, "If-Match": f"W/{put.headers['etag']}"},
    )
    assert_problem(weak, 412)
    now = await client.get(f"/v1/hubs/{hub_id}", headers=operator.headers)
    assert now.json()["capacity"]["t"] == 50 and now.headers["etag"] == put.headers["etag"]


def _failing(response: httpx.Response) -> set[tuple[str, str]]:
    body = assert_problem(response, 422)
    return {(e["field"], e["rule"]) for e in body["errors"]}


async def test_a_movement_wrong_in_several_fields_is_told_them_all_at_once(
    client: httpx.AsyncClient, operator: Org
) -> None:
    hub_id = await _yard(client, operator)
    quantity = {"value": 1, "unit": "t"}
    # An intake naming what only a dispatch takes, and neither an offer nor a walk-in.
    intake = await _move(
        client,
        operator,
        hub_id,
        kind="intake",
        match_id="0f8fad5b-d9cb-469f-a165-70867728950e",
        shipment_id="0f8fad5b-d9cb-469f-a165-70867728950e",
        quantity=quantity,
    )
    assert _failing(intake) == {
        ("match_id", "not_for_kind"),
        ("shipment_id", "not_for_kind"),
        ("offer_id", "exactly_one"),
    }
    # A new lot without its material and its condition.
    new_lot = await _move(
        client, operator, hub_id, kind="intake", walk_in="Chantier", lot="NEW", quantity=quantity
    )
    assert _failing(new_lot) == {
        ("material", "required_for_new_lot"),
        ("condition", "required_for_new_lot"),
    }
    # An intake into a lot that is another material, condition and unit.
    assert (await _walk_in(client, operator, hub_id, 2, lot="WOOD")).status_code == 201
    unlike = await _move(
        client,
        operator,
        hub_id,
        kind="intake",
        walk_in="Chantier",
        lot="WOOD",
        material="170101",
        condition="A",
        quantity={"value": 1, "unit": "kg"},
    )
    assert _failing(unlike) == {
        ("material", "same_as_lot"),
        ("condition", "same_as_lot"),
        ("quantity.unit", "same_as_lot"),
    }
    # A dispatch with what only an intake takes, going nowhere, from no lot.
    dispatch = await _move(
        client, operator, hub_id, kind="dispatch", walk_in="Chantier", quantity=quantity
    )
    assert _failing(dispatch) == {
        ("walk_in", "not_for_kind"),
        ("match_id", "exactly_one"),
        ("lot", "required_for_dispatch"),
    }
    [lot] = (await _stock(client, operator, hub_id))["lots"]
    assert lot["stock"] == 2
