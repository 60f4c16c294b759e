"""Jobs that survive: real worker processes killed with signals, a PostgreSQL restarted with
`pg_ctl`, and a plan that runs out of memory, on a cluster of their own (so that restarting
it leaves the rest of the suite alone)."""

import asyncio
import signal
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from app.listings.announcements import ANNOUNCE_NEW_OFFER
from app.main import create_app
from app.matching_runs.service import RUN_MATCHING
from app.route_plans.service import SOLVE_ROUTE_PLAN
from app.settings import PROJECT_ROOT
from app.webhooks.attempts import DELIVER
from testbed.workers import WorkerProcess, eventually
from tests.conftest import (
    LOOPBACK_RECEIVERS,
    PLAN_SHOPS,
    SECRET,
    TOUR_TAXIS,
    Org,
    Receiver,
    SocketReceiver,
    answer_trickling,
    assert_problem,
    connect_raw,
    create_database,
    create_org,
    load_reference,
    migrate,
    offer_body,
    plan_body,
    point,
    remove_cluster,
    request_body,
    settings_for,
    subscribe,
    superuser_url,
)

CLUSTER = PROJECT_ROOT / ".data" / "test-pg-faults"
PG = str(PROJECT_ROOT / "scripts" / "pg.sh")
SHOPS = PLAN_SHOPS


