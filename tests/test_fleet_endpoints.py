"""One subscription read alone; vehicles and shipments changed and removed by their owner: with
If-Match, by the rules of a create, in one transaction, never by another organization. Route
plans already asked for keep what they were planned with; a shipment a yard's dispatch names
stays."""

from datetime import datetime
from typing import Any

import httpx

from app.fleet.schemas import DEFAULTS, VehicleType
from tests.conftest import (
    GRAND_PLACE,
    RECY_K,
    SECRET,
    TOUR_TAXIS,
    Org,
    OrgFactory,
    WorkerRun,
    assert_problem,
    offer_body,
    point,
    request_body,
    subscribe,
)

DAY = "2026-12-03"
SHOP = [4.3540, 50.8510]


def window(start: str, end: str) -> dict[str, str]:
    return {"window_from": f"{DAY}T{start}:00+01:00", "window_until": f"{DAY}T{end}:00+01:00"}


def shipment_body(pickup: list[float] = TOUR_TAXIS, **fields: Any) -> dict[str, Any]:
    return {
        "reference": "crate",
        "pickup": {"location": point(pickup), **window("08:00", "12:00")},
        "delivery": {"location": point(SHOP), **window("09:00", "17:00")},
        "load_kg": 20,
        **fields,
    }


async def created(client: httpx.AsyncClient, org: Org, path: str, body: Any) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def read(client: httpx.AsyncClient, org: Org, path: str) -> httpx.Response:
    response = await client.get(path, headers=org.headers)
    assert response.status_code == 200, response.text
    return response


