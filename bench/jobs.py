"""Job-layer benchmark: real worker processes on a throwaway cluster, every figure printed
against a baseline measured in the same run.

1. Throughput: 20 small route plans queued at once, finished by one worker process with one
   plan slot, then by two worker processes (one slot each); the ratio of the two times
   (expect close to 2x on a 2-core machine).
2. Isolation: the delay from a webhook event's creation to its receipt on 127.0.0.1, p50 and
   p95, while two long plans fill a worker's plan slots, against the same on an idle worker.

    python -m bench.jobs [--plans 20] [--plan-seconds 0.5] [--events 30]

It starts a throwaway PostgreSQL cluster in .data/bench-pg unless BOUCLE_BENCH_DATABASE_URL
names a server (its database `boucle_bench_jobs` is dropped and made again)."""

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from app.main import create_app
from bench.support import fresh_database, percentile, server_url, stop_server
from testbed.api import Org, create_org, offer_body, plan_body, point, request_body
from testbed.database import connect_raw
from testbed.receivers import Receiver
from testbed.service import LOOPBACK_RECEIVERS, settings_for
from testbed.workers import WorkerProcess, eventually


async def scalar(url: str, query: str, *args: Any) -> Any:
    """One value from the benchmark's database, on a connection of its own (polling through
    the API would take the CPU the workers are measured on)."""
    conn = await connect_raw(url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def workers_ready(url: str, count: int) -> bool:
    """Whether `count` procrastinate workers (two per process: one per queue) are registered."""
    return bool(await scalar(url, "SELECT count(*) FROM procrastinate_workers") >= count)


async def finish_plans(
    client: httpx.AsyncClient,
    url: str,
    carrier: Org,
    workers: list[WorkerProcess],
    count: int,
    seconds: float,
) -> float:
    """Seconds from queueing `count` plans at once, to running workers, to the last one done."""
    for worker in workers:
        worker.start()
    await eventually(lambda: workers_ready(url, 2 * len(workers)), within_s=60)
    began = time.monotonic()
    started = await asyncio.gather(
        *(
            client.post("/v1/route-plans", json=plan_body(seconds), headers=carrier.headers)
            for _ in range(count)
        )
    )
    assert all(s.status_code == 202 for s in started), [s.text for s in started]
    ids = [uuid.UUID(s.headers["location"].rsplit("/", 1)[1]) for s in started]

    async def all_finished() -> bool:
        finished = await scalar(
            url,
            "SELECT count(*) FROM route_plans WHERE id = ANY($1) AND status IN ('done', 'failed')",
            ids,
        )
        return bool(finished == len(ids))

    await eventually(all_finished, within_s=600, every_s=0.05)
    elapsed = time.monotonic() - began
    done = await scalar(
        url, "SELECT count(*) FROM route_plans WHERE id = ANY($1) AND status = 'done'", ids
    )
    assert done == len(ids), f"{len(ids) - done} plans failed"
    for worker in workers:
        worker.stop()
    await eventually(lambda: _not(workers_ready(url, 1)), within_s=60)
    return elapsed


async def _not(check: Awaitable[bool]) -> bool:
    return not await check


async def event_delays(
    client: httpx.AsyncClient, receiver: Receiver, supplier: Org, consumer: Org, events: int
) -> list[float]:
    """Proposes `events` matches, a quarter second apart; answers the delays of their
    `match.proposed` events at the consumer's receiver."""
    receiver.received.clear()
    offered = await client.post(
        "/v1/offers",
        json=offer_body(
            material="170504", location=point([4.35, 50.85]), quantity={"value": 1000, "unit": "t"}
        ),
        headers=supplier.headers,
    )
    assert offered.status_code == 201, offered.text
    for _ in range(events):
        requested = await client.post(
            "/v1/requests",
            json=request_body(location=point([4.36, 50.85]), quantity={"value": 1, "unit": "t"}),
            headers=consumer.headers,
        )
        proposed = await client.post(
            "/v1/matches",
            json={"offer_id": offered.json()["id"], "request_id": requested.json()["id"]},
            headers=consumer.headers,
        )
        assert proposed.status_code == 201, proposed.text
        await asyncio.sleep(0.25)
    await eventually(lambda: asyncio.sleep(0, len(receiver.received) >= events), within_s=120)
    return [
        record["at"] - datetime.fromisoformat(json.loads(record["body"])["created_at"]).timestamp()
        for record in receiver.received
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--plans", type=int, default=20)
    parser.add_argument("--plan-seconds", type=float, default=0.5)
    parser.add_argument("--events", type=int, default=30)
    args = parser.parse_args()
    url = await fresh_database(server_url(), "boucle_bench_jobs")
    logs = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    app = create_app(
        settings_for(
            url,
            webhook_private_hosts=LOOPBACK_RECEIVERS,
            max_active_jobs_per_organization=10_000,
        )
    )
    receiver = Receiver()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                carrier = await create_org(client, "carrier")

                def worker(name: str, **settings: Any) -> WorkerProcess:
                    return WorkerProcess(url, logs / f"{name}.log", **settings)

                print(f"{args.plans} plans of {args.plan_seconds} s queued at once:")
                one = await finish_plans(
                    client,
                    url,
                    carrier,
                    [worker("one", worker_plan_concurrency=1)],
                    args.plans,
                    args.plan_seconds,
                )
                two = await finish_plans(
                    client,
                    url,
                    carrier,
                    [worker(f"two-{k}", worker_plan_concurrency=1) for k in (1, 2)],
                    args.plans,
                    args.plan_seconds,
                )
                print(f"  1 worker, 1 plan slot     {one:7.2f} s   1.00 x")
                print(f"  2 worker processes        {two:7.2f} s   {one / two:4.2f} x faster")

                supplier, consumer = (
                    await create_org(client, "supplier"),
                    await create_org(client, "consumer"),
                )
                hook = await client.post(
                    "/v1/webhooks",
                    json={"url": receiver.url, "events": ["match.proposed"], "secret": "s" * 20},
                    headers=consumer.headers,
                )
                assert hook.status_code == 201, hook.text
                serving = worker("events").start()
                try:
                    # Once the worker is up and listening: the first event waits for its start.
                    await event_delays(client, receiver, supplier, consumer, 1)
                    idle = await event_delays(client, receiver, supplier, consumer, args.events)
                    busy_plans = [
                        (
                            await client.post(
                                "/v1/route-plans", json=plan_body(60), headers=carrier.headers
                            )
                        ).headers["location"]
                        for _ in range(2)
                    ]
                    busy = await event_delays(client, receiver, supplier, consumer, args.events)
                    still = [
                        (await client.get(loc, headers=carrier.headers)).json()["status"]
                        for loc in busy_plans
                    ]
                finally:
                    serving.stop()
                print(f"webhook event to receipt, {args.events} events (p50 / p95):")
                print(
                    f"  idle worker               {percentile(idle, 50) * 1000:7.1f} / {percentile(idle, 95) * 1000:7.1f} ms   1.00 x"
                )
                print(
                    f"  behind 2 running plans    {percentile(busy, 50) * 1000:7.1f} / {percentile(busy, 95) * 1000:7.1f} ms   "
                    f"{percentile(busy, 50) / percentile(idle, 50):4.2f} x / {percentile(busy, 95) / percentile(idle, 95):4.2f} x"
                    f"   (plans meanwhile: {', '.join(still)})"
                )
    finally:
        receiver.server.shutdown()
        stop_server()


if __name__ == "__main__":
    asyncio.run(main())
