"""A route plan cancelled by its owner, with a real worker process: a queued plan is cancelled
at once and its job, when a worker takes it, does nothing; a running one stops its search
(long before its time limit) and is `cancelled` with no result; the worker goes on to the next
plan. While it runs, a plan says its phase, how long it has run and the best plan the engines
have found so far, which only improves and ends as the plan answered; road distances slowed by
another session leave the search half of the time limit."""

import asyncio
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from testbed.workers import WorkerProcess, eventually
from tests.conftest import OrgFactory, assert_problem, connect_raw, plan_body

# Far longer than the test waits: a plan that ends on its own has not been cancelled.
LONG_S = 120


async def _plan(client: httpx.AsyncClient, headers: dict[str, str], time_limit_s: float) -> str:
    started = await client.post("/v1/route-plans", json=plan_body(time_limit_s), headers=headers)
    assert started.status_code == 202, started.text
    return str(started.json()["id"])


async def test_a_plan_is_cancelled_queued_or_running_and_the_worker_goes_on(
    client: httpx.AsyncClient, make_org: OrgFactory, database_url: str, tmp_path: Path
) -> None:
    carrier, stranger = await make_org("carrier"), await make_org("carrier")

    queued = await _plan(client, carrier.headers, LONG_S)
    assert_problem(
        await client.post(f"/v1/route-plans/{queued}/cancel", headers=stranger.headers), 404
    )
    cancelled = await client.post(f"/v1/route-plans/{queued}/cancel", headers=carrier.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancel_requested_at"]
    again = await client.post(f"/v1/route-plans/{queued}/cancel", headers=carrier.headers)
    assert "cancelled" in assert_problem(again, 409)["detail"]

    running = await _plan(client, carrier.headers, LONG_S)
    worker = WorkerProcess(database_url, tmp_path / "worker.log").start()
    try:

        async def read(plan_id: str) -> dict[str, Any]:
            response = await client.get(f"/v1/route-plans/{plan_id}", headers=carrier.headers)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        async def searching() -> dict[str, Any] | None:
            plan = await read(running)
            progress = plan["progress"]
            return plan if progress and progress["phase"] == "searching" else None

        plan = await eventually(searching, within_s=60)
        progress = plan["progress"]
        assert plan["status"] == "running" and plan["started_at"] and progress["phase_started_at"]
        # The search began within the attempt, and the attempt's clock runs: a later read
        # says it has run longer.
        started = datetime.fromisoformat(plan["started_at"])
        assert started <= datetime.fromisoformat(progress["phase_started_at"]), plan
        assert 0 < progress["search_s"] <= LONG_S

        async def ran_longer() -> dict[str, Any] | None:
            later: dict[str, Any] = (await read(running))["progress"]
            return later if later["elapsed_s"] > progress["elapsed_s"] else None

        assert (await eventually(ran_longer, within_s=30))["phase"] == "searching"

        async def best_so_far() -> dict[str, Any] | None:
            best: dict[str, Any] | None = (await read(running))["progress"]["best_so_far"]
            return best

        # Four parcels for two bikes: every engine finds a plan serving them all at once.
        best = await eventually(best_so_far, within_s=30)
        assert best["unassigned"] == 0 and best["vehicles"] in (1, 2) and best["km"] > 0
        assert best["engine"] in ("pyvrp", "ortools") and best["compared_plan"] is None

        asked = await client.post(f"/v1/route-plans/{running}/cancel", headers=carrier.headers)
        assert asked.status_code == 202 and asked.json()["status"] == "running"

        async def stopped() -> dict[str, Any] | None:
            plan = await read(running)
            return plan if plan["status"] == "cancelled" else None

        # Within a fraction of the time limit: the search was stopped, not run out.
        plan = await eventually(stopped, within_s=LONG_S / 4)
        assert plan["result"] is None and plan["progress"] is None and plan["finished_at"]
        assert plan["attempts"] == 1 and plan["error"] is None
        assert "cancelled by its owner" in worker.log()

        # The worker goes on: the next plan is done, and the queued plan cancelled before it
        # was taken stays cancelled.
        following = await _plan(client, carrier.headers, 4)
        seen: list[dict[str, Any]] = []

        async def done() -> dict[str, Any] | None:
            plan = await read(following)
            if plan["progress"] and plan["progress"]["best_so_far"]:
                seen.append(plan["progress"]["best_so_far"])
            return plan if plan["status"] == "done" else None

        result = (await eventually(done, within_s=60, every_s=0.1))["result"]
        assert seen, "the plan was never seen running with a best plan so far"
        ranks = [(s["unassigned"], s["vehicles"], s["km"]) for s in seen]
        assert ranks == sorted(ranks, reverse=True), "a later best plan so far was worse"
        kpis = result["kpis"]
        answered = (len(result["unassigned"]), kpis["vehicles"], kpis["km"])
        assert answered[:2] < ranks[-1][:2] or (
            answered[:2] == ranks[-1][:2] and answered[2] <= ranks[-1][2] + 0.1
        ), (answered, ranks)
        assert (await read(queued))["status"] == "cancelled"
        # A plan that ended stays as it ended.
        late = await client.post(f"/v1/route-plans/{following}/cancel", headers=carrier.headers)
        assert "done" in assert_problem(late, 409)["detail"]
        assert (await read(following))["status"] == "done"
        assert worker.process is not None and worker.process.poll() is None
    finally:
        worker.stop()
    missing = await client.post(f"/v1/route-plans/{uuid.uuid4()}/cancel", headers=carrier.headers)
    assert_problem(missing, 404)


async def test_slow_road_distances_leave_the_search_half_of_the_time_limit(
    client: httpx.AsyncClient, make_org: OrgFactory, database_url: str, tmp_path: Path
) -> None:
    carrier = await make_org("carrier")
    time_limit_s = 8
    # Another session holds the bike network for 6 s of the plan's 8: the distances take them,
    # and the search still gets half of the limit.
    holder = await connect_raw(database_url)
    held = holder.transaction()
    await held.start()
    await holder.execute("LOCK TABLE roads.edges_bike IN ACCESS EXCLUSIVE MODE")
    released = False
    worker = WorkerProcess(database_url, tmp_path / "worker.log").start()
    try:
        started = await client.post(
            "/v1/route-plans",
            json={**plan_body(time_limit_s), "matrix": "road"},
            headers=carrier.headers,
        )
        assert started.status_code == 202, started.text
        path = started.headers["location"]

        async def phase() -> str | None:
            plan = (await client.get(path, headers=carrier.headers)).json()
            progress = plan["progress"] or {}
            return str(progress.get("phase") or "") or None

        assert await eventually(phase, within_s=60) == "road_distances"
        await asyncio.sleep(6)
        await held.rollback()
        released = True

        async def searching() -> dict[str, Any] | None:
            plan: dict[str, Any] = (await client.get(path, headers=carrier.headers)).json()
            progress = plan["progress"] or {}
            return plan if progress.get("phase") == "searching" else None

        plan = await eventually(searching, within_s=60)
        assert plan["progress"]["search_s"] == time_limit_s / 2, plan["progress"]

        async def done() -> dict[str, Any] | None:
            plan: dict[str, Any] = (await client.get(path, headers=carrier.headers)).json()
            return plan if plan["status"] in ("done", "failed") else None

        assert (await eventually(done, within_s=60))["status"] == "done"
    finally:
        if not released:
            await held.rollback()
        await holder.close()
        worker.stop()
