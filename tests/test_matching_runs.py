"""A global matching run through the API and a real procrastinate worker."""

from typing import Any

import httpx
import pytest

from app.matching_runs import service as run_service
from tests.conftest import (
    OrgFactory,
    Receiver,
    WorkerRun,
    assert_problem,
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
