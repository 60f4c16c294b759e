"""What the benchmarks share: a throwaway PostgreSQL cluster (or the server that
BOUCLE_BENCH_DATABASE_URL names), fresh databases on it, free ports and percentiles."""

import os
import socket
import statistics
import subprocess
import sys

import asyncpg
from sqlalchemy.engine import make_url

from app.settings import PROJECT_ROOT

CLUSTER = PROJECT_ROOT / ".data" / "bench-pg"
PG = str(PROJECT_ROOT / "scripts" / "pg.sh")


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
    out = subprocess.run(
        [PG, "start", str(CLUSTER), "--throwaway"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return out.stdout.strip()


async def fresh_database(server: str, name: str) -> str:
    url = make_url(server)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database="postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    database_url = url.set(database=name).render_as_string(hide_password=False)
    env = {**os.environ, "BOUCLE_DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=PROJECT_ROOT, env=env, check=True
    )
    subprocess.run(
        [sys.executable, "-m", "app.cli", "reference"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return database_url


def stop_server() -> None:
    """Stops the throwaway cluster, if the benchmark started one."""
    if "BOUCLE_BENCH_DATABASE_URL" not in os.environ:
        subprocess.run([PG, "stop", str(CLUSTER)], check=False)
