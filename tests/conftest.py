"""Test set-up: a real PostgreSQL + PostGIS cluster, started for the run, and the app served
over real HTTP semantics through its ASGI interface."""

import hashlib
import hmac
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from app.database_roles import (
    APPLICATION,
    OPEN_DATA,
    OWNER,
    new_passwords,
    prepare_database,
    role_url,
)
from app.kit.local_time import BRUSSELS
from app.main import create_app
from app.settings import PROJECT_ROOT, Settings
from app.worker import work_until_idle

# The `browser` fixture (Debian's Chromium through Playwright), for the tests of pages.
pytest_plugins = ["tests.browser"]

ADMIN_TOKEN = "test-admin-token"
TEST_CLUSTER = PROJECT_ROOT / ".data" / "test-pg"
# The passwords of the database's roles (app.database_roles) on the test cluster, set anew by
# each run.
ROLE_PASSWORDS = new_passwords()


def as_role(database_url: str, role: str) -> str:
    """The URL of the same database for one of the roles: the app connects as APPLICATION, the
    open data as OPEN_DATA, migrations and loaders as OWNER. Tests read and write beside the
    app through the cluster's superuser URL (`database_url`)."""
    return role_url(database_url, role, ROLE_PASSWORDS[role])


def role_environment(database_url: str) -> dict[str, str]:
    """The environment of a process of the service (a migration, a loader, a worker)."""
    return {
        **os.environ,
        "BOUCLE_DATABASE_URL": as_role(database_url, APPLICATION),
        "BOUCLE_MIGRATION_DATABASE_URL": as_role(database_url, OWNER),
        "BOUCLE_OPEN_DATA_DATABASE_URL": as_role(database_url, OPEN_DATA),
    }


def remove_cluster(path: Path) -> None:
    if path.is_symlink():
        shutil.rmtree(path.resolve(), ignore_errors=True)
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A superuser's URL of the test cluster: BOUCLE_TEST_DATABASE_URL when set (the roles'
    passwords of that cluster are set anew), else a throwaway cluster made for this run and
    removed after it, whose password file the run's clients read (PGPASSFILE)."""
    given = os.environ.get("BOUCLE_TEST_DATABASE_URL")
    if given:
        yield given
        return
    pg = str(PROJECT_ROOT / "scripts" / "pg.sh")
    subprocess.run([pg, "stop", str(TEST_CLUSTER)], check=False)
    remove_cluster(TEST_CLUSTER)
    url = subprocess.run(
        [pg, "start", str(TEST_CLUSTER), "--throwaway"], check=True, capture_output=True, text=True
    )
    os.environ["PGPASSFILE"] = str(TEST_CLUSTER.resolve() / "pgpass")
    try:
        yield url.stdout.strip()
    finally:
        subprocess.run([pg, "stop", str(TEST_CLUSTER)], check=False)
        remove_cluster(TEST_CLUSTER)


def superuser_url(cluster: Path, printed: str) -> str:
    """The superuser's URL of a cluster pg.sh started (`printed`, with no password), with the
    password the cluster keeps: for a cluster of a test's own beside the suite's."""
    password = (cluster.resolve() / "password").read_text().strip()
    return make_url(printed).set(password=password).render_as_string(hide_password=False)


def migrate(database_url: str, revision: str = "head", command: str = "upgrade") -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", command, revision],
        cwd=PROJECT_ROOT,
        env=role_environment(database_url),
        check=True,
    )


def load_reference(database_url: str, *commands: str) -> None:
    """Runs the loading commands of `python -m app.cli` (by default the EWC list and region)."""
    for command in commands or ("reference",):
        subprocess.run(
            [sys.executable, "-m", "app.cli", command],
            cwd=PROJECT_ROOT,
            env=role_environment(database_url),
            check=True,
        )


@pytest.fixture(scope="session")
def make_database(server_url: str) -> Callable[[str], Awaitable[str]]:
    """Creates an empty database on the test cluster and answers its URL."""

    async def make(name: str) -> str:
        return await create_database(server_url, name)

    return make


async def connect_raw(database_url: str, database: str | None = None) -> asyncpg.Connection:
    """A plain asyncpg connection to the database of this SQLAlchemy URL (or to `database` on
    its server), for what a test or a benchmark reads or holds beside the app."""
    url = make_url(database_url)
    return await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=database or url.database,
    )


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


async def create_database(server_url: str, name: str) -> str:
    """An empty database `name` on the server (dropped first if it was there), owned by the
    owner's role and open to the roles, as set-up makes it; its superuser's URL."""
    await prepare_database(server_url, name, ROLE_PASSWORDS, fresh=True)
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def database_url(make_database: Callable[[str], Awaitable[str]]) -> str:
    """The suite's database: migrated to head, with the reference data and the road network."""
    url = await make_database("boucle_test")
    migrate(url)
    load_reference(url, "reference", "roads")
    return url


# The tests' receivers listen on loopback, on ports of their own: the one private destination
# the suite's app delivers to (`localhost` may resolve to ::1 too, on some machines).
LOOPBACK_RECEIVERS = ["127.0.0.1", "::1"]

