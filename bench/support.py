"""What the benchmarks share: a throwaway PostgreSQL cluster (or the server that
BOUCLE_BENCH_DATABASE_URL names), fresh databases on it, free ports, percentiles, and an API
server of their own."""

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time

import httpx

from app.settings import PROJECT_ROOT
from testbed.cluster import start_throwaway_cluster, stop_cluster
from testbed.database import create_database, load_reference, migrate, role_environment
from testbed.service import ADMIN_TOKEN

CLUSTER = PROJECT_ROOT / ".data" / "bench-pg"
# The EWC codes the benchmarks' listings are drawn from: construction, packaging and
# municipal waste, the families Brussels' yards see most.
CODES = [
    "170101",
    "170102",
    "170107",
    "170201",
    "170202",
    "170203",
    "170405",
    "170407",
    "170504",
    "170802",
    "170904",
    "150101",
    "150102",
    "150103",
    "191204",
    "191207",
    "200101",
    "200110",
    "200138",
    "200140",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def server_url() -> str:
    given = os.environ.get("BOUCLE_BENCH_DATABASE_URL")
    if given:
        return given
    return start_throwaway_cluster(CLUSTER)


async def fresh_database(server: str, name: str) -> str:
    """A database `name` made anew on the server, migrated, with the reference data."""
    database_url = await create_database(server, name)
    migrate(database_url)
    load_reference(database_url, "reference")
    return database_url


def stop_server() -> None:
    """Stops the throwaway cluster, if the benchmark started one."""
    if "BOUCLE_BENCH_DATABASE_URL" not in os.environ:
        stop_cluster(CLUSTER)


def start_api(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**role_environment(database_url), "BOUCLE_ADMIN_TOKEN": ADMIN_TOKEN}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=PROJECT_ROOT,
        env=env,
    )


async def until_up(client: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    """Waits for the server's first answer (a loaded machine may take a minute to start it)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            await asyncio.sleep(0.2)
    raise RuntimeError("the API server did not start")
