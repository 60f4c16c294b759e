"""The short request path, on a real PostgreSQL through real HTTP: an authenticated GET of
/v1/organizations/me is one round trip to the database and a GET reads without a
transaction; connections are taken from the pool without a ping, and those the database ended
are replaced by the next requests without an error; `python -m app.serve` runs several API
processes, which add their metrics up and where a revoked key stops at once."""

import asyncio
import inspect
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import event, text

from app.main import create_app
from app.settings import PROJECT_ROOT
from testbed.service import SUITE_RATE_LIMIT
from tests.conftest import (
    ADMIN_TOKEN,
    RECY_K,
    Org,
    connect_raw,
    create_org,
    point,
    role_environment,
    settings_for,
)

ME = "/v1/organizations/me"


@dataclass
class Sent:
    """What an app's connections send to PostgreSQL, one entry a round trip: the statements
    SQLAlchemy runs (asyncpg's prepared statements), and the queries asyncpg's query logger
    reports, a little later: those it sends by itself (BEGIN, COMMIT, ROLLBACK, a pool's ping
    `;`) and a request's first statement, which `app.db.run_alone` runs on the driver. Prepared
    statements are parsed once per connection, before the requests measured here. And the
    server process of each connection."""

    queries: list[str] = field(default_factory=list)
    backends: list[int] = field(default_factory=list)

    def record(self, app: FastAPI) -> None:
        engine = app.state.engine.sync_engine
        event.listen(engine, "connect", self._connected)
        event.listen(engine, "before_cursor_execute", self._statement)

    def _connected(self, dbapi_connection: Any, _: Any) -> None:
        raw = dbapi_connection.driver_connection
        self.backends.append(raw.get_server_pid())
        raw.add_query_logger(lambda logged: self.queries.append(logged.query))

    def _statement(self, *args: Any) -> None:
        self.queries.append(args[2])

    async def during(self, request: Any) -> tuple[httpx.Response, list[str]]:
        """The answer to `request` (awaitable) and what was sent meanwhile."""
        self.queries.clear()
        answer = await request
        # asyncpg calls its query loggers soon after, on the event loop.
        await asyncio.sleep(0.05)
        return answer, list(self.queries)


