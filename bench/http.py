"""HTTP benchmark: the API's throughput and latency route by route, each against `/healthz`
measured in the same run (the machines are noisy: the ratios are the figures).

1. A throwaway cluster (or the server BOUCLE_BENCH_DATABASE_URL names), a database of the
   service migrated with its reference data, and the API started by the command line of
   scripts/run.sh (`make run`), so that it measures what users get; `--api-processes N` passes
   BOUCLE_API_PROCESSES=N (and uvicorn's `--workers N` to the code from before that setting).
2. A few organizations and their keys made through the API (an observer among them), then
   the data set seeded in SQL: `--offers` open offers over the Brussels region with realistic
   EWC families and `--requests` open requests, posted over the last twelve months.
3. wrk (Debian's, installed here with apt-get when missing and run as root), `--connections`
   connections for `--seconds` per route, one route after the other, each after a short
   warm-up; a Lua script spreads the requests over the keys, and the candidates over the
   requests, each read with its owner's key.

    python -m bench.http [--offers 100000] [--requests 20000] [--seconds 10] [--connections 16]
                         [--api-processes N] [--rounds 1] [--routes me,near,candidates,stats]
                         [--quick]
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx

from app.kit.local_time import brussels_today
from app.settings import PROJECT_ROOT, Settings
from app.stats.months import last_ended_month, month_text
from bench.matching import FAMILIES
from bench.statements_alone import (
    NUMBERED_REQUESTS_SQL,
    candidates_script,
    near_search_script,
    statements_per_s,
)
from bench.support import CODES, free_port, fresh_database, server_url, stop_server
from testbed.api import Org, create_org
from testbed.database import connect_raw, role_environment
from testbed.service import ADMIN_TOKEN, SUITE_RATE_LIMIT

RUN_SCRIPT = PROJECT_ROOT / "scripts" / "run.sh"
KEYED_ORGANIZATIONS = 8
STATS_MONTHS = 12

# Offers and requests posted over the last year (so that the statistics have twelve months
# to show), available and needed over 2027 (so that the candidates' windows overlap).
OFFERS_SQL = """
WITH g AS (
    SELECT i, round((0.5 + random() * 20)::numeric, 1) AS tonnes,
           DATE '2027-01-01' + (random() * 300)::int AS start,
           now() - random() * interval '365 days' AS posted
      FROM generate_series(1, $1) AS i
)
INSERT INTO offers (id, organization_id, location, material, title, quantity_value, quantity_unit,
                    remaining_value, mass_kg, available_from, available_until, condition, status,
                    version, created_at, updated_at)
SELECT gen_random_uuid(), ($2::uuid[])[1 + i % cardinality($2::uuid[])],
       ST_SetSRID(ST_MakePoint(4.25 + random() * 0.23, 50.77 + random() * 0.13), 4326),
       ($3::text[])[1 + floor(random() * cardinality($3::text[]))::int], 'bench offer',
       tonnes, 't', tonnes, tonnes * 1000, start, start + 45,
       (ARRAY['A', 'B', 'C'])[1 + floor(random() * 3)::int], 'open', 1, posted, posted
  FROM g
"""
REQUESTS_SQL = """
WITH g AS (
    SELECT i, round((0.5 + random() * 10)::numeric, 1) AS tonnes,
           DATE '2027-01-01' + (random() * 300)::int AS start,
           now() - random() * interval '365 days' AS posted
      FROM generate_series(1, $1) AS i
)
INSERT INTO material_requests (id, organization_id, location, material, quantity_value,
                               quantity_unit, remaining_value, mass_kg, needed_from, needed_by,
                               max_distance_km, min_condition, status, version, created_at,
                               updated_at)
SELECT gen_random_uuid(), ($2::uuid[])[1 + (i + 1) % cardinality($2::uuid[])],
       ST_SetSRID(ST_MakePoint(4.25 + random() * 0.23, 50.77 + random() * 0.13), 4326),
       ($3::text[])[1 + floor(random() * cardinality($3::text[]))::int],
       tonnes, 't', tonnes, tonnes * 1000, start, start + 30, 5 + (random() * 15)::int, 'C',
       'open', 1, posted, posted
  FROM g
