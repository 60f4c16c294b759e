"""Test set-up: a real PostgreSQL + PostGIS cluster, started for the run, and the app served
over real HTTP semantics through its ASGI interface."""

import hashlib
import hmac
import os
import socket
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from app.kit.local_time import BRUSSELS
from app.main import create_app
from app.settings import PROJECT_ROOT
from app.worker.process import work_until_idle

# What the benchmarks use too is the testbed's; the tests import it from here or from there.
from testbed.api import GRAND_PLACE as GRAND_PLACE
from testbed.api import PARIS as PARIS
from testbed.api import PLAN_DAY as PLAN_DAY
from testbed.api import PLAN_SHOPS as PLAN_SHOPS
from testbed.api import RECY_K as RECY_K
from testbed.api import TOUR_TAXIS as TOUR_TAXIS
from testbed.api import Org, create_org
from testbed.api import offer_body as offer_body
from testbed.api import plan_body as plan_body
from testbed.api import point as point
from testbed.api import request_body as request_body
from testbed.cluster import remove_cluster, start_throwaway_cluster, stop_cluster
from testbed.database import as_role as as_role
from testbed.database import connect_raw, create_database, load_reference, migrate
from testbed.database import role_environment as role_environment
from testbed.receivers import Receiver
from testbed.service import ADMIN_TOKEN as ADMIN_TOKEN
from testbed.service import LOOPBACK_RECEIVERS, settings_for

# The `browser` fixture (Debian's Chromium through Playwright), for the tests of pages.
pytest_plugins = ["tests.browser"]

TEST_CLUSTER = PROJECT_ROOT / ".data" / "test-pg"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A superuser's URL of the test cluster: BOUCLE_TEST_DATABASE_URL when set (the roles'
    passwords of that cluster are set anew), else a throwaway cluster made for this run and
    removed after it, whose password file the run's clients read (PGPASSFILE)."""
    given = os.environ.get("BOUCLE_TEST_DATABASE_URL")
    if given:
        yield given
        return
    stop_cluster(TEST_CLUSTER)
    remove_cluster(TEST_CLUSTER)
    url = start_throwaway_cluster(TEST_CLUSTER)
    try:
        yield url
    finally:
        stop_cluster(TEST_CLUSTER)
        remove_cluster(TEST_CLUSTER)


def superuser_url(cluster: Path, printed: str) -> str:
    """The superuser's URL of a cluster pg.sh started (`printed`, with no password), with the
    password the cluster keeps: for a cluster of a test's own beside the suite's."""
    password = (cluster.resolve() / "password").read_text().strip()
    return make_url(printed).set(password=password).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def make_database(server_url: str) -> Callable[[str], Awaitable[str]]:
    """Creates an empty database on the test cluster and answers its URL."""

    async def make(name: str) -> str:
        return await create_database(server_url, name)

    return make


async def date_in_month(database_url: str, month: str, organization_ids: list[str]) -> None:
    """Dates everything these organizations posted (listings, matches of their offers, hub
    movements, route plans) on the 15th of `month` (YYYY-MM) at noon in Brussels, as if they
    had posted it then: for the statistics, which publish months that have ended. Movements
    are append-only; their trigger is off for this alone."""
    moment = datetime.fromisoformat(f"{month}-15T12:00:00").replace(tzinfo=BRUSSELS)
    ids = [uuid.UUID(i) for i in organization_ids]
    connection = await connect_raw(database_url)
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
            for table in ("offers", "material_requests", "hub_movements"):
                await connection.execute(
                    f"UPDATE {table} SET created_at = $2 WHERE organization_id = ANY($1)",
                    ids,
                    moment,
                )
            await connection.execute(
                """UPDATE matches m SET created_at = $2::timestamptz,
                          offer_accepted_at = CASE WHEN offer_accepted_at IS NOT NULL
                                                   THEN $2::timestamptz END,
                          request_accepted_at = CASE WHEN request_accepted_at IS NOT NULL
                                                     THEN $2::timestamptz END,
                          fulfilled_at = CASE WHEN fulfilled_at IS NOT NULL
                                              THEN $2::timestamptz END
                    FROM offers o WHERE o.id = m.offer_id AND o.organization_id = ANY($1)""",
                ids,
                moment,
            )
            await connection.execute(
                "UPDATE route_plans SET date = $2 WHERE organization_id = ANY($1)",
                ids,
                moment.date(),
            )
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def database_url(make_database: Callable[[str], Awaitable[str]]) -> str:
    """The suite's database: migrated to head, with the reference data, the road network and
    the shopping districts."""
    url = await make_database("boucle_test")
    migrate(url)
    load_reference(url, "reference", "roads", "districts")
    return url


