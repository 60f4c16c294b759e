"""A global matching run through the API and a real procrastinate worker; a run of 400 offers
by 400 requests in a worker process of its own, which goes on beating and running its other
jobs meanwhile."""

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.matching_runs import service as run_service
from testbed.workers import WorkerProcess, eventually
from tests.conftest import (
    OrgFactory,
    Receiver,
    WorkerRun,
    assert_problem,
    connect_raw,
    offer_body,
    point,
    request_body,
    subscribe,
)

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


async def test_a_run_leaves_out_the_pairs_proposed_by_hand_before_it_or_while_it_allocates(
    client: httpx.AsyncClient,
    run_worker: WorkerRun,
    make_org: OrgFactory,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    supplier, consumer, region = (
        await make_org("supplier"),
        await make_org("consumer"),
        await make_org("admin"),
    )
    await subscribe(client, consumer, receiver.url, ["match.proposed"])

    async def pair(km: float) -> dict[str, str]:
        """An offer and a request at the same place, 5 km from the other pairs and out of
        their reach: each is the other's only candidate."""
        offer = await client.post(
            "/v1/offers",
            json=offer_body(material="101112", location=km_east(km), **AVAILABLE),
            headers=supplier.headers,
        )
        request = await client.post(
            "/v1/requests",
            json=request_body(material="1011", location=km_east(km), max_distance_km=2, **NEEDED),
            headers=consumer.headers,
        )
        return {"offer_id": offer.json()["id"], "request_id": request.json()["id"]}

    before, meanwhile, left = await pair(-40), await pair(-45), await pair(-50)
    by_hand = [await client.post("/v1/matches", json=before, headers=consumer.headers)]
    # The hand proposal of `meanwhile` lands after the run read the matches there are, while
    # its child process allocates.
    allocate = run_service.call_in_child_process

    async def allocate_while_a_side_proposes(*args: Any, **kwargs: Any) -> Any:
        planned = await allocate(*args, **kwargs)
        by_hand.append(await client.post("/v1/matches", json=meanwhile, headers=consumer.headers))
        return planned

    monkeypatch.setattr(run_service, "call_in_child_process", allocate_while_a_side_proposes)
    started = await client.post(
        "/v1/matching/runs",
        json={"material": "1011", "near": km_east(-45)["coordinates"], "radius_km": 10},
        headers=region.headers,
    )
    assert started.status_code == 202, started.text
    await run_worker()

    assert [p.status_code for p in by_hand] == [201, 201], [p.text for p in by_hand]
    run = (await client.get(started.headers["location"], headers=region.headers)).json()
    assert run["status"] == "done", run
    assert [(m["offer_id"], m["request_id"]) for m in run["matches"]] == [
        (left["offer_id"], left["request_id"])
    ]
    assert run["totals"]["matches"] == 1 and run["totals"]["matched_kg"] == 5000
    for proposed, made in zip((before, meanwhile), by_hand, strict=True):
        listed = await client.get("/v1/matches", params=proposed, headers=consumer.headers)
        assert [m["id"] for m in listed.json()["items"]] == [made.json()["id"]]
    await run_worker()
    announced = sorted(e["data"]["match"]["id"] for e in receiver.events("match.proposed"))
    assert announced == sorted([*(p.json()["id"] for p in by_hand), run["matches"][0]["id"]])


SIDE = 400
# Offers of 1 to 8 t and requests of 1 to 6 t within a few hundred metres of each other, every
# one compatible with every other: SIDE x SIDE pairs.
SEED_OFFERS = """
INSERT INTO offers (id, organization_id, location, material, title, quantity_value, quantity_unit,
                    remaining_value, mass_kg, available_from, available_until, condition, status,
                    version, created_at, updated_at)
SELECT gen_random_uuid(), $1, ST_SetSRID(ST_MakePoint($2 + (i % 20) * 0.0002,
                                                      $3 + (i / 20) * 0.0002), 4326),
       '170101', 'run offer', 1 + i % 8, 't', 1 + i % 8, (1 + i % 8) * 1000,
       DATE '2027-06-01', DATE '2027-06-30', 'A', 'open', 1, now(), now()
  FROM generate_series(0, $4 - 1) AS i
"""
SEED_REQUESTS = """
INSERT INTO material_requests (id, organization_id, location, material, quantity_value,
                               quantity_unit, remaining_value, mass_kg, needed_from, needed_by,
                               max_distance_km, min_condition, status, version, created_at,
                               updated_at)
SELECT gen_random_uuid(), $1, ST_SetSRID(ST_MakePoint($2 - (i % 20) * 0.0002,
                                                      $3 - (i / 20) * 0.0002), 4326),
       '1701', 1 + i % 6, 't', 1 + i % 6, (1 + i % 6) * 1000,
       DATE '2027-06-01', DATE '2027-06-30', 5, 'C', 'open', 1, now(), now()
  FROM generate_series(0, $4 - 1) AS i
"""
# 35 km east of the other tests' listings, out of their reach.
RUN_PLACE = (round(ORIGIN[0] + 35 * 0.014184, 6), ORIGIN[1])
LOOP_HELD = re.compile(r"event loop held for (\d+) ms")


async def test_a_run_of_400_by_400_leaves_its_worker_beating_and_working(
    client: httpx.AsyncClient,
    make_org: OrgFactory,
    receiver: Receiver,
    database_url: str,
    tmp_path: Path,
) -> None:
    supplier, consumer, region = (
        await make_org("supplier"),
        await make_org("consumer"),
        await make_org("admin"),
    )
    conn = await connect_raw(database_url)
    try:
        for sql, org in ((SEED_OFFERS, supplier), (SEED_REQUESTS, consumer)):
            await conn.execute(sql, uuid.UUID(org.id), *RUN_PLACE, SIDE)
        # The other job of the run's worker: a new offer that fits a request of the consumer
        # (another family than the run's) is announced to its webhook while the run runs.
        await subscribe(client, consumer, receiver.url, ["offer.candidate_found"])
        elsewhere = km_east(-30)
        request = await client.post(
            "/v1/requests",
            json=request_body(material="1501", location=elsewhere, **NEEDED),
            headers=consumer.headers,
        )
        assert request.status_code == 201, request.text
        started = await client.post(
            "/v1/matching/runs",
            json={"material": "1701", "near": list(RUN_PLACE), "radius_km": 3},
            headers=region.headers,
        )
        assert started.status_code == 202, started.text
        run_url = started.headers["location"]

        worker = WorkerProcess(database_url, tmp_path / "worker.log").start()
        try:

            async def run_status() -> dict[str, Any]:
                body: dict[str, Any] = (await client.get(run_url, headers=region.headers)).json()
                return body

            await eventually(lambda: _status_is(run_status, "running"), within_s=60, every_s=0.05)
            offer = await client.post(
                "/v1/offers",
                json=offer_body(material="150101", location=elsewhere, **AVAILABLE),
                headers=supplier.headers,
            )
            assert offer.status_code == 201, offer.text
            # The heartbeat procrastinate records for the worker, read all along the run.
            oldest_beat_s = 0.0
            run: dict[str, Any] = {}
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                beat_age = await conn.fetchval(
                    "SELECT extract(epoch FROM max(now() - last_heartbeat)) "
                    "FROM procrastinate_workers"
                )
                oldest_beat_s = max(oldest_beat_s, float(beat_age or 0))
                run = await run_status()
                if run["status"] not in ("queued", "running"):
                    break
                await asyncio.sleep(0.1)
            finished_at = datetime.fromisoformat(run["finished_at"]).timestamp()
            found = [r for r in receiver.received if b"offer.candidate_found" in r["body"]]
        finally:
            worker.stop()
        print(worker.log())
    finally:
        await conn.execute(
            "UPDATE offers SET status = 'closed' WHERE organization_id = $1",
            uuid.UUID(supplier.id),
        )
        await conn.execute(
            "UPDATE material_requests SET status = 'closed' WHERE organization_id = $1",
            uuid.UUID(consumer.id),
        )
        await conn.close()

    assert run["status"] == "done", run
    totals = run["totals"]
    assert totals["candidate_graph"] == {"offers": SIDE, "requests": SIDE, "arcs": SIDE * SIDE}
    # Every pair pays for its transport: all the requests' mass is matched (less than the
    # offers').
    requested_kg = sum((1 + i % 6) * 1000 for i in range(SIDE))
    assert totals["matched_kg"] == requested_kg and len(run["matches"]) == totals["matches"]
    # The other job ran while the run did.
    assert found and found[0]["at"] < finished_at, (found, run)
    # The worker kept beating (every 0.5 s; its jobs are taken over after 3 s of silence) and
    # its event loop was never held for long: the old run held it 4 to 5 s.
    assert oldest_beat_s < 2.0, oldest_beat_s
    held_ms = [int(ms) for ms in LOOP_HELD.findall(worker.log())]
    assert max(held_ms, default=0) < 1000, held_ms


async def _status_is(read: Callable[[], Awaitable[dict[str, Any]]], status: str) -> bool:
    return (await read())["status"] == status