@asynccontextmanager
async def recorded(database_url: str, **overrides: Any) -> AsyncIterator[tuple[Sent, Any]]:
    """An API process of its own (a pool of its own, every connection recorded) and a client."""
    app = create_app(settings_for(database_url, **overrides))
    sent = Sent()
    sent.record(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://boucle.test") as c:
            yield sent, c


def _transaction_control(queries: list[str]) -> list[str]:
    """BEGIN, COMMIT, ROLLBACK and pings among `queries` (asyncpg's, reported after the
    statements they came before)."""
    words = [(q.strip(" ;").split() or [""])[0].upper() for q in queries]
    return [word for word in words if word in ("BEGIN", "COMMIT", "ROLLBACK", "")]


def _site() -> dict[str, Any]:
    return {"name": "yard", "kind": "yard", "location": point(RECY_K)}


@pytest.mark.parametrize("rate_limit", [SUITE_RATE_LIMIT, 0], ids=["limited", "unlimited"])
async def test_an_authenticated_get_of_me_is_one_round_trip(
    database_url: str, rate_limit: int
) -> None:
    async with recorded(database_url, rate_limit_requests=rate_limit) as (sent, client):
        org = await create_org(client, "supplier")
        # The key's first use writes its `last_used_at`; the next ones within a minute read.
        first, _ = await sent.during(client.get(ME, headers=org.headers))
        assert first.status_code == 200

        me, queries = await sent.during(client.get(ME, headers=org.headers))
        assert me.status_code == 200 and me.json()["id"] == org.id
        assert me.json()["roles"] == ["supplier"] and me.json()["name"].startswith("org-")
        # Seven before: a ping (BEGIN, `;`, ROLLBACK), the count with the key, then BEGIN, the
        # organization and COMMIT. Now the key's statement, which read the organization too.
        assert len(queries) == 1, queries
        assert queries[0].count("FROM api_keys JOIN organizations") == 1, queries

        # A GET that reads more reads it without a transaction: no BEGIN, no COMMIT. With the
        # limit, its count and key come from what the last statement reserved
        # (app.gateway.grants): it runs its own statement alone.
        listed, queries = await sent.during(client.get("/v1/offers", headers=org.headers))
        assert listed.status_code == 200, listed.text
        # (The key's statement runs on the driver, whose logger reports it after the others.)
        assert len(queries) == (1 if rate_limit else 2), queries
        assert sum("FROM offers" in q for q in queries) == 1, queries
        assert not _transaction_control(queries)
        # A write is one transaction still.
        made, queries = await sent.during(
            client.post("/v1/sites", json=_site(), headers=org.headers)
        )
        assert made.status_code == 201, made.text
        assert sorted(_transaction_control(queries)) == ["BEGIN", "COMMIT"], queries


async def test_sixteen_clients_at_once_keep_the_pool_s_connections(database_url: str) -> None:
    """A burst of requests beyond the pool opens connections that close when they come back
    to a full pool, and the next burst opens them again: with the default pool, sixteen
    clients at once, round after round, keep to the connections the first round opened."""
    async with recorded(database_url) as (sent, client):
        orgs = [await create_org(client, "supplier") for _ in range(4)]
        for _ in range(6):
            answers = await asyncio.gather(
                *(client.get(ME, headers=orgs[k % 4].headers) for k in range(16))
            )
            assert {answer.status_code for answer in answers} == {200}
        assert len(sent.backends) <= 16, f"{len(sent.backends)} connections opened"


async def test_a_request_that_finds_every_connection_busy_answers_503(database_url: str) -> None:
    async with recorded(database_url, db_pool_size=1, db_pool_timeout_seconds=0.5) as (_, c):
        org = await create_org(c, "supplier")
        engine = c._transport.app.state.engine
        async with engine.connect() as held:
            await held.execute(text("SELECT 1"))
            busy = await c.get(ME, headers=org.headers)
        assert busy.status_code == 503, busy.text
        assert busy.headers["Retry-After"] == "5"
        assert busy.headers["content-type"] == "application/problem+json"
        assert (await c.get(ME, headers=org.headers)).status_code == 200


def test_no_dependency_of_a_route_runs_in_a_thread() -> None:
    """FastAPI runs a dependency written `def` in its thread pool, a hop to a thread and back
    on every request that uses it: every dependency of the API is `async def`."""
    app = create_app(settings_for("postgresql+asyncpg://nobody@127.0.0.1/none"))

    def routes(candidates: list[Any]) -> Iterator[APIRoute]:
        for route in candidates:
            if hasattr(route, "original_router"):  # an included router
                yield from routes(route.original_router.routes)
            elif isinstance(route, APIRoute) and route.path != "/metrics":
                yield route

    def threaded(dependant: Dependant) -> Iterator[str]:
        for dependency in dependant.dependencies:
            call = dependency.call
            # A function, or an object whose __call__ is (HTTPBearer).
            function = call if inspect.isroutine(call) else type(call).__call__
            if not (inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)):
                yield getattr(call, "__qualname__", repr(call))
            yield from threaded(dependency)

    found = {
        (route.path, name) for route in routes(app.routes) for name in threaded(route.dependant)
    }
    assert not found


async def test_a_get_s_session_reads_alone_and_writes_in_one_transaction(
    database_url: str,
) -> None:
    # What a GET that writes gets (statistics publish a month when first read): reads without
    # a transaction until the first write, then one transaction to the end.
    async with recorded(database_url) as (sent, client):
        app: FastAPI = client._transport.app
        name = f"read-first-{os.getpid()}-{time.monotonic_ns()}"
        exists = text("SELECT count(*) FROM rate_limit_counters WHERE subject = :code")
        async with app.state.read_sessionmaker() as session:
            sent.queries.clear()
            assert await session.scalar(exists, {"code": name}) == 0
            await asyncio.sleep(0.05)
            assert len(sent.queries) == 1, sent.queries
            await session.execute(
                text(
                    "INSERT INTO rate_limit_counters (subject, window_ends_at, count) "
                    "VALUES (:code, now(), 1)"
                ),
                {"code": name},
            )
            # In the transaction that the write began: it sees its own row; nobody else does.
            assert await session.scalar(exists, {"code": name}) == 1
            async with app.state.read_sessionmaker() as other:
                assert await other.scalar(exists, {"code": name}) == 0
            await session.rollback()
        await asyncio.sleep(0.05)
        assert sorted(_transaction_control(sent.queries)) == ["BEGIN", "ROLLBACK"], sent.queries
        async with app.state.read_sessionmaker() as session:
            assert await session.scalar(exists, {"code": name}) == 0