@dataclass
class Faults:
    """The cluster of these tests, an app on it and a way to start workers."""

    url: str
    app: FastAPI
    client: httpx.AsyncClient
    logs: Path

    def worker(self, *args: str, **settings: Any) -> WorkerProcess:
        log = self.logs / f"worker-{uuid.uuid4().hex[:6]}.log"
        return WorkerProcess(self.url, log, *args, **settings)

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await connect_raw(self.url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()


def _pg(*args: str) -> str:
    return subprocess.run([PG, *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
async def faults(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Faults]:
    subprocess.run([PG, "stop", str(CLUSTER)], check=False)
    remove_cluster(CLUSTER)
    server = superuser_url(CLUSTER, _pg("start", str(CLUSTER), "--throwaway"))
    url = await create_database(server, "boucle")
    migrate(url)
    load_reference(url, "reference")
    app = create_app(
        settings_for(
            url,
            webhook_private_hosts=LOOPBACK_RECEIVERS,
            max_active_jobs_per_organization=100,
        )
    )
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://boucle.test") as c:
                yield Faults(url, app, c, tmp_path_factory.mktemp("workers"))
    finally:
        subprocess.run([PG, "stop", str(CLUSTER)], check=False)
        remove_cluster(CLUSTER)


@pytest.fixture
def workers(faults: Faults) -> Iterator[list[WorkerProcess]]:
    """Workers a test starts; whatever is left of them is stopped after it, and their logs
    printed (pytest shows them when the test failed)."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
        print(f"--- worker {worker.pid} ---\n{worker.log()}")


async def start_plan(faults: Faults, org: Org, time_limit_s: float) -> str:
    started = await faults.client.post(
        "/v1/route-plans", json=plan_body(time_limit_s), headers=org.headers
    )
    assert started.status_code == 202, started.text
    return str(started.headers["location"])


async def read(faults: Faults, org: Org, location: str) -> dict[str, Any]:
    response = await faults.client.get(location, headers=org.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def status_is(faults: Faults, org: Org, location: str, *statuses: str) -> dict[str, Any]:
    body = await read(faults, org, location)
    return body if body["status"] in statuses else {}


def assert_served(plan: dict[str, Any]) -> None:
    assert plan["status"] == "done", plan
    served = {s["shipment_id"] for r in plan["result"]["routes"] for s in r["stops"]}
    assert {f"parcel-{k}" for k in range(4)} <= served and plan["result"]["unassigned"] == []


def descendants(pid: int) -> set[int]:
    """The live processes under `pid`, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    def running(pid: int) -> bool:
        try:
            return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[
                0
            ] != "Z"
        except OSError:
            return False

    return {pid for pid in pids if running(pid)}


async def test_a_plan_whose_worker_is_killed_mid_search_is_planned_by_the_next(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    carrier = await create_org(faults.client, "carrier")
    location = await start_plan(faults, carrier, time_limit_s=6)
    # One plan slot on two cores: the plan's engines search in two processes of their own.
    first = faults.worker(worker_plan_concurrency=1, worker_plan_cores=2).start()
    workers.append(first)
    await eventually(lambda: status_is(faults, carrier, location, "running"))
    await asyncio.sleep(1)
    # The fork server, the plan's process and the engines searching in processes of theirs.
    searching = await eventually(
        lambda: (found := descendants(first.pid)) and len(found) >= 4 and found
    )
    first.signal(signal.SIGKILL)
    first.wait()
    assert (await read(faults, carrier, location))["status"] == "running"
    # None of them searches on for a worker that is gone.
    await eventually(lambda: not alive(searching), 30)

    workers.append(faults.worker().start())
    plan = await eventually(lambda: status_is(faults, carrier, location, "done", "failed"))
    assert_served(plan)
    assert plan["attempts"] == 2 and plan["error"] is None


async def test_a_plan_stopped_with_its_worker_goes_back_to_the_queue(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    carrier = await create_org(faults.client, "carrier")
    location = await start_plan(faults, carrier, time_limit_s=30)
    first = faults.worker().start()
    workers.append(first)
    await eventually(lambda: status_is(faults, carrier, location, "running"))
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
    plan = await read(faults, carrier, location)
    assert plan["status"] == "queued" and plan["attempts"] == 1, plan

    workers.append(faults.worker().start())
    plan = await eventually(lambda: status_is(faults, carrier, location, "done", "failed"), 120)
    assert_served(plan)
    assert plan["attempts"] == 2


async def test_a_plan_that_ends_within_the_grace_period_is_done_by_the_stopped_worker(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    carrier = await create_org(faults.client, "carrier")
    location = await start_plan(faults, carrier, time_limit_s=3)
    worker = faults.worker(worker_shutdown_grace_seconds=30).start()
    workers.append(worker)
    await eventually(lambda: status_is(faults, carrier, location, "running"))
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    plan = await read(faults, carrier, location)
    assert_served(plan)
    assert plan["status"] == "done" and plan["attempts"] == 1, plan


async def test_a_plan_that_runs_out_of_memory_fails_after_three_attempts_and_says_why(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    carrier = await create_org(faults.client, "carrier")

    # 500 parcels (the most a plan takes) between 1000 doors around Tour & Taxis: the travel
    # matrices of 1000 places weigh 8 MB each and each engine makes its own, far beyond the
    # planner's 1 MB. (What the process had left free may still hold PyVRP's; its first
    # local search of 500 pairs then outlasts the time it is given, and it is stopped.)
    def near(k: int, east: float) -> dict[str, Any]:
        return point([TOUR_TAXIS[0] + east + 0.0004 * (k % 25), TOUR_TAXIS[1] - 0.0004 * (k // 25)])

    body = plan_body(1)
    parcel = body["shipments"][0]
    body["shipments"] = [
        {
            **parcel,
            "reference": f"parcel-{k}",
            "pickup": {**parcel["pickup"], "location": near(k, 0.0)},
            "delivery": {**parcel["delivery"], "location": near(k, 0.0002)},
        }
        for k in range(500)
    ]
    started = await faults.client.post("/v1/route-plans", json=body, headers=carrier.headers)
    assert started.status_code == 202, started.text
    location = str(started.headers["location"])
    workers.append(faults.worker(planner_memory_limit_mb=1).start())
    plan = await eventually(lambda: status_is(faults, carrier, location, "done", "failed"))
    assert plan["status"] == "failed" and plan["attempts"] == 3, plan
    assert plan["error"].startswith(
        "The planner stopped 3 times; the last attempt ran out of memory"
    )
    # Only the planner's process died: the same worker plans the next one.
    assert workers[0].process is not None and workers[0].process.poll() is None


async def offer_and_request(faults: Faults, material: str) -> tuple[Org, Org]:
    supplier, consumer = (
        await create_org(faults.client, "supplier"),
        await create_org(faults.client, "consumer"),
    )
    offered = await faults.client.post(
        "/v1/offers",
        json=offer_body(material=f"{material}01", location=point(SHOPS[0])),
        headers=supplier.headers,
    )
    assert offered.status_code == 201, offered.text
    requested = await faults.client.post(
        "/v1/requests",
        json=request_body(material=material, location=point(SHOPS[1])),
        headers=consumer.headers,
    )
    assert requested.status_code == 201, requested.text
    return supplier, consumer


async def test_a_matching_run_whose_worker_is_killed_proposes_once_on_the_next(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    await offer_and_request(faults, "1912")
    region = await create_org(faults.client, "admin")
    blocker = await connect_raw(faults.url)
    # Holding the matches table keeps the run in the middle of writing its proposals.
    transaction = blocker.transaction()
    await transaction.start()
    await blocker.execute("LOCK TABLE matches IN SHARE MODE")
    started = await faults.client.post(
        "/v1/matching/runs", json={"material": "1912"}, headers=region.headers
    )
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    first = faults.worker().start()
    workers.append(first)
    await eventually(lambda: status_is(faults, region, location, "running"))
    await asyncio.sleep(1)
    first.signal(signal.SIGKILL)
    first.wait()
    await transaction.rollback()
    await blocker.close()

    workers.append(faults.worker().start())
    run = await eventually(lambda: status_is(faults, region, location, "done", "failed"))
    assert run["status"] == "done" and run["attempts"] == 2, run
    assert run["totals"]["matches"] == len(run["matches"]) >= 1
    pairs = await faults.sql(
        "SELECT offer_id, request_id, count(*) AS n FROM matches WHERE run_id = $1 "
        "GROUP BY offer_id, request_id",
        uuid.UUID(run["id"]),
    )
    assert [p["n"] for p in pairs] == [1] * len(run["matches"])


async def kill_once_committed(
    faults: Faults, workers: list[WorkerProcess], task_name: str, argument: str, value: str
) -> None:
    """Runs the job (`task_name`, its `argument` being `value`) in a worker of its own until
    the job has committed its work and its events and the worker records that it ended, and
    kills the worker there (SIGKILL): the work is done and the queue does not know it, so the
    next worker runs the job again. The job must write events (someone subscribes to them)."""
    events, job_row = await connect_raw(faults.url), await connect_raw(faults.url)
    try:
        # Holds the job before it writes its events, and so before it commits.
        holding_events = events.transaction()
        await holding_events.start()
        await events.execute("LOCK TABLE webhook_events IN SHARE MODE")
        worker = faults.worker().start()
        workers.append(worker)

        async def running() -> int | None:
            rows = await faults.sql(
                "SELECT id FROM procrastinate_jobs "
                "WHERE task_name = $1 AND args->>$2 = $3 AND status = 'doing'",
                task_name,
                argument,
                value,
            )
            return rows[0]["id"] if rows else None

        job_id = await eventually(running)
        # Holds the job's row, which the worker updates to record the job's end.
        holding_job = job_row.transaction()
        await holding_job.start()
        await job_row.execute("SELECT 1 FROM procrastinate_jobs WHERE id = $1 FOR UPDATE", job_id)
        await holding_events.rollback()
        holder = await job_row.fetchval("SELECT pg_backend_pid()")

        async def recording_the_end() -> list[int]:
            rows = await faults.sql(
                "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", holder
            )
            return [r["pid"] for r in rows]

        recording = await eventually(recording_the_end)
        worker.signal(signal.SIGKILL)
        worker.wait()
        # The server notices a client gone only when it next writes to it: the session that
        # waits to record the end goes with its worker, as it would with the worker's machine.
        await faults.sql(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", recording
        )
        await holding_job.rollback()
    finally:
        await events.close()
        await job_row.close()


async def run_again_to_its_end(faults: Faults, task_name: str, argument: str, value: str) -> None:
    """Waits until the job has succeeded, and checks that it was started twice."""

    async def succeeded() -> list[asyncpg.Record]:
        rows = await faults.sql(
            "SELECT j.status, (SELECT count(*) FROM procrastinate_events e "
            "WHERE e.job_id = j.id AND e.type = 'started') AS starts "
            "FROM procrastinate_jobs j WHERE j.task_name = $1 AND j.args->>$2 = $3",
            task_name,
            argument,
            value,
        )
        return rows if rows[0]["status"] == "succeeded" else []

    [job] = await eventually(succeeded)
    assert job["starts"] == 2


async def delivered(faults: Faults, org: Org, webhook_id: str) -> list[dict[str, Any]]:
    """The subscription's deliveries once they are all delivered, else nothing."""
    response = await faults.client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=org.headers)
    items: list[dict[str, Any]] = response.json()["items"]
    return items if items and all(d["status"] == "delivered" for d in items) else []


async def test_an_announce_run_again_after_its_worker_died_sends_each_candidate_once(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    receiver = Receiver()
    try:
        supplier, consumer = (
            await create_org(faults.client, "supplier"),
            await create_org(faults.client, "consumer"),
        )
        requests = []
        for _ in range(2):
            requested = await faults.client.post(
                "/v1/requests",
                json=request_body(material="0301", location=point(SHOPS[1])),
                headers=consumer.headers,
            )
            assert requested.status_code == 201, requested.text
            requests.append(requested.json()["id"])
        hook = await subscribe(faults.client, consumer, receiver.url, ["offer.candidate_found"])
        offered = await faults.client.post(
            "/v1/offers",
            json=offer_body(material="030101", location=point(SHOPS[0])),
            headers=supplier.headers,
        )
        assert offered.status_code == 201, offered.text
        offer_id = offered.json()["id"]

        announce = (ANNOUNCE_NEW_OFFER.name, "offer_id", offer_id)
        await kill_once_committed(faults, workers, *announce)
        workers.append(faults.worker().start())
        await run_again_to_its_end(faults, *announce)

        # One delivery per candidate, and one event id: a receiver that deduplicates by id
        # sees each candidate once.
        assert len(await eventually(lambda: delivered(faults, consumer, hook))) == 2
        candidates = {
            event["id"]: (event["data"]["offer_id"], event["data"]["request_id"])
            for event in receiver.events("offer.candidate_found")
        }
        assert sorted(candidates.values()) == sorted((offer_id, r) for r in requests)
    finally:
        receiver.server.shutdown()


async def test_a_matching_run_done_when_its_worker_died_announces_each_proposal_once(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    receiver = Receiver()
    try:
        _, consumer = await offer_and_request(faults, "1012")
        hook = await subscribe(faults.client, consumer, receiver.url, ["match.proposed"])
        region = await create_org(faults.client, "admin")
        started = await faults.client.post(
            "/v1/matching/runs", json={"material": "1012"}, headers=region.headers
        )
        assert started.status_code == 202, started.text
        location = started.headers["location"]

        matching = (RUN_MATCHING.name, "run_id", location.rsplit("/", 1)[1])
        await kill_once_committed(faults, workers, *matching)
        workers.append(faults.worker().start())
        await run_again_to_its_end(faults, *matching)

        run = await read(faults, region, location)
        assert run["status"] == "done" and run["attempts"] == 1, run
        assert len(await eventually(lambda: delivered(faults, consumer, hook))) == len(
            run["matches"]
        )
        proposals = {
            event["id"]: event["data"]["match"]["id"] for event in receiver.events("match.proposed")
        }
        assert sorted(proposals.values()) == sorted(m["id"] for m in run["matches"])
    finally:
        receiver.server.shutdown()


def holding_receiver(holding: threading.Event, let_go: threading.Event) -> Receiver:
    """A receiver that holds the first POST until told to let go."""

    def hold_the_first(n: int) -> None:
        if n == 1:
            holding.set()
            let_go.wait(30)

    return Receiver(on_receipt=hold_the_first)


async def test_a_delivery_whose_worker_dies_mid_send_is_sent_again_by_the_next(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    holding, let_go = threading.Event(), threading.Event()
    receiver = holding_receiver(holding, let_go)
    try:
        _, consumer = await offer_and_request(faults, "1701")
        hook = await faults.client.post(
            "/v1/webhooks",
            json={"url": receiver.url, "events": ["offer.candidate_found"], "secret": SECRET},
            headers=consumer.headers,
        )
        assert hook.status_code == 201, hook.text
        # The offer's event is written by a job, for the subscriptions there are by then.
        first = faults.worker().start()
        workers.append(first)
        await eventually(holding.is_set)
        first.signal(signal.SIGKILL)
        first.wait()
        let_go.set()

        workers.append(faults.worker().start())
        deliveries_url = f"/v1/webhooks/{hook.json()['id']}/deliveries"

        async def delivered() -> list[dict[str, Any]]:
            items = (await faults.client.get(deliveries_url, headers=consumer.headers)).json()
            return [d for d in items["items"] if d["status"] == "delivered"]

        assert [d["attempts"] for d in await eventually(delivered)] == [1]
        # At least once: the receiver got the event twice, and tells by its id that it is one.
        ids = [event["id"] for event in receiver.events()]
        assert len(ids) == 2 and len(set(ids)) == 1
    finally:
        let_go.set()
        receiver.server.shutdown()


async def row_counts(faults: Faults) -> dict[str, int]:
    tables = ["organizations", "sites", "offers", "material_requests", "route_plans", "matches"]
    counts = {}
    for table in tables:
        counts[table] = (await faults.sql(f"SELECT count(*) AS n FROM {table}"))[0]["n"]
    return counts


async def test_a_restarted_database_loses_nothing_and_the_api_and_workers_recover(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    carrier = await create_org(faults.client, "carrier")
    supplier = await create_org(faults.client, "supplier")
    location = await start_plan(faults, carrier, time_limit_s=8)
    workers.append(faults.worker().start())
    await eventually(lambda: status_is(faults, carrier, location, "running"))
    before = await row_counts(faults)

    _pg("stop", str(CLUSTER))
    # The process notices the outage as its connection listening to the database's
    # notifications ends (milliseconds; here once the test lets its loop run again): from then
    # on it serves nothing from the requests it had reserved (app.gateway.grants).
    await eventually(lambda: not faults.app.state.grants.listening)
    during = await faults.client.get("/v1/organizations/me", headers=carrier.headers)
    problem = assert_problem(during, 503)
    assert during.headers["retry-after"] and "database" in problem["detail"]
    assert (await faults.client.get("/readyz")).status_code == 503
    for retry_safe in ({}, {"Idempotency-Key": "soil-during-the-outage"}):
        posted = await faults.client.post(
            "/v1/offers", json=offer_body(), headers={**supplier.headers, **retry_safe}
        )
        assert_problem(posted, 503)
    _pg("start", str(CLUSTER), "--throwaway")

    async def answers() -> bool:
        response = await faults.client.get("/v1/organizations/me", headers=carrier.headers)
        return response.status_code == 200

    await eventually(answers)
    assert_served(await eventually(lambda: status_is(faults, carrier, location, "done", "failed")))
    assert await row_counts(faults) == before
    # The 503 kept no record of its key: its retry runs, and the retry's own retry replays it.
    retry = {**supplier.headers, "Idempotency-Key": "soil-during-the-outage"}
    ran = await faults.client.post("/v1/offers", json=offer_body(), headers=retry)
    assert ran.status_code == 201 and "idempotent-replayed" not in ran.headers, ran.text
    replayed = await faults.client.post("/v1/offers", json=offer_body(), headers=retry)
    assert replayed.status_code == 201 and replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["id"] == ran.json()["id"]


async def test_the_first_request_after_a_restart_is_counted_on_a_new_connection(
    faults: Faults,
) -> None:
    # The rate limit takes its connections from the pool without a ping (a round trip less):
    # one that died with the restart is replaced on the spot, not answered with a 503.
    assert (await faults.client.get("/v1/organizations/me")).status_code == 401
    _pg("stop", str(CLUSTER))
    _pg("start", str(CLUSTER), "--throwaway")
    after = await faults.client.get("/v1/organizations/me")
    assert after.status_code == 401 and after.headers["ratelimit"].startswith('"address"')


async def test_a_long_plan_holds_up_neither_a_delivery_nor_another_plan(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    receiver = Receiver()
    try:
        busy, other = (
            await create_org(faults.client, "carrier"),
            await create_org(faults.client, "carrier"),
        )
        await subscribe(faults.client, other, receiver.url, ["route_plan.completed"])
        long_plan = await start_plan(faults, busy, time_limit_s=12)
        workers.append(faults.worker().start())  # one worker, two plan slots by default
        await eventually(lambda: status_is(faults, busy, long_plan, "running"))
        short_plan = await start_plan(faults, other, time_limit_s=1)
        short = await eventually(lambda: status_is(faults, other, short_plan, "done", "failed"))
        await eventually(lambda: receiver.events("route_plan.completed"))
        still = await read(faults, busy, long_plan)
        assert short["status"] == "done" and still["status"] == "running"
        assert receiver.events()[0]["data"]["route_plan_id"] == short["id"]
        assert_served(await eventually(lambda: status_is(faults, busy, long_plan, "done")))
    finally:
        receiver.server.shutdown()


async def test_a_worker_of_one_queue_leaves_the_other_queue_s_jobs_to_its_workers(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    receiver = Receiver()
    try:
        carrier = await create_org(faults.client, "carrier")
        await subscribe(faults.client, carrier, receiver.url, ["route_plan.completed"])
        events_worker = faults.worker("--queues", "events").start()
        workers.append(events_worker)
        plan = await start_plan(faults, carrier, time_limit_s=0.5)
        # The events' worker does not plan: the plan waits for a worker of plans.
        await asyncio.sleep(3)
        assert (await read(faults, carrier, plan))["status"] == "queued"
        plans_worker = faults.worker("--queues", "plans").start()
        workers.append(plans_worker)
        assert_served(await eventually(lambda: status_is(faults, carrier, plan, "done")))
        # The plans' worker queued the event; the events' worker delivered it.
        [event] = await eventually(lambda: receiver.events("route_plan.completed"))
        assert event["data"]["route_plan_id"] in plan
        assert SOLVE_ROUTE_PLAN.name in plans_worker.log()
        assert SOLVE_ROUTE_PLAN.name not in events_worker.log()
        assert DELIVER.name not in plans_worker.log()
    finally:
        receiver.server.shutdown()


async def test_two_workers_share_twenty_plans_and_run_each_once(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    carrier = await create_org(faults.client, "carrier")
    locations = [await start_plan(faults, carrier, time_limit_s=0.3) for _ in range(20)]
    for _ in range(2):
        workers.append(faults.worker(worker_plan_concurrency=1).start())

    async def all_finished() -> list[dict[str, Any]]:
        plans = [await read(faults, carrier, location) for location in locations]
        return plans if all(p["status"] in ("done", "failed") for p in plans) else []

    plans = await eventually(all_finished, 180)
    for plan in plans:
        assert_served(plan)
        assert plan["attempts"] == 1
    jobs = await faults.sql(
        "SELECT j.id, j.status, j.attempts, j.worker_id, "
        "(SELECT count(*) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'started')"
        " AS starts FROM procrastinate_jobs j "
        "WHERE j.task_name = 'logistics:solve_route_plan' AND j.args->>'plan_id' = ANY($1)",
        [p["id"] for p in plans],
    )
    assert len(jobs) == 20
    # procrastinate counts the finished run among the attempts: one run, started once.
    assert {(j["status"], j["attempts"], j["starts"]) for j in jobs} == {("succeeded", 1, 1)}
    # Both processes planned some (each serves the plans queue with a worker of its own).
    assert len({j["worker_id"] for j in jobs}) == 2


async def test_a_trickling_receiver_is_cut_at_its_deadline_while_others_get_their_events(
    faults: Faults, workers: list[WorkerProcess]
) -> None:
    trickling, healthy = SocketReceiver(answer_trickling), Receiver()
    try:
        slow = await create_org(faults.client, "carrier")
        quick = await create_org(faults.client, "carrier")
        slow_hook = await subscribe(faults.client, slow, trickling.url, ["route_plan.completed"])
        await subscribe(faults.client, quick, healthy.url, ["route_plan.completed"])
        await start_plan(faults, slow, time_limit_s=0.5)
        workers.append(faults.worker(webhook_timeout_seconds=8).start())
        await eventually(trickling.requested.is_set)
        # While the trickling receiver holds its delivery, another organization's event.
        await start_plan(faults, quick, time_limit_s=0.5)
        await eventually(lambda: healthy.events("route_plan.completed"))

        async def first_attempt() -> dict[str, Any]:
            response = await faults.client.get(
                f"/v1/webhooks/{slow_hook}/deliveries", headers=slow.headers
            )
            [delivery] = response.json()["items"]
            return dict(delivery) if delivery["log"] else {}

        # The healthy event arrived while the trickling delivery was still in its exchange.
        assert await first_attempt() == {}
        cut = await eventually(first_attempt)
        assert cut["status"] == "pending" and cut["log"][0]["error"].startswith("deadline:")
        # Tried again later (retries come at once in these tests).
        await eventually(lambda: len(trickling.requests) >= 2)
    finally:
        trickling.close()
        healthy.server.shutdown()
