"""A global matching run through the API and a real procrastinate worker."""

import httpx

from tests.conftest import OrgFactory, WorkerRun, assert_problem, offer_body, point, request_body

ORIGIN = (4.3525, 50.8467)
AVAILABLE = {"available_from": "2027-06-01", "available_until": "2027-06-30"}
NEEDED = {"needed_from": "2027-06-01", "needed_by": "2027-06-30"}


def km_east(km: float) -> dict[str, object]:
    return point([round(ORIGIN[0] + km * 0.014184, 6), ORIGIN[1]])


async def test_a_run_beats_nearest_first_and_only_proposes(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory
) -> None:
    supplier, consumer, region = (
        await make_org("supplier"),
        await make_org("consumer"),
        await make_org("admin"),
    )

    async def offer(km: float) -> str:
        body = offer_body(
            material="101208",
            location=km_east(km),
            quantity={"value": 10, "unit": "t"},
            **AVAILABLE,
        )
        return str(
            (await client.post("/v1/offers", json=body, headers=supplier.headers)).json()["id"]
        )

    async def request(km: float, max_distance_km: float) -> str:
        body = request_body(
            material="1012",
            location=km_east(km),
            quantity={"value": 10, "unit": "t"},
            max_distance_km=max_distance_km,
            **NEEDED,
        )
        return str(
            (await client.post("/v1/requests", json=body, headers=consumer.headers)).json()["id"]
        )

    # A is 0.5 km from r1 and 2 km from r2; B is 3 km from r1 and out of r2's reach. Nearest
    # first would give A to r1 and leave r2 and B unmatched.
    a, b = await offer(0), await offer(3.5)
    r1, r2 = await request(0.5, 5), await request(-2, 2.5)

    started = await client.post(
        "/v1/matching/runs",
        json={"material": "1012", "near": list(ORIGIN), "radius_km": 10},
        headers=region.headers,
    )
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    location = started.headers["location"]

    await run_worker()

    run = (await client.get(location, headers=region.headers)).json()
    assert run["status"] == "done", run
    pairs = {(m["offer_id"], m["request_id"]): m for m in run["matches"]}
    assert set(pairs) == {(a, r2), (b, r1)}
    assert all(
        m["quantity"] == {"value": 10.0, "unit": "t"} and m["proposed_by"] == "run"
        for m in pairs.values()
    )
    totals = run["totals"]
    assert totals["matches"] == 2 and totals["matched_kg"] == 20_000
    assert totals["candidate_graph"] == {"offers": 2, "requests": 2, "arcs": 3}
    assert totals["co2_kg"] > 0 and totals["tonne_km"] > 0

    # Proposals reserve nothing until both sides accept.
    offer_a = (await client.get(f"/v1/offers/{a}", headers=supplier.headers)).json()
    assert offer_a["remaining"]["value"] == 10
    match_id = pairs[(a, r2)]["id"]
    for org in (supplier, consumer):
        assert (
            await client.post(f"/v1/matches/{match_id}/accept", headers=org.headers)
        ).status_code == 200
    assert (await client.get(f"/v1/offers/{a}", headers=supplier.headers)).json()["remaining"][
        "value"
    ] == 0

    # A second run does not propose the pairs already proposed again.
    again = await client.post(
        "/v1/matching/runs",
        json={"material": "1012", "near": list(ORIGIN), "radius_km": 10},
        headers=region.headers,
    )
    await run_worker()
    second = (await client.get(again.headers["location"], headers=region.headers)).json()
    assert second["status"] == "done" and second["matches"] == []


async def test_runs_are_for_the_admin_role_and_checked(
    client: httpx.AsyncClient, make_org: OrgFactory, run_worker: WorkerRun
) -> None:
    supplier, region = await make_org("supplier"), await make_org("admin")
    assert_problem(await client.post("/v1/matching/runs", json={}, headers=supplier.headers), 403)
    assert_problem(
        await client.post("/v1/matching/runs", json={"radius_km": 5}, headers=region.headers),
        422,
        "radius_km",
        "requires_near",
    )
    assert_problem(
        await client.post("/v1/matching/runs", json={"material": "99"}, headers=region.headers),
        422,
        "material",
        "ewc_code_exists",
    )
    started = await client.post("/v1/matching/runs", json={}, headers=region.headers)
    assert_problem(await client.get(started.headers["location"], headers=supplier.headers), 404)
    # A run left queued would propose on the listings of whichever test runs the worker next.
    await run_worker()