RETURNING id, organization_id
"""


@dataclass
class DataSet:
    """What the routes are read with: the keyed organizations (suppliers and consumers), the
    observer of the statistics, each request with its owner's key, the months shown."""

    organizations: list[Org]
    observer: Org
    requests: list[tuple[str, str]]
    first_month: str
    last_month: str


async def seed(client: httpx.AsyncClient, database_url: str, offers: int, requests: int) -> DataSet:
    """Organizations and keys through the API `client` talks to (its admin token is
    testbed.service.ADMIN_TOKEN), then the offers and requests in SQL, vacuumed and analyzed."""
    organizations = [
        await create_org(client, "supplier", "consumer", name=f"bench http {k}")
        for k in range(KEYED_ORGANIZATIONS)
    ]
    observer = await create_org(client, "observer", name="bench http observer")
    key_of = {uuid.UUID(org.id): org.key for org in organizations}
    conn = await connect_raw(database_url)
    try:
        await conn.execute(OFFERS_SQL, offers, list(key_of), CODES)
        rows = await conn.fetch(REQUESTS_SQL, requests, list(key_of), FAMILIES)
        # As autovacuum leaves a table in use: its visibility map set, its statistics known.
        await conn.execute("VACUUM ANALYZE offers, material_requests")
        await conn.execute("ANALYZE")
        await conn.execute(NUMBERED_REQUESTS_SQL)
    finally:
        await conn.close()
    last = last_ended_month(brussels_today())
    first = date(last.year - 1 + (last.month == 12), last.month % 12 + 1, 1)
    return DataSet(
        organizations=organizations,
        observer=observer,
        requests=[(str(row["id"]), key_of[row["organization_id"]]) for row in rows],
        first_month=month_text(first),
        last_month=month_text(last),
    )


@dataclass
class Route:
    name: str
    # What `--routes` calls it.
    short: str
    # Each request picks one of these at random: (path, API key or None).
    requests: list[tuple[str, str | None]]
    target: str = ""
    min_ratio: float | None = None
    max_p95_ms: float | None = None
    # Its statement alone, as a pgbench script (`bench.statements_alone`).
    statement_alone: str | None = None


def routes(data: DataSet) -> list[Route]:
    keys = [org.key for org in data.organizations]
    near = "/v1/offers?near=4.35,50.85&radius_km=5&limit=20"
    stats = f"/v1/stats/flows?group_by=commune&from={data.first_month}&to={data.last_month}"
    return [
        Route("GET /healthz", "healthz", [("/healthz", None)]),
        Route(
            "GET /v1/organizations/me",
            "me",
            [("/v1/organizations/me", key) for key in keys],
            ">= 0.5 x",
            min_ratio=0.5,
        ),
        Route(
            f"GET {near}",
            "near",
            [(near, key) for key in keys],
            ">= 0.3 x",
            min_ratio=0.3,
            statement_alone=near_search_script((4.35, 50.85), radius_km=5, limit=20),
        ),
        Route(
            "GET /v1/requests/{id}/candidates",
            "candidates",
            [(f"/v1/requests/{rid}/candidates", key) for rid, key in data.requests],
            ">= 0.2 x, p95 <= 20 ms",
            min_ratio=0.2,
            max_p95_ms=20,
            statement_alone=candidates_script(len(data.requests), limit=20),
        ),
        Route(
            f"GET /v1/stats/flows?group_by=commune ({STATS_MONTHS} months)",
            "stats",
            [(stats, data.observer.key)],
            "p95 <= 50 ms",
            max_p95_ms=50,
        ),
    ]