# The suite sends thousands of requests within minutes from one address and with one admin
# token, into counters that its apps share (the fuzzer's key alone sends thousands): the limit
# stays on, so that every answer goes through it, but this high. tests/test_rate_limits.py
# sets low ones.
SUITE_RATE_LIMIT = 1_000_000


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """The service's settings on this database, each part connecting as its role."""
    return Settings(
        database_url=as_role(database_url, APPLICATION),
        migration_database_url=as_role(database_url, OWNER),
        open_data_database_url=as_role(database_url, OPEN_DATA),
        admin_token=ADMIN_TOKEN,
        **{
            # Nothing a test does sends a webhook past this machine's loopback.
            "webhook_allowed_hosts": ["127.0.0.1", "localhost"],
            "rate_limit_requests": SUITE_RATE_LIMIT,
            **overrides,
        },
    )


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings_for(
            database_url,
            max_body_bytes=100_000,
            # Twice 25 connections: the race tests hold up to fifty requests in the database
            # at once (tests.overlap), each on a connection of its own.
            db_pool_size=25,
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


@dataclass
class Org:
    id: str
    key: str
    roles: list[str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


OrgFactory = Callable[..., Awaitable[Org]]


async def create_org(client: httpx.AsyncClient, *roles: str, name: str | None = None) -> Org:
    """An organization made with the admin token, with these roles (supplier and consumer by
    default)."""
    roles_list = list(roles) or ["supplier", "consumer"]
    response = await client.post(
        "/v1/organizations",
        json={"name": name or f"org-{uuid.uuid4().hex[:8]}", "roles": roles_list},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Org(id=body["id"], key=body["api_key"], roles=body["roles"])


@pytest.fixture(scope="session")
def make_org(client: httpx.AsyncClient) -> OrgFactory:
    async def make(*roles: str, name: str | None = None) -> Org:
        return await create_org(client, *roles, name=name)

    return make


# Places in Brussels used across the tests ([lon, lat]).
RECY_K = [4.3211, 50.8413]
GRAND_PLACE = [4.3525, 50.8467]
TOUR_TAXIS = [4.3467, 50.8660]
PARIS = [2.3522, 48.8566]


def point(coordinates: list[float], crs: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "Point", "coordinates": coordinates}
    if crs:
        body["crs"] = crs
    return body


def offer_body(**overrides: Any) -> dict[str, Any]:
    return {
        "location": point(RECY_K),
        "material": "170504",
        "title": "Excavated soil",
        "quantity": {"value": 12, "unit": "t"},
        "condition": "B",
        "available_from": "2026-12-01",
        "available_until": "2026-12-31",
        **overrides,
    }


def request_body(**overrides: Any) -> dict[str, Any]:
    return {
        "location": point(GRAND_PLACE),
        "material": "1705",
        "quantity": {"value": 5, "unit": "t"},
        "needed_from": "2026-12-05",
        "needed_by": "2026-12-20",
        "max_distance_km": 15,
        "min_condition": "C",
        **overrides,
    }


PLAN_DAY = "2026-12-02"
PLAN_SHOPS = [[4.3540, 50.8510], [4.3480, 50.8470], [4.3600, 50.8450], [4.3510, 50.8400]]


def plan_body(time_limit_s: float, shops: int = 4) -> dict[str, Any]:
    """A day of `shops` parcels from Tour & Taxis by two cargo bikes (parcel-0, ...)."""

    def window(start: str, end: str) -> dict[str, str]:
        return {
            "window_from": f"{PLAN_DAY}T{start}:00+01:00",
            "window_until": f"{PLAN_DAY}T{end}:00+01:00",
        }

    return {
        "date": PLAN_DAY,
        "vehicles": [
            {"name": f"Bike {k}", "type": "cargo_bike", "start": point(TOUR_TAXIS)} for k in (1, 2)
        ],
        "shipments": [
            {
                "reference": f"parcel-{k}",
                "pickup": {"location": point(TOUR_TAXIS), **window("08:00", "12:00")},
                "delivery": {"location": point(shop), **window("09:00", "17:00")},
                "load_kg": 20,
            }
            for k, shop in enumerate(PLAN_SHOPS[:shops])
        ],
        "time_limit_s": time_limit_s,
    }


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


class Receiver:
    """A local HTTP endpoint that records what it receives, and when, and answers the first
    `failures` with `failure_status` (and `failure_body`), then 204. With `tls` (a certificate
    and its key), it speaks https. `on_receipt(n)` runs on the n-th request before the answer
    (to hold it, say)."""

    def __init__(
        self,
        failures: int = 0,
        failure_status: int = 500,
        failure_body: bytes = b"",
        tls: tuple[Path, Path] | None = None,
        on_receipt: Callable[[int], None] | None = None,
    ) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    {"headers": dict(self.headers), "body": body, "at": time.time()}
                )
                if on_receipt is not None:
                    on_receipt(len(receiver.received))
                failing = receiver.failures > 0
                receiver.failures -= 1
                self.send_response(failure_status if failing else 204)
                self.send_header("Content-Length", str(len(failure_body) if failing else 0))
                self.end_headers()
                if failing:
                    self.wfile.write(failure_body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        bodies = [json.loads(r["body"]) for r in self.received]
        return [b for b in bodies if event_type is None or b["type"] == event_type]


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