async def test_one_subscription_is_read_by_its_owner_alone(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    owner, other = await make_org(), await make_org()
    webhook_id = await subscribe(
        client, owner, "http://127.0.0.1:9/hook", ["match.accepted", "match.proposed"]
    )

    mine = await read(client, owner, f"/v1/webhooks/{webhook_id}")
    listed = (await read(client, owner, "/v1/webhooks")).json()["items"]
    assert mine.json() == next(w for w in listed if w["id"] == webhook_id)
    assert mine.json()["events"] == ["match.accepted", "match.proposed"]
    assert SECRET not in mine.text and "secret" not in mine.json()

    assert_problem(await client.get(f"/v1/webhooks/{webhook_id}", headers=other.headers), 404)
    await client.delete(f"/v1/webhooks/{webhook_id}", headers=owner.headers)
    assert_problem(await client.get(f"/v1/webhooks/{webhook_id}", headers=owner.headers), 404)


async def test_a_vehicle_is_patched_by_the_create_rules_with_if_match(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    vehicle = await created(
        client,
        carrier,
        "/v1/vehicles",
        {"name": "Bike 1", "type": "cargo_bike", "start": point(TOUR_TAXIS), "capacity_kg": 120},
    )
    path = f"/v1/vehicles/{vehicle['id']}"
    before = await read(client, carrier, path)
    assert before.headers["etag"] == '"1"'

    renamed = await client.patch(
        path,
        json={"name": "Bike one", "shift_end": "17:30"},
        headers={**carrier.headers, "If-Match": '"1"'},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.headers["etag"] == '"2"'
    assert {k: v for k, v in renamed.json().items() if k not in ("name", "shift_end")} == {
        k: v for k, v in before.json().items() if k not in ("name", "shift_end")
    }
    assert (renamed.json()["name"], renamed.json()["shift_end"]) == ("Bike one", "17:30:00")

    stale = await client.patch(
        path, json={"name": "Lost update"}, headers={**carrier.headers, "If-Match": '"1"'}
    )
    assert_problem(stale, 412)

    # Two rules broken: both named, and nothing written.
    broken = await client.patch(
        path, json={"capacity_kg": -5, "shift_start": "18:00"}, headers=carrier.headers
    )
    body = assert_problem(broken, 422, "capacity_kg", "greater_than")
    assert ("shift_end", "window_ordered") in {(e["field"], e["rule"]) for e in body["errors"]}
    after = await read(client, carrier, path)
    assert after.headers["etag"] == '"2"' and after.json() == renamed.json()

    assert_problem(
        await client.patch(path, json={"colour": "red"}, headers=carrier.headers),
        422,
        "colour",
        "extra_forbidden",
    )


async def test_a_new_type_brings_its_defaults_and_a_new_start_its_end(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    vehicle = await created(
        client,
        carrier,
        "/v1/vehicles",
        {"name": "Bike", "type": "cargo_bike", "start": point(TOUR_TAXIS)},
    )
    path = f"/v1/vehicles/{vehicle['id']}"

    van = await client.patch(
        path,
        json={"type": "van", "capacity_kg": 900, "start": point(RECY_K)},
        headers=carrier.headers,
    )
    assert van.status_code == 200, van.text
    changed = van.json()
    assert (changed["type"], changed["capacity_kg"], changed["capacity_m3"]) == ("van", 900, 10.0)
    assert changed["co2_g_per_km"] == 270 and changed["range_km"] is None
    # A cargo bike spends a minute reaching each new place, a van five.
    assert (vehicle["stop_time_s"], changed["stop_time_s"]) == (60, 300)
    # A field set to null takes its type's default again.
    reset = await client.patch(path, json={"capacity_kg": None}, headers=carrier.headers)
    assert (
        reset.status_code == 200
        and reset.json()["capacity_kg"] == DEFAULTS[VehicleType.van]["capacity_kg"]
    )
    # It ended where it started: it still does.
    assert changed["start_location"]["coordinates"] == RECY_K
    assert changed["end_location"]["coordinates"] == RECY_K

    ended_elsewhere = await client.patch(
        path, json={"end": point(GRAND_PLACE)}, headers=carrier.headers
    )
    moved = await client.patch(path, json={"start": point(TOUR_TAXIS)}, headers=carrier.headers)
    assert ended_elsewhere.status_code == moved.status_code == 200, moved.text
    assert moved.json()["start_location"]["coordinates"] == TOUR_TAXIS
    assert moved.json()["end_location"]["coordinates"] == GRAND_PLACE
    assert moved.headers["etag"] == '"5"'


async def test_another_organization_neither_changes_nor_removes_a_vehicle_or_shipment(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    owner, other = await make_org("carrier"), await make_org("carrier")
    vehicle = await created(
        client, owner, "/v1/vehicles", {"name": "Van", "type": "van", "start": point(RECY_K)}
    )
    shipment = await created(client, owner, "/v1/shipments", shipment_body())
    other_site = await created(
        client, other, "/v1/sites", {"name": "Theirs", "kind": "hub", "location": point(RECY_K)}
    )
    for path, patch in (
        (f"/v1/vehicles/{vehicle['id']}", {"name": "Taken"}),
        (f"/v1/shipments/{shipment['id']}", {"load_kg": 1}),
    ):
        before = await read(client, owner, path)
        assert_problem(await client.patch(path, json=patch, headers=other.headers), 404)
        assert_problem(await client.delete(path, headers=other.headers), 404)
        after = await read(client, owner, path)
        assert (after.json(), after.headers["etag"]) == (before.json(), before.headers["etag"])

    # Nor may the owner move its vehicle to another organization's site.
    assert_problem(
        await client.patch(
            f"/v1/vehicles/{vehicle['id']}",
            json={"start_site_id": other_site["id"]},
            headers=owner.headers,
        ),
        422,
        "start_site_id",
        "own_site",
    )


async def test_a_wrong_place_is_named_by_its_own_field_and_all_come_back_at_once(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    carrier, other = await make_org("carrier"), await make_org("carrier")
    theirs = await created(
        client, other, "/v1/sites", {"name": "Theirs", "kind": "hub", "location": point(SHOP)}
    )
    paris = point([2.35, 48.85])

    async def refused(path: str, body: dict[str, Any]) -> set[tuple[str, str]]:
        answer = assert_problem(await client.post(path, json=body, headers=carrier.headers), 422)
        return {(e["field"], e["rule"]) for e in answer["errors"]}

    assert await refused("/v1/vehicles", {"name": "Nowhere", "type": "van"}) == {
        ("start", "site_or_location")
    }
    assert await refused(
        "/v1/vehicles",
        {"name": "Lost", "type": "van", "start_site_id": theirs["id"], "end": paris},
    ) == {("start_site_id", "own_site"), ("end.coordinates", "within_service_area")}
    wrong_ends = shipment_body()
    wrong_ends["pickup"] = {**wrong_ends["pickup"], "location": paris}
    wrong_ends["delivery"] = {**wrong_ends["delivery"], "location": None, "site_id": theirs["id"]}
    assert await refused("/v1/shipments", wrong_ends) == {
        ("pickup.location.coordinates", "within_service_area"),
        ("delivery.site_id", "own_site"),
    }
    plan = {
        "date": DAY,
        "mode": "two_tier",
        "vehicles": [{"name": "Van", "type": "van", "start": paris}],
        "shipments": [wrong_ends],
        "hubs": [{"site_id": theirs["id"]}, {"location": paris}],
    }
    assert await refused("/v1/route-plans", plan) == {
        ("vehicles.0.start.coordinates", "within_service_area"),
        ("shipments.0.pickup.location.coordinates", "within_service_area"),
        ("shipments.0.delivery.site_id", "own_site"),
    }
    plan["vehicles"] = [{"name": "Van", "type": "van", "start": point(TOUR_TAXIS)}]
    plan["shipments"] = [shipment_body()]
    assert await refused("/v1/route-plans", plan) == {
        ("vehicles", "both_tiers"),
        ("hubs.0.site_id", "own_site"),
        ("hubs.1.location.coordinates", "within_service_area"),
    }


async def test_a_shipment_is_patched_by_the_create_rules_with_if_match(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    shipment = await created(client, carrier, "/v1/shipments", shipment_body())
    path = f"/v1/shipments/{shipment['id']}"
    before = (await read(client, carrier, path)).json()
    later = {"location": point(GRAND_PLACE), **window("13:00", "18:00"), "service_s": 120}

    patched = await client.patch(
        path,
        json={"delivery": later, "load_kg": 35, "reference": None},
        headers={**carrier.headers, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] == '"2"'
    body = patched.json()
    assert (body["load_kg"], body["reference"], body["pickup"]) == (35, None, before["pickup"])
    assert body["delivery"]["location"]["coordinates"] == GRAND_PLACE
    assert body["delivery"]["service_s"] == 120
    starts = datetime.fromisoformat(body["delivery"]["window_from"])
    assert starts == datetime.fromisoformat("2026-12-03T12:00:00Z")
    body = (await read(client, carrier, path)).json()

    assert_problem(await client.delete(path, headers={**carrier.headers, "If-Match": '"1"'}), 412)

    broken = await client.patch(
        path,
        json={"load_kg": 0, "pickup": {"location": point(TOUR_TAXIS), **window("12:00", "08:00")}},
        headers=carrier.headers,
    )
    problem = assert_problem(broken, 422, "load_kg", "greater_than")
    failing = {(e["field"], e["rule"]) for e in problem["errors"]}
    assert ("pickup.window_until", "window_ordered") in failing
    after = await read(client, carrier, path)
    assert after.headers["etag"] == '"2"' and after.json() == body

    assert_problem(
        await client.patch(
            path,
            json={"pickup": {"location": point([2.35, 48.85]), **window("08:00", "09:00")}},
            headers=carrier.headers,
        ),
        422,
        "pickup.location.coordinates",
        "within_service_area",
    )


async def test_a_shipment_of_a_match_keeps_its_match(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    supplier, consumer = await make_org("supplier"), await make_org("consumer")
    # 12 t of soil in 8 m3: the 5 t matched take 5/12 of it.
    offer = await created(client, supplier, "/v1/offers", offer_body(volume_m3=8))
    request = await created(client, consumer, "/v1/requests", request_body())
    match = await created(
        client, consumer, "/v1/matches", {"offer_id": offer["id"], "request_id": request["id"]}
    )
    for side in (supplier, consumer):
        accepted = await client.post(
            f"/v1/matches/{match['id']}/accept", json={}, headers=side.headers
        )
        assert accepted.status_code == 200, accepted.text
    shipment = await client.post(
        f"/v1/matches/{match['id']}/shipment", json={}, headers=consumer.headers
    )
    assert shipment.status_code == 201, shipment.text
    assert (shipment.json()["load_kg"], shipment.json()["load_m3"]) == (5000, 3.333)
    path = f"/v1/shipments/{shipment.json()['id']}"

    patched = await client.patch(
        path, json={"load_m3": 4, "reference": "soil for the square"}, headers=consumer.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["match_id"] == match["id"]
    assert (patched.json()["load_m3"], patched.json()["load_kg"]) == (4, 5000)

    assert (await client.delete(path, headers=consumer.headers)).status_code == 204
    still = await read(client, consumer, f"/v1/matches/{match['id']}")
    assert still.json()["status"] == "accepted"


async def test_plans_already_asked_for_keep_what_they_were_planned_with(
    client: httpx.AsyncClient, make_org: OrgFactory, run_worker: WorkerRun
) -> None:
    carrier = await make_org("carrier")
    vehicle = await created(
        client,
        carrier,
        "/v1/vehicles",
        {"name": "Bike", "type": "cargo_bike", "start": point(TOUR_TAXIS)},
    )
    shipment = await created(client, carrier, "/v1/shipments", shipment_body())
    started = await client.post(
        "/v1/route-plans",
        json={
            "date": DAY,
            "vehicle_ids": [vehicle["id"]],
            "shipment_ids": [shipment["id"]],
            "time_limit_s": 1,
        },
        headers=carrier.headers,
    )
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"

    # Changed, then removed, while the plan waits in the queue.
    for kind in ("vehicles", "shipments"):
        row = vehicle if kind == "vehicles" else shipment
        patch = {"name": "Renamed"} if kind == "vehicles" else {"load_kg": 999}
        changed = await client.patch(f"/v1/{kind}/{row['id']}", json=patch, headers=carrier.headers)
        assert changed.status_code == 200, changed.text
        gone = await client.delete(
            f"/v1/{kind}/{row['id']}", headers={**carrier.headers, "If-Match": '"2"'}
        )
        assert gone.status_code == 204, gone.text
        assert_problem(await client.get(f"/v1/{kind}/{row['id']}", headers=carrier.headers), 404)

    await run_worker()

    plan = (await client.get(started.headers["location"], headers=carrier.headers)).json()
    assert plan["status"] == "done", plan
    [route] = plan["result"]["routes"]
    assert (route["vehicle_id"], route["vehicle_name"]) == (vehicle["id"], "Bike")
    assert plan["result"]["unassigned"] == []
    assert [s["shipment_id"] for s in route["stops"] if s["kind"] == "pickup"] == [shipment["id"]]
    assert max(s["load_kg"] for s in route["stops"]) == 20


async def test_a_shipment_a_yard_dispatched_to_stays(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    operator = await make_org("hub_operator")
    yard = await created(
        client, operator, "/v1/sites", {"name": "Yard", "kind": "yard", "location": point(RECY_K)}
    )
    movements = f"/v1/hubs/{yard['id']}/movements"
    intake = {
        "kind": "intake",
        "walk_in": "Démolition Martin",
        "lot": "BR-1",
        "material": "170102",
        "condition": "A",
        "quantity": {"value": 2, "unit": "t"},
    }
    assert (await client.post(movements, json=intake, headers=operator.headers)).status_code == 201
    shipment = await created(client, operator, "/v1/shipments", shipment_body(pickup=RECY_K))
    dispatch = await client.post(
        movements,
        json={
            "kind": "dispatch",
            "lot": "BR-1",
            "quantity": {"value": 1, "unit": "t"},
            "shipment_id": shipment["id"],
        },
        headers=operator.headers,
    )
    assert dispatch.status_code == 201, dispatch.text

    path = f"/v1/shipments/{shipment['id']}"
    before = (await read(client, operator, path)).json()
    refused = assert_problem(await client.delete(path, headers=operator.headers), 409)
    assert "hub movement" in refused["detail"]
    assert (await read(client, operator, path)).json() == before