# Each of wrk's threads loads the script; `done` writes the figures as one line of JSON.
LUA = """
local entries = {
%s
}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + (seed or 0))
end
function request()
  local entry = entries[math.random(#entries)]
  if entry[2] then
    return wrk.format("GET", entry[1], {Authorization = "Bearer " .. entry[2]})
  end
  return wrk.format("GET", entry[1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nFIGURES {"requests": %%d, "duration_us": %%d, "errors": %%d, "non_2xx": %%d, ' ..
    '"p50_us": %%d, "p95_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def lua_script(route: Route, directory: Path) -> Path:
    def quoted(text: str | None) -> str:
        return "nil" if text is None else json.dumps(text)  # JSON strings are Lua strings here

    entries = ",\n".join(f"  {{{quoted(path)}, {quoted(key)}}}" for path, key in route.requests)
    script = directory / f"route-{abs(hash(route.name))}.lua"
    script.write_text(LUA % entries)
    return script


@dataclass
class Figures:
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    failed: int
    seconds: float


def combined(rounds: list[Figures]) -> Figures:
    """A route's figures over its rounds: its requests over their time, and the median of the
    latencies of the rounds in which it answered."""
    answered = [figures for figures in rounds if figures.requests] or rounds
    requests, seconds = sum(f.requests for f in rounds), sum(f.seconds for f in rounds)
    return Figures(
        requests_per_s=requests / seconds,
        p50_ms=statistics.median(f.p50_ms for f in answered),
        p95_ms=statistics.median(f.p95_ms for f in answered),
        p99_ms=statistics.median(f.p99_ms for f in answered),
        requests=requests,
        failed=sum(f.failed for f in rounds),
        seconds=seconds,
    )


def run_wrk(url: str, script: Path, seconds: float, connections: int) -> Figures:
    threads = max(1, min(connections, os.cpu_count() or 1))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s"]
    done = subprocess.run(
        [*command, "-s", str(script), url], check=True, capture_output=True, text=True
    )
    line = next(li for li in done.stdout.splitlines() if li.startswith("FIGURES "))
    figures = json.loads(line.removeprefix("FIGURES "))
    return Figures(
        requests_per_s=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p95_ms=figures["p95_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        requests=figures["requests"],
        failed=figures["errors"] + figures["non_2xx"],
        seconds=figures["duration_us"] / 1e6,
    )


async def wait_until_idle(database_url: str, within_s: float = 300) -> None:
    """Waits until no query of the service runs on its database, twice half a second apart:
    when wrk stops, the server still answers the requests its connections had sent (nothing
    cancels them), and a route measured meanwhile would share the machine with them."""
    conn = await connect_raw(database_url)
    try:
        deadline, quiet = time.monotonic() + within_s, 0
        while quiet < 2 and time.monotonic() < deadline:
            busy = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state <> 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            quiet = quiet + 1 if busy == 0 else 0
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


def ensure_wrk() -> None:
    """wrk from Debian: installed with apt-get when missing and this runs as root."""
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: apt-get install wrk (as root), then run this again")
    print("installing wrk (apt-get install wrk)", flush=True)
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, stdout=subprocess.DEVNULL, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, check=True)
        subprocess.run(install, stdout=subprocess.DEVNULL, check=True)


def server_command() -> str:
    """The command line by which scripts/run.sh starts the API, the one given `--port` (with its
    continuation lines), as shell text: run with this environment's PORT and
    BOUCLE_API_PROCESSES, it is the server `make run` serves."""
    lines = RUN_SCRIPT.read_text().splitlines()
    for number, line in enumerate(lines):
        if "--port" in line and not line.lstrip().startswith("#"):
            command = line
            while command.endswith("\\"):
                number += 1
                command = command[:-1] + lines[number]
            return command.strip()
    raise SystemExit(f"no command line with --port in {RUN_SCRIPT}")


class ApiServer:
    """The API started as scripts/run.sh starts it, in a process group of its own, its output
    in `log`."""

    def __init__(self, database_url: str, api_processes: int | None, log: Path) -> None:
        self.port = free_port()
        self.command = server_command()
        env = {
            **role_environment(database_url),
            "PORT": str(self.port),
            "BOUCLE_ADMIN_TOKEN": ADMIN_TOKEN,
            # The limiter stays on, so that each request pays for it as in `make run`, but far
            # above what the run sends with a few keys.
            "BOUCLE_RATE_LIMIT_REQUESTS": str(SUITE_RATE_LIMIT),
        }
        if api_processes is not None:
            env["BOUCLE_API_PROCESSES"] = str(api_processes)
            if "api_processes" not in Settings.model_fields:
                # Code from before the setting, which ran uvicorn itself: its own option does
                # the same.
                self.command += f" --workers {api_processes}"
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                ["bash", "-c", f"exec {self.command}"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{self.port}"

    async def wait_ready(self, client: httpx.AsyncClient, within_s: float = 60) -> None:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        self.stop()
        raise SystemExit(f"the API did not start ({self.command}):\n{self.log.read_text()}")

    def processes(self) -> int:
        """How many processes serve: uvicorn's spawned workers, or the one process itself."""
        group = os.getpgid(self.process.pid)
        spawned = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[2]) == group and b"spawn_main" in cmdline:
                spawned += 1
        return spawned or 1

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def code_version() -> str:
    """The commit measured, and whether the work tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    changed = git("status", "--porcelain", "--untracked-files=no")
    return (git("log", "-1", "--format=%h %s")[:72] or "not a git checkout") + (
        " (with uncommitted changes)" if changed else ""
    )


class RouteFailed(Exception):
    """A route's first request answered other than 200: it is not measured."""


