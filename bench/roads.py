"""Route plans on the roads: the road matrices of a large plan, pgRouting against the networks
held in memory, and plans side by side on one worker's cores. Every figure is a ratio within
the run.

1. Road distances. The Brussels network (`python -m app.cli roads`, from
   ../shared/data/osm) in a fresh database; the places of a plan of `--shipments` shipments
   (a pickup and a delivery each, at `--sites` places over the region, and ten depots),
   snapped to each network's nearest vertex. pgRouting's `pgr_dijkstraCostMatrix` for each
   network (what a plan asked before, once per travel profile), then
   `app.roads.routing.road_matrices` for bikes at two speeds, vans and the baseline van (one
   matrix per network): on a worker's first plan (the graphs read from the tables) and on the
   next (the graphs held), on a plan slot's share of the cores (a worker with two slots) and
   on every core, with the longest stall of the event loop meanwhile and the largest
   difference from pgRouting's distances; then the CPU time of the same Dijkstra, on the
   networks cut down (`app.roads.contraction`) and on the whole networks as before.
2. Plans side by side. A Solomon instance planned by `bench.routing.run_instance` (the API's
   `logistics.solve`) alone, then two at once, each in a process of its own: on the share a
   worker gives each of its two plan slots (`app.jobs.cores`), and as before (every core
   each); with the most engine processes seen running at once.

    python -m bench.roads [--shipments 500] [--sites 500] [--solomon ../shared/benchmarks/solomon]
                          [--instances R101,RC101] [--time-limit 10] [--skip-roads]
                          [--skip-plans]

It starts a throwaway PostgreSQL cluster in .data/bench-pg unless BOUCLE_BENCH_DATABASE_URL
names a server (its database `boucle_bench_roads` is dropped and made again)."""

import argparse
import asyncio
import functools
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from scipy.sparse.csgraph import dijkstra
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.jobs.child_process import preload_in_children, start_fork_server
from app.kit.statement_deadline import StatementDeadline
from app.roads.graphs import RoadGraphs, distances_by_network
from app.roads.routing import nearest_vertices, pgrouting_distances_m, road_matrices
from bench.routing import PORTFOLIO, run_instance
from bench.support import fresh_database, server_url, stop_server
from logistics.child_process import start_child
from logistics.instances import Instance, read_solomon
from logistics.matrices import Profile
from logistics.portfolio import cores
from testbed.database import load_reference

# What this module imports, which a fork server's child would import again (`_compare`).
BENCH_IMPORTS = ["bench.routing", "bench.support", "logistics.instances", "testbed.database"]
NETWORKS = ("bike", "van")
# A fleet of cargo bikes at two speeds and vans, and the baseline van every plan is compared
# with: four travel profiles, two networks.
PROFILES = (
    Profile("bike@15.0", 15),
    Profile("bike@20.0", 20),
    Profile("van@22.0", 22),
    Profile("van@baseline", 22),
)
# The Brussels-Capital Region's built-up heart, where shipments go.
WEST, SOUTH, EAST, NORTH = 4.28, 50.79, 4.44, 50.90
DEPOTS = 10
PLAN_LIMIT_S = 60
# A worker's default limit on a plan's child process (BOUCLE_PLANNER_MEMORY_LIMIT_MB).
MEMORY_LIMIT_MB = 4096
ENGINE_PROCESSES = {"boucle pyvrp", "boucle ortools"}

Value = TypeVar("Value")


def plan_places(shipments: int, sites: int, seed: int = 28) -> list[tuple[float, float]]:
    """The places of a plan in matrix order, each once (`plan_points`): ten depots, then a
    pickup and a delivery per shipment, each at one of `sites` places over the region (shops
    and suppliers serve several shipments)."""
    rng = np.random.default_rng(seed)
    spots = list(
        zip(
            rng.uniform(WEST, EAST, DEPOTS + sites).tolist(),
            rng.uniform(SOUTH, NORTH, DEPOTS + sites).tolist(),
            strict=True,
        )
    )
    depots, places = spots[:DEPOTS], spots[DEPOTS:]
    visits = [places[k] for k in rng.integers(0, sites, 2 * shipments)]
    return list(dict.fromkeys(depots + visits))