@pytest.fixture(scope="session")
def geocoder_database(database_url: str) -> str:
    """The suite's database with the geocoder's streets and house numbers (python -m app.cli
    addresses, some 5 s), loaded once for the tests that need them."""
    load_reference(database_url, "addresses")
    return database_url


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings_for(
            database_url,
            max_body_bytes=100_000,
            # 34 connections and half as many for bursts: the race tests hold up to fifty
            # requests in the database at once (tests.overlap), each on a connection of its own.
            db_pool_size=34,
            # The tests receive webhooks on a local port and retry them without waiting.
            webhook_private_hosts=LOOPBACK_RECEIVERS,
            webhook_retry_base_seconds=0,
        )
    )
    # The app's lifespan opens the job queue and, at the end, closes the database engine.
    async with application.router.lifespan_context(application):
        yield application


WorkerRun = Callable[[], Awaitable[None]]


@pytest.fixture(scope="session")
def run_worker(app: FastAPI) -> WorkerRun:
    """Runs a real procrastinate worker until the queue has nothing due, then stops it."""

    async def run() -> None:
        await work_until_idle(app)

    return run


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://boucle.test") as c:
        yield c


OrgFactory = Callable[..., Awaitable[Org]]


@pytest.fixture(scope="session")
def make_org(client: httpx.AsyncClient) -> OrgFactory:
    async def make(*roles: str, name: str | None = None) -> Org:
        return await create_org(client, *roles, name=name)

    return make


def assert_problem(
    response: httpx.Response, status: int, field: str | None = None, rule: str | None = None
) -> dict[str, Any]:
    """The response is problem+json with this status and, for validation, names this field and rule."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"] and body["title"]
    if field is not None:
        failing = {(e["field"], e["rule"]) for e in body["errors"]}
        assert (field, rule) in failing, failing
        assert field in body["detail"]
    return body


# Webhook receivers

SECRET = "a-secret-of-at-least-16-chars"


class SocketReceiver:
    """A local endpoint on a bare socket, for the answers http.server cannot give: it reads
    each request whole, then hands the connection to `answer(connection, stopped)`, which
    writes what it likes until the client hangs up or the receiver is closed."""

    def __init__(self, answer: Callable[[socket.socket, threading.Event], None]) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.requested = threading.Event()  # a request was read whole
        self.hung_up = threading.Event()  # the client closed a connection while answered
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()
        self.listener.close()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(None)
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(body) < length:
                body += connection.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + body)
            self.requested.set()
            try:
                self.answer(connection, self.stopped)
            except OSError:
                self.hung_up.set()

    def close(self) -> None:
        self.stopped.set()


def answer_trickling(connection: socket.socket, stopped: threading.Event) -> None:
    """200 with a body of a thousand bytes, sent one every 2 seconds."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    while not stopped.wait(2):
        connection.sendall(b".")


def answer_endlessly(connection: socket.socket, stopped: threading.Event) -> None:
    """200 with a body that never ends (no length: it would end when the connection does)."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    while not stopped.is_set():
        connection.sendall(b"x" * 16384)


def self_signed_certificate(directory: Path, host: str) -> tuple[Path, Path]:
    """A certificate for `host` (a name only, no IP address) and its key, made by openssl."""
    certificate, key = directory / "certificate.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}"),
            *("-keyout", str(key), "-out", str(certificate)),
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def signature_parts(record: dict[str, Any]) -> tuple[str, list[str]]:
    """The `t` and every `v1` of a received delivery's `Boucle-Signature`, in order."""
    parts = [part.split("=", 1) for part in record["headers"]["Boucle-Signature"].split(",")]
    [timestamp] = [value for name, value in parts if name == "t"]
    return timestamp, [value for name, value in parts if name == "v1"]


def signature_is_valid(record: dict[str, Any], secret: str = SECRET) -> bool:
    """What a receiver checks: one of the `v1` values is the HMAC-SHA256, with its secret,
    of `t`, a dot and the raw body it received."""
    timestamp, signatures = signature_parts(record)
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + record["body"], hashlib.sha256
    ).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


async def subscribe(client: httpx.AsyncClient, org: Org, url: str, events: list[str]) -> str:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": events, "secret": SECRET}, headers=org.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