async def check_route(client: httpx.AsyncClient, route: Route) -> str:
    """One request of the route, which must answer 200; what it answered, in a few words."""
    path, key = route.requests[0]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = await client.get(path, headers=headers)
    if response.status_code != 200:
        raise RouteFailed(f"answered {response.status_code}: {response.text[:300]}")
    body = response.json()
    if "features" in body:
        return f"{len(body['features'])} offers"
    if "items" in body:
        return f"{len(body['items'])} candidates"
    if "cells" in body:
        filled = sum(1 for cell in body["cells"] if cell.get("offered_t"))
        return f"{len(body['cells'])} cells, {filled} with offered tonnes"
    return "200"


def verdict(route: Route, figures: Figures, ratio: float) -> str:
    if not route.target:
        return ""
    met = (
        figures.requests > 0
        and (route.min_ratio is None or ratio >= route.min_ratio)
        and (route.max_p95_ms is None or figures.p95_ms <= route.max_p95_ms)
    )
    return f"{route.target}: {'met' if met else 'NOT met'}"


async def bench(args: argparse.Namespace, database_url: str, workdir: Path) -> None:
    server = ApiServer(database_url, args.api_processes, workdir / "api.log")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=300) as client:
            await server.wait_ready(client)
            started = time.perf_counter()
            data = await seed(client, database_url, args.offers, args.requests)
            print(
                f"seeded {args.offers:,} open offers, {len(data.requests):,} requests and "
                f"{KEYED_ORGANIZATIONS + 1} organizations in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            measured: list[Route] = []
            unmeasured: list[tuple[Route, str]] = []
            for route in routes(data):
                # /healthz, the baseline, is always measured.
                if route.short != "healthz" and route.short not in args.routes:
                    continue
                started = time.perf_counter()
                try:
                    answered = await check_route(client, route)
                except RouteFailed as refused:
                    unmeasured.append((route, str(refused)))
                    answered = f"{refused}; not measured"
                else:
                    measured.append(route)
                print(
                    f"  first {route.name}: {answered} in {time.perf_counter() - started:.2f} s",
                    flush=True,
                )
            if unmeasured:
                log_tail = server.log.read_text(errors="replace").splitlines()[-30:]
                print("the API's log ends:", *log_tail, sep="\n  ", flush=True)
        print(f"code: {code_version()}", flush=True)
        print(
            "load average before the measures: "
            + " ".join(f"{load:.2f}" for load in os.getloadavg()),
            flush=True,
        )
        print(
            f"API: `{server.command}` with {server.processes()} process(es) serving; wrk, "
            f"{args.connections} connections, {args.seconds:g} s a route after "
            f"{args.warmup:g} s of warm-up, {args.rounds} round(s)",
            flush=True,
        )
        scripts = [lua_script(route, workdir) for route in measured]
        rounds: list[list[Figures]] = [[] for _ in measured]
        for round_number in range(args.rounds):
            for script, measures in zip(scripts, rounds, strict=True):
                if args.warmup and round_number == 0:
                    run_wrk(server.url, script, args.warmup, args.connections)
                    await wait_until_idle(database_url)
                measures.append(run_wrk(server.url, script, args.seconds, args.connections))
                await wait_until_idle(database_url)
            if args.rounds > 1:
                print(
                    f"round {round_number + 1}, requests/s: "
                    + ", ".join(f"{measures[-1].requests_per_s:,.1f}" for measures in rounds),
                    flush=True,
                )
    finally:
        server.stop()

    results = [
        (route, combined(measures)) for route, measures in zip(measured, rounds, strict=True)
    ]
    baseline = results[0][1].requests_per_s
    print("load average after: " + " ".join(f"{load:.2f}" for load in os.getloadavg()))
    print()
    print("| route | requests/s | p50 | p95 | p99 | ratio to /healthz | target |")
    print("|---|---|---|---|---|---|---|")
    for route, figures in results:
        ratio = figures.requests_per_s / baseline
        failed = f" ({figures.failed:,} failed of {figures.requests:,})" if figures.failed else ""
        latencies = (
            " | ".join(f"{ms:,.1f} ms" for ms in (figures.p50_ms, figures.p95_ms, figures.p99_ms))
            if figures.requests
            else f"none answered within {figures.seconds:g} s | | "
        )
        print(
            f"| `{route.name}` | {figures.requests_per_s:,.1f}{failed} | {latencies} "
            f"| {ratio:.3f} x | {verdict(route, figures, ratio)} |"
        )
    for route, answer in unmeasured:
        print(f"| `{route.name}` | not measured: its first request {answer[:60]} | | | | | |")
    alone = [
        (route, statements_per_s(database_url, sql, args.seconds, args.connections, workdir))
        for route, _ in results
        if (sql := route.statement_alone) is not None
    ]
    if alone:
        print()
        print(
            f"Each route's statement alone on PostgreSQL, the API stopped (pgbench, prepared, "
            f"{args.connections} connections as the service's role, {args.seconds:g} s): the most "
            "the route could answer if the API's work cost nothing"
        )
        print()
        print("| route | statements/s | ratio to /healthz |")
        print("|---|---|---|")
        for route, rate in alone:
            print(f"| `{route.name}` | {rate:,.1f} | {rate / baseline:.3f} x |")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2, help="seconds of wrk before each route")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="runs of every route one after the other; requests/s over all of them, the median "
        "of their latencies (for a machine whose load changes)",
    )
    parser.add_argument(
        "--api-processes",
        type=int,
        default=None,
        help="BOUCLE_API_PROCESSES for the server (by default, what scripts/run.sh does)",
    )
    parser.add_argument(
        "--routes",
        type=lambda text: set(text.split(",")),
        default={"me", "near", "candidates", "stats"},
        help="the routes to measure beside /healthz, among me,near,candidates,stats (all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 2,000 offers, 200 requests, 2 s a route, no warm-up",
    )
    args = parser.parse_args()
    if args.quick:
        args.offers, args.requests, args.seconds, args.warmup = 2_000, 200, 2, 0
    ensure_wrk()
    server = server_url()
    try:
        database_url = await fresh_database(server, "boucle_bench_http")
        with tempfile.TemporaryDirectory(prefix="bench-http-") as workdir:
            await bench(args, database_url, Path(workdir))
    finally:
        if "BOUCLE_BENCH_DATABASE_URL" not in os.environ:
            stop_server()


if __name__ == "__main__":
    asyncio.run(main())