class LoopWatch:
    """The longest the event loop went without running a 10 ms beat, while it runs."""

    def __init__(self) -> None:
        self.longest_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            self.longest_s = max(self.longest_s, time.monotonic() - before - 0.01)

    def __enter__(self) -> "LoopWatch":
        self._task = asyncio.ensure_future(self._beat())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def timed(call: Callable[[], Awaitable[Value]]) -> tuple[Value, float]:
    started = time.monotonic()
    value = await call()
    return value, time.monotonic() - started


async def road_distances(shipments: int, sites: int) -> None:
    server = server_url()
    try:
        url = await fresh_database(server, "boucle_bench_roads")
        print("loading the Brussels network (python -m app.cli roads) ...", flush=True)
        load_reference(url, "roads")
        engine = create_async_engine(url)
        try:
            async with AsyncSession(engine) as session:
                places = plan_places(shipments, sites)
                await _compare(StatementDeadline(session, 3600), shipments, places)
                await session.rollback()
        finally:
            await engine.dispose()
    finally:
        stop_server()


async def _compare(
    deadline: StatementDeadline, shipments: int, places: list[tuple[float, float]]
) -> None:
    # As a worker does before its first plan: the child processes' imports (scipy) once. And
    # this module's: a fork server's child runs the main module again (as `__mp_main__`),
    # which for the worker (`app.worker.__main__`) is nothing, but here would import
    # bench.routing's engines in every child (1 to 2 s each).
    preload_in_children(["app.roads.graphs", *BENCH_IMPORTS])
    await start_fork_server()
    load_before = os.getloadavg()[0]
    backend = int((await deadline.all(text("SELECT pg_backend_pid() AS pid"), {}))[0].pid)
    # As a plan asked before: pgRouting once per travel profile, so each network twice.
    pgrouting: dict[str, np.ndarray] = {}
    calls: list[tuple[str, float, float]] = []
    for profile in PROFILES:
        network = profile.name.split("@")[0]

        async def by_pgrouting(network: str = network) -> np.ndarray:
            vertices = await nearest_vertices(deadline, network, places)
            return await pgrouting_distances_m(deadline, network, vertices)

        cpu = cpu_seconds(backend)
        pgrouting[network], seconds = await timed(by_pgrouting)
        calls.append((profile.name, seconds, cpu_seconds(backend) - cpu))
    graphs = RoadGraphs()
    # A worker's plan slot gets its share of the cores (2 slots), or every core (1 slot).
    machine = cores()
    share = max(1, machine // 2)
    runs: list[tuple[str, float, LoopWatch]] = []
    matrices = []
    for label, processes in (
        (f"first plan (reads), {share} process(es)", share),
        (f"next plan (held), {share} process(es)", share),
        (f"next plan (held), {machine} process(es)", machine),
    ):
        with LoopWatch() as watch:
            (found, snapped), seconds = await timed(
                functools.partial(
                    road_matrices, deadline, places, PROFILES, MEMORY_LIMIT_MB, graphs, processes
                )
            )
        runs.append((label, seconds, watch))
        matrices.append(found)
    first = matrices[0]
    differences = [
        int(np.abs(first[p.name].distance - np.rint(pgrouting[p.name.split("@")[0]])).max())
        for p in PROFILES
    ]
    assert all(
        (found[p.name].distance == first[p.name].distance).all()
        for found in matrices
        for p in PROFILES
    )
    # The same Dijkstra here, for its CPU time (the children's are not this process's to
    # read): on the network cut down, in one part and in as many as cores (each part cuts it
    # again), and on the whole network as before.
    networks = {network: await graphs.graph(deadline, network) for network in NETWORKS}
    vertices = {p.name.split("@")[0]: snapped[p.name] for p in PROFILES}
    cpu = time.process_time()
    distances_by_network(networks, vertices)
    memory_cpu_s = time.process_time() - cpu
    cpu = time.process_time()
    for part in range(machine):
        distances_by_network(networks, vertices, part, machine)
    parts_cpu_s = time.process_time() - cpu
    cpu = time.process_time()
    for network, graph in networks.items():
        at = np.searchsorted(graph.vertices, np.unique(vertices[network]))
        dijkstra(graph.graph, directed=True, indices=at)
    whole_cpu_s = time.process_time() - cpu
    # Once per network (the first call of each), and as a plan of these profiles asked.
    once: dict[str, tuple[float, float]] = {}
    for name, seconds, cpu_s in calls:
        once.setdefault(name.split("@")[0], (seconds, cpu_s))
    both_s = sum(seconds for seconds, _ in once.values())
    both_cpu_s = sum(cpu_s for _, cpu_s in once.values())
    before_s = sum(seconds for _, seconds, _ in calls)
    distinct = {p.name.split("@")[0]: len(set(snapped[p.name])) for p in PROFILES}
    print(
        f"\nroad distances of a plan of {shipments} shipments: {len(places)} places"
        f" ({DEPOTS} depots), snapped to {distinct['bike']} bike and {distinct['van']} van"
        f" vertices (load average {load_before:.1f} on {cores()} cores):"
    )
    for name, seconds, cpu_s in calls:
        print(f"  pgRouting, {name:12}            {seconds:7.2f} s   (CPU {cpu_s:.2f} s)")
    print(
        f"  pgRouting, once per network        {both_s:7.2f} s   1.00 x   (CPU {both_cpu_s:.2f} s)"
    )
    print(
        f"  before: once per profile (4)       {before_s:7.2f} s   {before_s / both_s:.2f} x"
        "   (bikes at 2 speeds, vans, the baseline van)"
    )
    for label, seconds, watch in runs:
        print(
            f"  {'in memory, ' + label:40}  {seconds:7.2f} s   {seconds / both_s:.3f} x"
            f" ({seconds / before_s:.3f} x before)   {seconds / PLAN_LIMIT_S:.1%} of a"
            f" {PLAN_LIMIT_S} s plan; longest event-loop stall {watch.longest_s * 1000:.0f} ms"
        )
    for label, cpu_s in (
        ("CPU of the Dijkstra in memory, both networks", memory_cpu_s),
        (f"  the same in {machine} parts (together)", parts_cpu_s),
        ("  the same on the whole networks (before)", whole_cpu_s),
    ):
        print(
            f"  {label:46}  {cpu_s:5.2f} s, {cpu_s / both_cpu_s:.3f} x pgRouting's CPU once"
            f" per network, {cpu_s / PLAN_LIMIT_S:.1%} of a {PLAN_LIMIT_S} s plan"
        )
    print(f"  largest difference from pgRouting's distances: {max(differences)} m")
    print(f"  load average at the end: {os.getloadavg()[0]:.1f}")
    met = memory_cpu_s <= both_cpu_s / 5 and memory_cpu_s <= PLAN_LIMIT_S / 10
    print(
        "  target in CPU time (<= 0.2 x pgRouting once per network, <= 10 % of"
        f" {PLAN_LIMIT_S} s): {'met' if met else 'NOT met'}"
    )
    for label, seconds, _ in runs:
        met = seconds <= both_s / 5 and seconds <= PLAN_LIMIT_S / 10
        print(
            f"  target in time, {label} (<= 0.2 x pgRouting once per network, <= 10 % of"
            f" {PLAN_LIMIT_S} s): {'met' if met else 'NOT met'}",
            flush=True,
        )


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) a process of this machine has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants_named(root: int, names: set[str]) -> int:
    """How many processes under `root` bear one of `names`."""
    parents: dict[int, int] = {}
    named: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(stat[stat.rindex(")") + 2 :].split()[1])
        if stat[stat.index("(") + 1 : stat.rindex(")")] in names:
            named.add(pid)
    count = 0
    for pid in named:
        ancestor = parents.get(pid, 0)
        while ancestor not in (0, 1, root):
            ancestor = parents.get(ancestor, 0)
        count += ancestor == root
    return count


