"""Route plans through the API, solved by a real worker with the engines (PyVRP and OR-Tools) on
straight-line and road matrices."""

import itertools
import math
from datetime import datetime, timedelta
from typing import Any

import httpx

from logistics.matrices import Profile, haversine_m, straight_line
from tests.conftest import OrgFactory, WorkerRun, assert_problem, connect_raw, plan_body, point

DAY = "2026-12-01"
TIR = [4.3467, 50.8660]
# Shops in the centre and a few suppliers north of it.
SUPPLIERS = [[4.3500, 50.8700], [4.3550, 50.8690], [4.3420, 50.8710]]
SHOPS = [
    [4.3540, 50.8510],
    [4.3480, 50.8470],
    [4.3600, 50.8450],
    [4.3510, 50.8400],
    [4.3450, 50.8430],
    [4.3580, 50.8530],
]


def window(start: str, end: str) -> dict[str, str]:
    return {"window_from": f"{DAY}T{start}:00+01:00", "window_until": f"{DAY}T{end}:00+01:00"}


async def test_a_plan_serves_every_shipment_it_can_and_beats_the_van_baseline(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    bike = await client.post(
        "/v1/vehicles",
        json={"name": "Bike 1", "type": "cargo_bike", "start": point(TIR)},
        headers=carrier.headers,
    )
    assert bike.status_code == 201, bike.text
    assert bike.json()["capacity_kg"] == 150 and bike.json()["end_location"]["coordinates"] == TIR
    shipment_ids = []
    for k, shop in enumerate(SHOPS):
        body = {
            "reference": f"parcel-{k}",
            "pickup": {
                "location": point(SUPPLIERS[k % 3]),
                **window("08:00", "12:00"),
                "service_s": 120,
            },
            "delivery": {"location": point(shop), **window("09:00", "17:00"), "service_s": 180},
            "load_kg": 20,
            "load_m3": 0.1,
        }
        created = await client.post("/v1/shipments", json=body, headers=carrier.headers)
        assert created.status_code == 201, created.text
        shipment_ids.append(created.json()["id"])
    piano = {
        "reference": "piano",
        "pickup": {"location": point(SUPPLIERS[0]), **window("08:00", "12:00")},
        "delivery": {"location": point(SHOPS[0]), **window("09:00", "17:00")},
        "load_kg": 400,
    }
    started = await client.post(
        "/v1/route-plans",
        json={
            "date": DAY,
            "shipment_ids": shipment_ids,
            "shipments": [piano],
            "vehicle_ids": [bike.json()["id"]],
            "time_limit_s": 2,
        },
        headers=carrier.headers,
    )
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    assert started.json()["status"] == "queued"

    await run_worker()

    plan = (await client.get(location, headers=carrier.headers)).json()
    assert plan["status"] == "done", plan
    result = plan["result"]
    assert result["unassigned"] == [
        {"shipment_id": "piano", "reason": "too_heavy", "detail": result["unassigned"][0]["detail"]}
    ]
    [route] = result["routes"]
    stops = route["stops"]
    assert stops[0]["kind"] == "start" and stops[-1]["kind"] == "end"
    order = {(s["kind"], s["shipment_id"]): i for i, s in enumerate(stops)}
    for sid in shipment_ids:
        assert order[("pickup", sid)] < order[("delivery", sid)]
    assert max(s["load_kg"] for s in stops) <= 150 and stops[-1]["load_kg"] == 0
    for before, after in itertools.pairwise(stops):
        assert before["departure"] <= after["arrival"] <= after["start"] <= after["departure"]
        assert before["km"] <= after["km"]
    parcels = {sid: (window("08:00", "12:00"), window("09:00", "17:00")) for sid in shipment_ids}
    assert_feasible(route, parcels, capacity_kg=150, capacity_m3=1.0)
    # The portfolio: both engines searched, and the plan is one of theirs.
    solver = result["solver"]
    assert {e["engine"] for e in solver["engines"]} == {"pyvrp", "ortools"}
    assert solver["engine"] in ("pyvrp", "ortools")
    assert next(e for e in solver["engines"] if e["engine"] == solver["engine"])["feasible"]
    # A door-to-door plan on straight lines answers none of the keys of two-tier or road plans.
    assert not {"via_hub", "transfers", "compared_costs_eur"} & result.keys()
    assert not {"decided_by", "chosen"} & solver.keys() and "by_tier" not in result["kpis"]
    assert not {"tier", "geometry"} & route.keys() and not any("leg" in s for s in stops)
    kpis, baseline = result["kpis"], result["baseline"]
    assert kpis["vehicles"] == 1 and kpis["co2_kg"] == 0  # a cargo bike
    # Six parcels collected in one round by bike, against six van trips door to door.
    assert kpis["km"] < baseline["km"] and baseline["co2_kg"] > 0
    assert result["saving"]["co2_kg"] == baseline["co2_kg"]

    geojson = await client.get(location, params={"format": "geojson"}, headers=carrier.headers)
    assert geojson.headers["content-type"] == "application/geo+json"
    kinds = [f["geometry"]["type"] for f in geojson.json()["features"]]
    assert kinds.count("LineString") == 1 and kinds.count("Point") == len(stops)


def assert_feasible(
    route: dict[str, Any],
    windows: dict[str, tuple[dict[str, str], dict[str, str]]],
    capacity_kg: float,
    capacity_m3: float,
) -> None:
    """The route as answered keeps the rules: each pickup before its delivery, each service
    starting within its window, the load within the capacity, within the shift (07:00-19:00)."""
    stops = route["stops"]
    at = {(s["kind"], s["shipment_id"]): s for s in stops}
    for sid, (pickup, delivery) in windows.items():
        if ("delivery", sid) not in at:
            continue
        assert stops.index(at[("pickup", sid)]) < stops.index(at[("delivery", sid)])
        for kind, opening in (("pickup", pickup), ("delivery", delivery)):
            start = datetime.fromisoformat(at[(kind, sid)]["start"])
            opens = datetime.fromisoformat(opening["window_from"])
            closes = datetime.fromisoformat(opening["window_until"])
            assert opens <= start <= closes, (sid, kind, start)
    for stop in stops:
        assert 0 <= stop["load_kg"] <= capacity_kg and 0 <= stop["load_m3"] <= capacity_m3
    shift_start = datetime.fromisoformat(f"{DAY}T07:00:00+01:00")
    shift_end = datetime.fromisoformat(f"{DAY}T19:00:00+01:00")
    assert shift_start <= datetime.fromisoformat(stops[0]["departure"])
    assert datetime.fromisoformat(stops[-1]["arrival"]) <= shift_end


async def test_a_plan_that_can_serve_nothing_is_done_with_every_shipment_and_its_reason(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    next_day = {
        "window_from": "2026-12-02T09:00:00+01:00",
        "window_until": "2026-12-02T12:00:00+01:00",
    }
    shipments = [
        {
            "reference": "fridge",
            "pickup": {"location": point(SUPPLIERS[0]), **window("08:00", "12:00")},
            "delivery": {"location": point(SHOPS[0]), **window("09:00", "17:00")},
            "load_kg": 500,
        },
        {
            "reference": "delivered-before-pickup",
            "pickup": {"location": point(SUPPLIERS[1]), **window("14:00", "15:00")},
            "delivery": {"location": point(SHOPS[1]), **window("09:00", "10:00")},
            "load_kg": 10,
        },
        {
            "reference": "tomorrow",
            "pickup": {"location": point(SUPPLIERS[2]), **next_day},
            "delivery": {"location": point(SHOPS[2]), **next_day},
            "load_kg": 10,
        },
    ]
    started = await client.post(
        "/v1/route-plans",
        json={
            "date": DAY,
            "vehicles": [{"name": "Bike", "type": "cargo_bike", "start": point(TIR)}],
            "shipments": shipments,
            "time_limit_s": 1,
        },
        headers=carrier.headers,
    )
    assert started.status_code == 202, started.text
    await run_worker()

    plan = (await client.get(started.headers["location"], headers=carrier.headers)).json()
    assert plan["status"] == "done", plan
    result = plan["result"]
    assert result["routes"] == []
    assert {u["shipment_id"]: u["reason"] for u in result["unassigned"]} == {
        "fridge": "too_heavy",
        "delivered-before-pickup": "window_unreachable",
        "tomorrow": "window_unreachable",
    }
    assert all(u["detail"] for u in result["unassigned"])
    assert result["kpis"] == {"km": 0, "hours": 0, "vehicles": 0, "co2_kg": 0, "tonne_km": 0}
    assert result["baseline"]["km"] == 0 and result["co2_kg_by_shipment"] == {}
    assert result["saving"] == {"km": 0, "co2_kg": 0, "km_pct": 0, "co2_pct": 0}
    # Nothing to search: no engine ran.
    assert result["solver"]["engine"] == "" and result["solver"]["engines"] == []
    geojson = await client.get(
        started.headers["location"], params={"format": "geojson"}, headers=carrier.headers
    )
    assert geojson.json()["features"] == []


async def test_plans_are_checked(client: httpx.AsyncClient, make_org: OrgFactory) -> None:
    carrier, supplier = await make_org("carrier"), await make_org("supplier")
    assert_problem(
        await client.post("/v1/route-plans", json={"date": DAY}, headers=supplier.headers), 403
    )
    assert_problem(
        await client.post("/v1/route-plans", json={"date": DAY}, headers=carrier.headers),
        422,
        "vehicles",
        "not_empty",
    )
    assert_problem(
        await client.post(
            "/v1/route-plans", json={"date": DAY, "matrix": "teleport"}, headers=carrier.headers
        ),
        422,
        "matrix",
        "literal_error",
    )
    assert_problem(
        await client.post("/v1/route-plans", json=plan_body(121), headers=carrier.headers),
        422,
        "time_limit_s",
        "less_than_equal",
    )
    assert_problem(
        await client.post(
            "/v1/vehicles",
            json={"name": "x", "type": "rocket", "start": point(TIR)},
            headers=carrier.headers,
        ),
        422,
        "type",
        "enum",
    )


async def test_a_plan_on_the_road_network_follows_the_streets(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    vehicles = [
        {"name": "Bike", "type": "cargo_bike", "start": point(TIR)},
        {"name": "Van", "type": "van", "start": point(TIR)},
    ]
    shipments = [
        {
            "reference": f"road-{k}",
            "pickup": {"location": point(SUPPLIERS[k % 3]), **window("08:00", "12:00")},
            "delivery": {"location": point(shop), **window("09:00", "17:00")},
            "load_kg": 30,
        }
        for k, shop in enumerate(SHOPS[:4])
    ]
    plans = {}
    for matrix in ("straight_line", "road"):
        started = await client.post(
            "/v1/route-plans",
            json={
                "date": DAY,
                "vehicles": vehicles,
                "shipments": shipments,
                "matrix": matrix,
                "time_limit_s": 1,
            },
            headers=carrier.headers,
        )
        assert started.status_code == 202, started.text
        plans[matrix] = started.headers["location"]
    await run_worker()

    road = (await client.get(plans["road"], headers=carrier.headers)).json()
    assert road["status"] == "done", road
    result = road["result"]
    assert result["matrix"] == "road" and result["unassigned"] == []
    assert sum(len(r["stops"]) for r in result["routes"]) == 2 * len(shipments) + 2 * len(
        result["routes"]
    )
    geojson = (
        await client.get(plans["road"], params={"format": "geojson"}, headers=carrier.headers)
    ).json()
    assert geojson["attribution"].startswith("© OpenStreetMap contributors")
    lines = [f for f in geojson["features"] if f["geometry"]["type"] == "LineString"]
    stops = [f for f in geojson["features"] if f["geometry"]["type"] == "Point"]
    # Along the streets: many more vertices than stops.
    assert sum(len(line["geometry"]["coordinates"]) for line in lines) > 5 * len(stops)
    straight = (await client.get(plans["straight_line"], headers=carrier.headers)).json()["result"]
    assert straight["matrix"] == "straight_line"
    # Two estimates of the same rounds: the road distance stays within a factor 2 of the
    # straight line x 1.3.
    assert 0.5 < result["kpis"]["km"] / straight["kpis"]["km"] < 2


async def test_a_two_tier_plan_hands_over_at_the_hub_in_time(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    depot = [4.2650, 50.8150]  # 7 km south-west of the hub
    # Vans with their drivers cost 60 EUR an hour; bikes wait at the hub and ride 12 km at
    # most, too little to fetch from the depot themselves.
    vans = [
        {"name": f"Van {k}", "type": "van", "start": point(depot), "cost_per_hour": 60}
        for k in range(2)
    ]
    bikes = [
        {"name": f"Bike {k}", "type": "cargo_bike", "start": point(TIR), "range_km": 12}
        for k in range(3)
    ]
    parcels = [
        {
            "reference": f"shop-{k}",
            "pickup": {"location": point(depot), **window("07:00", "09:00"), "service_s": 60},
            "delivery": {"location": point(shop), **window("09:00", "16:00"), "service_s": 180},
            "load_kg": 25,
        }
        for k, shop in enumerate(SHOPS)
    ]
    # A move between two places by the depot: through the hub it would cross town twice.
    local = {
        "reference": "local",
        "pickup": {"location": point([4.2700, 50.8170]), **window("08:00", "12:00")},
        "delivery": {"location": point([4.2800, 50.8200]), **window("08:00", "17:00")},
        "load_kg": 300,
    }
    started = await client.post(
        "/v1/route-plans",
        json={
            "date": DAY,
            "shipments": [*parcels, local],
            "vehicles": [*vans, *bikes],
            "mode": "two_tier",
            "hubs": [
                {"location": point(TIR), "name": "TIR", "zone_radius_km": 3, "handling_min": 15}
            ],
            "objective": "cost",
            "time_limit_s": 6,
        },
        headers=carrier.headers,
    )
    assert started.status_code == 202, started.text
    assert started.json()["mode"] == "two_tier"
    await run_worker()
    plan = (await client.get(started.headers["location"], headers=carrier.headers)).json()
    assert plan["status"] == "done", plan
    result = plan["result"]
    assert result["unassigned"] == []
    assert set(result["via_hub"]) == {f"shop-{k}" for k in range(len(SHOPS))}
    assert result["compared_costs_eur"]["all_via_hub"] < result["compared_costs_eur"]["direct"]
    # Parcels through the hub: not the door-to-door plan, and cheaper than it.
    chosen, costs = result["solver"]["chosen"], result["compared_costs_eur"]
    assert chosen in ("all_via_hub", "mixed") and costs[chosen] < costs["direct"]
    assert result["solver"]["decided_by"] == "cost"
    tiers = {r["vehicle_name"]: r["tier"] for r in result["routes"]}
    assert {t for name, t in tiers.items() if name.startswith("Bike")} == {"last_mile"}
    # The local move goes door to door, in one van.
    [local_route] = [
        r for r in result["routes"] if any(s["shipment_id"] == "local" for s in r["stops"])
    ]
    assert local_route["tier"] == "trunk"
    assert {s["leg"] for s in local_route["stops"] if s["shipment_id"] == "local"} == {
        "door_to_door"
    }
    # Each parcel leaves the hub by bike at least the handling time after a van unloaded it.
    assert len(result["transfers"]) == len(SHOPS)
    for transfer in result["transfers"]:
        assert transfer["hub_name"] == "TIR" and transfer["location"] == TIR
        unloaded = datetime.fromisoformat(transfer["unloaded_at"])
        loaded = datetime.fromisoformat(transfer["loaded_at"])
        assert loaded - unloaded >= timedelta(minutes=15)
        assert tiers_of(result, transfer["outbound_vehicle_id"]) == "last_mile"
        assert tiers_of(result, transfer["inbound_vehicle_id"]) == "trunk"
    by_tier = result["kpis"]["by_tier"]
    assert by_tier["last_mile"]["co2_kg"] == 0 and by_tier["trunk"]["co2_kg"] > 0
    assert round(by_tier["trunk"]["km"] + by_tier["last_mile"]["km"], 3) == result["kpis"]["km"]
    assert result["kpis"]["km"] < result["baseline"]["km"]

    features = (
        await client.get(
            started.headers["location"], params={"format": "geojson"}, headers=carrier.headers
        )
    ).json()["features"]
    assert sum(f["properties"]["feature"] == "transfer" for f in features) == len(SHOPS)


def tiers_of(result: dict[str, Any], vehicle_id: str) -> str:
    return str(next(r["tier"] for r in result["routes"] if r["vehicle_id"] == vehicle_id))


async def test_two_tier_plans_need_hubs_and_both_tiers(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    shipment = {
        "pickup": {"location": point(SUPPLIERS[0]), **window("08:00", "12:00")},
        "delivery": {"location": point(SHOPS[0]), **window("09:00", "17:00")},
        "load_kg": 20,
    }
    van = {"name": "Van", "type": "van", "start": point(TIR)}
    body = {"date": DAY, "shipments": [shipment], "vehicles": [van], "mode": "two_tier"}
    assert_problem(
        await client.post("/v1/route-plans", json=body, headers=carrier.headers),
        422,
        "hubs",
        "required_for_two_tier",
    )
    body["hubs"] = [{"location": point(TIR)}]
    assert_problem(
        await client.post("/v1/route-plans", json=body, headers=carrier.headers),
        422,
        "vehicles",
        "both_tiers",
    )
    body["mode"] = "direct"
    assert_problem(
        await client.post("/v1/route-plans", json=body, headers=carrier.headers),
        422,
        "hubs",
        "only_for_two_tier",
    )


async def test_the_bike_network_has_no_motorway_and_the_van_network_no_footway(
    database_url: str,
) -> None:
    connection = await connect_raw(database_url)
    try:

        async def kinds(network: str | None = None) -> set[str]:
            kept = f"w.gid IN (SELECT id FROM roads.edges_{network})" if network else "true"
            rows = await connection.fetch(
                "SELECT DISTINCT c.tag_value FROM roads.ways w "
                f"JOIN roads.configuration c ON c.tag_id = w.tag_id WHERE c.tag_key = 'highway' AND {kept}"
            )
            return {row["tag_value"] for row in rows}

        everything = await kinds()
        fast = {"motorway", "motorway_link", "trunk", "trunk_link"}
        slow = {"footway", "cycleway", "path", "steps", "pedestrian", "track"}
        # Brussels has both kinds: the networks leave them out.
        assert fast & everything and slow & everything, everything
        assert not (await kinds("bike")) & fast and (await kinds("bike")) & slow
        assert not (await kinds("van")) & slow and (await kinds("van")) & fast
    finally:
        await connection.close()


def test_a_straight_line_is_1_3_times_the_great_circle_at_the_vehicle_s_speed() -> None:
    # Tour & Taxis to the Grand-Place: about 2.2 km as the crow flies.
    points = [(4.3467, 50.8660), (4.3525, 50.8467)]
    crow_m = haversine_m(points)[0, 1]
    bike = straight_line(points, Profile("bike", 15))
    assert bike.distance[0, 1] == round(crow_m * 1.3)
    assert bike.duration[0, 1] == math.ceil(crow_m * 1.3 / (15 / 3.6))
    assert bike.distance[0, 0] == bike.duration[0, 0] == 0


async def test_a_road_network_that_cannot_answer_in_time_fails_the_plan_saying_so(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory, database_url: str
) -> None:
    carrier = await make_org("carrier")
    started = await client.post(
        "/v1/route-plans", json={**plan_body(1), "matrix": "road"}, headers=carrier.headers
    )
    assert started.status_code == 202, started.text
    # Another session holds the bike network: the distances wait for it until their deadline,
    # the plan's time limit but at least 10 s.
    holder = await connect_raw(database_url)
    held = holder.transaction()
    await held.start()
    try:
        await holder.execute("LOCK TABLE roads.edges_bike IN ACCESS EXCLUSIVE MODE")
        await run_worker()
    finally:
        await held.rollback()
        await holder.close()
    plan = (await client.get(started.headers["location"], headers=carrier.headers)).json()
    assert plan["status"] == "failed" and plan["result"] is None, plan
    assert "longer than 10 s" in plan["error"] and "straight_line" in plan["error"]
