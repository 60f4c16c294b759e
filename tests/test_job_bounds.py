"""Bounds on the work one request can queue: the size of a route plan, and an organization's
quota of plans and matching runs queued or running at once (2 with the test settings).

The plans these tests queue are small and valid, with a short time limit, and each test runs
the worker before it ends, so that no job of theirs is left to the tests after them."""

import uuid
from typing import Any

import httpx

from tests.conftest import OrgFactory, WorkerRun, assert_problem, point
from tests.overlap import overlapping

DAY = "2026-12-01"
TIR = [4.3467, 50.8660]
# A point with no request around it: the matching runs of these tests propose nothing.
NOWHERE = {"near": [4.4200, 50.7700], "radius_km": 0.01}


def parcel(k: int = 0) -> dict[str, Any]:
    return {
        "reference": f"parcel-{k}",
        "pickup": {
            "location": point([4.3500, 50.8700]),
            "window_from": f"{DAY}T08:00:00+01:00",
            "window_until": f"{DAY}T12:00:00+01:00",
        },
        "delivery": {
            "location": point([4.3540, 50.8510]),
            "window_from": f"{DAY}T09:00:00+01:00",
            "window_until": f"{DAY}T17:00:00+01:00",
        },
        "load_kg": 10,
    }


def bike(speed_kmh: float | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Bike", "type": "cargo_bike", "start": point(TIR)}
    if speed_kmh is not None:
        body["speed_kmh"] = speed_kmh
    return body


def small_plan(**overrides: Any) -> dict[str, Any]:
    return {
        "date": DAY,
        "vehicles": [bike()],
        "shipments": [parcel()],
        "time_limit_s": 0.5,
        **overrides,
    }


def unknown_ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


async def test_a_plan_takes_at_most_500_shipments_counted_before_any_is_loaded(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    # Ids of no shipment: loaded, the first would answer 404.
    too_many = small_plan(shipments=[], shipment_ids=unknown_ids(501))
    body = assert_problem(
        await client.post("/v1/route-plans", json=too_many, headers=carrier.headers),
        422,
        "shipments",
        "max_shipments",
    )
    assert "at most 500 shipments (given 501)" in body["detail"]
    # Ids and inline shipments count together.
    together = small_plan(shipments=[parcel()], shipment_ids=unknown_ids(500))
    assert_problem(
        await client.post("/v1/route-plans", json=together, headers=carrier.headers),
        422,
        "shipments",
        "max_shipments",
    )


async def test_a_plan_takes_at_most_100_vehicles_counted_before_any_is_loaded(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    too_many = small_plan(vehicles=[], vehicle_ids=unknown_ids(101))
    body = assert_problem(
        await client.post("/v1/route-plans", json=too_many, headers=carrier.headers),
        422,
        "vehicles",
        "max_vehicles",
    )
    assert "at most 100 vehicles (given 101)" in body["detail"]
    together = small_plan(vehicles=[bike()], vehicle_ids=unknown_ids(100))
    assert_problem(
        await client.post("/v1/route-plans", json=together, headers=carrier.headers),
        422,
        "vehicles",
        "max_vehicles",
    )


async def test_a_plan_takes_at_most_8_travel_profiles_of_the_vehicles_as_planned(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    # A stored van drives the van network at its type's speed: one profile.
    van = await client.post(
        "/v1/vehicles",
        json={"name": "Van", "type": "van", "start": point(TIR)},
        headers=carrier.headers,
    )
    assert van.status_code == 201, van.text
    seven_speeds = [bike(speed) for speed in range(10, 17)]
    nine = small_plan(vehicle_ids=[van.json()["id"]], vehicles=[*seven_speeds, bike(17)])
    body = assert_problem(
        await client.post("/v1/route-plans", json=nine, headers=carrier.headers),
        422,
        "vehicles",
        "max_profiles",
    )
    assert "at most 8 travel profiles" in body["detail"] and "given 9" in body["detail"]
    assert "van@22.0" in body["detail"] and "bike@17.0" in body["detail"]

    # Eight profiles, however many vehicles share them, are accepted and planned.
    eight = small_plan(vehicle_ids=[van.json()["id"]], vehicles=[*seven_speeds, bike(10)])
    started = await client.post("/v1/route-plans", json=eight, headers=carrier.headers)
    assert started.status_code == 202, started.text
    await run_worker()
    plan = (await client.get(started.headers["location"], headers=carrier.headers)).json()
    assert plan["status"] == "done", plan


async def test_an_organization_has_at_most_2_plans_or_runs_queued_or_running(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory
) -> None:
    org, other = await make_org("carrier", "admin"), await make_org("carrier")
    for _ in range(2):
        started = await client.post("/v1/route-plans", json=small_plan(), headers=org.headers)
        assert started.status_code == 202, started.text
        assert started.json()["status"] == "queued"

    retried = {**org.headers, "Idempotency-Key": f"third-plan-{uuid.uuid4()}"}
    refused = await client.post("/v1/route-plans", json=small_plan(), headers=retried)
    body = assert_problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert body["detail"].startswith(
        "Your organization has 2 plans or matching runs queued or running"
    )
    assert body["max_active_jobs"] == 2
    # Matching runs count with the plans.
    assert_problem(await client.post("/v1/matching/runs", json=NOWHERE, headers=org.headers), 429)
    # Another organization has a quota of its own.
    theirs = await client.post("/v1/route-plans", json=small_plan(), headers=other.headers)
    assert theirs.status_code == 202, theirs.text

    await run_worker()
    # Once the plans are done the slots are free again, and a 429 kept no Idempotency-Key:
    # its retry is planned rather than answered the 429 again.
    again = await client.post("/v1/route-plans", json=small_plan(), headers=retried)
    assert again.status_code == 202, again.text
    assert "idempotent-replayed" not in again.headers
    run = await client.post("/v1/matching/runs", json=NOWHERE, headers=org.headers)
    assert run.status_code == 202, run.text
    # A plan and a run: the quota is reached again.
    assert_problem(
        await client.post("/v1/route-plans", json=small_plan(), headers=org.headers), 429
    )
    await run_worker()


async def test_the_quota_holds_under_concurrent_requests(
    client: httpx.AsyncClient, run_worker: WorkerRun, make_org: OrgFactory, database_url: str
) -> None:
    carrier = await make_org("carrier")
    # Each request counts the organization's jobs under its advisory lock (app.jobs.quota):
    # the six wait on it together, then count one after the other.
    answers = await overlapping(
        database_url,
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        f"jobs:{carrier.id}",
        requests=[
            client.post("/v1/route-plans", json=small_plan(), headers=carrier.headers)
            for _ in range(6)
        ],
    )
    assert sorted(a.status_code for a in answers) == [202, 202, 429, 429, 429, 429]
    for refused in (a for a in answers if a.status_code == 429):
        assert_problem(refused, 429)
        assert int(refused.headers["retry-after"]) >= 1
    await run_worker()