def _plans_at_once(
    instance: Instance, time_limit_s: float, processes: list[int]
) -> tuple[list[dict[str, Any]], int]:
    """One plan of the instance per entry of `processes`, at once, each in a process of its
    own on that many engine processes; and the most engine processes seen at once."""
    context = multiprocessing.get_context("fork")
    most = 0
    done = threading.Event()

    def count() -> None:
        nonlocal most
        while not done.is_set():
            most = max(most, _descendants_named(os.getpid(), ENGINE_PROCESSES))
            time.sleep(0.05)

    watcher = threading.Thread(target=count)
    watcher.start()
    try:
        children = [
            start_child(context, run_instance, (instance, time_limit_s, False, PORTFOLIO, n))
            for n in processes
        ]
        results = []
        for child in children:
            outcome = child.receive()
            child.stop()
            assert outcome is not None and outcome.raised is None, outcome
            results.append(outcome.value)
    finally:
        done.set()
        watcher.join()
    return results, most


def _key(result: dict[str, Any]) -> str:
    return f"vehicles {result['vehicles']:3}  distance {result['distance']!s:>9}"


def plans_side_by_side(directory: Path, names: list[str], time_limit_s: float) -> None:
    machine = cores()
    share = max(1, machine // 2)
    print(
        f"\nplans side by side ({machine} cores; a worker with 2 plan slots gives each"
        f" {share} engine process(es)), {time_limit_s:g} s each:"
    )
    gaps: list[float] = []
    within = True
    for name in names:
        instance = read_solomon(directory / f"{name}.txt")
        (alone,), most_alone = _plans_at_once(instance, time_limit_s, [share])
        (whole,), _ = _plans_at_once(instance, time_limit_s, [machine])
        shared, most_shared = _plans_at_once(instance, time_limit_s, [share, share])
        before, most_before = _plans_at_once(instance, time_limit_s, [machine, machine])
        print(f"  {instance.name}")
        print(f"    {f'alone, {share} process(es)':40}  {_key(alone)}   ({most_alone} at once)")
        print(f"    {f'alone, every core ({machine})':40}  {_key(whole)}")
        within = within and most_shared <= machine
        for label, results, most in (
            (f"two at once, {share} process(es) each", shared, most_shared),
            (f"before: two at once, {machine} each", before, most_before),
        ):
            for k, result in enumerate(results, start=1):
                same = result["vehicles"] == alone["vehicles"] and alone["distance"]
                gap = (result["distance"] / alone["distance"] - 1) * 100 if same else None
                if label.startswith("two"):
                    within = within and gap is not None and gap <= 1.0
                    if gap is not None:
                        gaps.append(gap)
                shown = f"{gap:+.2f} % of alone" if gap is not None else "other vehicle count"
                print(
                    f"    {f'{label} (#{k})':40}  {_key(result)}   {shown}"
                    f"   ({most} engine processes at once, on {machine} cores)"
                )
    if gaps:
        print(
            f"  mean gap of the plans side by side to the plan alone: {statistics.mean(gaps):+.2f} %"
        )
    print(
        f"  target (each plan side by side within 1 % of alone, no more searches than cores):"
        f" {'met' if within else 'NOT met'}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.roads",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--shipments", type=int, default=500)
    parser.add_argument(
        "--sites",
        type=int,
        default=500,
        help="the places the shipments' pickups and deliveries are drawn from (%(default)s)",
    )
    parser.add_argument("--solomon", type=Path, default=Path("../shared/benchmarks/solomon"))
    parser.add_argument("--instances", type=lambda s: s.split(","), default=["R101", "RC101"])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--skip-roads", action="store_true")
    parser.add_argument("--skip-plans", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_roads:
        asyncio.run(road_distances(args.shipments, args.sites))
    if not args.skip_plans:
        plans_side_by_side(args.solomon, args.instances, args.time_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