async def _end_connections(database_url: str, backends: list[int]) -> int:
    superuser = await connect_raw(database_url)
    try:
        ended = await superuser.fetchval(
            # Each gone once this answers (the timeout: at most 5 s of waiting for it).
            "SELECT count(*) FROM unnest($1::int[]) AS pid WHERE pg_terminate_backend(pid, 5000)",
            backends,
        )
    finally:
        await superuser.close()
    return int(ended)


@pytest.mark.parametrize("rate_limit", [SUITE_RATE_LIMIT, 0], ids=["limited", "unlimited"])
async def test_connections_the_database_ended_are_replaced_by_the_next_requests(
    database_url: str, rate_limit: int
) -> None:
    async with recorded(database_url, rate_limit_requests=rate_limit) as (sent, client):
        org = await create_org(client, "supplier")
        # A few connections in the pool, all idle.
        answers = await asyncio.gather(*(client.get(ME, headers=org.headers) for _ in range(4)))
        assert [a.status_code for a in answers] == [200] * 4
        assert await _end_connections(database_url, sent.backends) >= 2

        # Each request after finds a dead connection first, or a new one: none answers 5xx.
        after = await asyncio.gather(*(client.get(ME, headers=org.headers) for _ in range(4)))
        assert [a.status_code for a in after] == [200] * 4, [a.text for a in after]
        listed = await client.get("/v1/offers", headers=org.headers)
        made = await client.post("/v1/sites", json=_site(), headers=org.headers)
        assert (listed.status_code, made.status_code) == (200, 201), (listed.text, made.text)

        # Once more, between a request's first statement and its session: the write too.
        assert await _end_connections(database_url, sent.backends) >= 1
        made = await client.post("/v1/sites", json=_site(), headers=org.headers)
        assert made.status_code == 201, made.text
        read = await client.get(made.headers["location"], headers=org.headers)
        assert read.status_code == 200 and read.json()["id"] == made.json()["id"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _children(pid: int) -> list[str]:
    """The command lines of `pid`'s child processes."""
    lines = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == pid:
                lines.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue
    return lines


@pytest.fixture
def two_processes(database_url: str, tmp_path: Path) -> Iterator[str]:
    """`python -m app.serve` with BOUCLE_API_PROCESSES=2, as `make run` starts it."""
    port = _free_port()
    env = {
        **role_environment(database_url),
        "BOUCLE_API_PROCESSES": "2",
        "BOUCLE_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.serve", "--port", str(port), "--no-access-log"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _serving(url):
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        workers = [c for c in _children(process.pid) if "spawn_main" in c]
        assert len(workers) == 2, _children(process.pid)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log.close()


def _serving(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _requests_counted(metrics: str, handler: str) -> float:
    pattern = rf'^http_requests_total\{{[^}}]*handler="{re.escape(handler)}"[^}}]*\}} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, metrics, re.MULTILINE))


async def test_two_api_processes_add_their_metrics_up_and_refuse_a_revoked_key_at_once(
    two_processes: str,
) -> None:
    # A connection of its own for each request, so that both processes take some.
    def fresh() -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=two_processes, headers={"Connection": "close"})

    async with fresh() as client:
        org = await create_org(client)
        second = await client.post(f"{ME}/keys", json={"name": "second"}, headers=org.headers)
        assert second.status_code == 201, second.text
    other = Org(org.id, second.json()["api_key"], org.roles)

    async def me(key: Org) -> int:
        async with fresh() as client:
            return (await client.get(ME, headers=key.headers)).status_code

    assert await asyncio.gather(*(me(org) for _ in range(12))) == [200] * 12
    async with fresh() as client:
        metrics = (await client.get("/metrics")).text
    assert _requests_counted(metrics, ME) == 12, metrics[-3000:]

    async with fresh() as client:
        revoked = await client.delete(f"{ME}/keys/{second.json()['id']}", headers=org.headers)
    assert revoked.status_code == 204, revoked.text
    assert await asyncio.gather(*(me(other) for _ in range(8))) == [401] * 8
    assert await asyncio.gather(*(me(org) for _ in range(4))) == [200] * 4


def test_api_processes_default_to_the_cores(database_url: str) -> None:
    settings = settings_for(database_url)
    assert settings.api_processes == 0
    assert settings.api_process_count == len(os.sched_getaffinity(0))
    assert settings_for(database_url, api_processes=3).api_process_count == 3
