"""Plans running side by side on one worker share its cores: each of its plan slots searches on
its part of them, so that two plans at once never run more engine processes than the worker
has cores, read from the processes themselves (an engine's process is named after it)."""

from pathlib import Path

import httpx

from testbed.workers import WorkerProcess, eventually
from tests.conftest import OrgFactory, plan_body

ENGINE_PROCESSES = {"boucle pyvrp", "boucle ortools"}
CORES = 2


def _descendants(root: int) -> list[tuple[int, str]]:
    """The processes under `root` (children, theirs, ...), with their names."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        # "pid (name) state ppid ...": the name may hold spaces and parentheses.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
        names[int(entry.name)] = name
    found: list[tuple[int, str]] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += [(pid, names[pid]) for pid in children]
        frontier += children
    return found


async def test_two_plans_at_once_run_no_more_engine_processes_than_cores(
    client: httpx.AsyncClient, make_org: OrgFactory, database_url: str, tmp_path: Path
) -> None:
    carrier = await make_org("carrier")
    worker = WorkerProcess(
        database_url,
        tmp_path / "worker.log",
        worker_plan_concurrency=2,
        worker_plan_cores=CORES,
    ).start()
    try:
        await eventually(lambda: "plan slots" in worker.log(), within_s=60)
        assert "each of its 2 plan slots searches on 1 of its 2 cores" in worker.log()
        paths = []
        for _ in range(2):
            started = await client.post(
                "/v1/route-plans", json=plan_body(6), headers=carrier.headers
            )
            assert started.status_code == 202, started.text
            paths.append(started.headers["location"])

        async def statuses() -> list[str]:
            return [
                (await client.get(path, headers=carrier.headers)).json()["status"] for path in paths
            ]

        # Sampled until both plans are over.
        at_once: list[int] = []
        seen_engines: set[int] = set()

        async def sampled_until_over() -> bool:
            engines = [pid for pid, name in _descendants(worker.pid) if name in ENGINE_PROCESSES]
            seen_engines.update(engines)
            at_once.append(len(engines))
            return all(s in ("done", "failed") for s in await statuses())

        await eventually(sampled_until_over, within_s=120, every_s=0.05)
        assert await statuses() == ["done", "done"]
        # Both plans searched at once (one engine each), never more than the cores.
        assert max(at_once) == CORES, (at_once, seen_engines)
        assert len(seen_engines) == 2
    finally:
        worker.stop()
