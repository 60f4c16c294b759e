"""Test set-up: a real PostgreSQL + PostGIS cluster, started for the run, and the app served
over real HTTP semantics through its ASGI interface."""

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from app.main import create_app
from app.settings import PROJECT_ROOT, Settings
from app.worker import work_until_idle

ADMIN_TOKEN = "test-admin-token"
TEST_CLUSTER = PROJECT_ROOT / ".data" / "test-pg"


def _remove_cluster(path: Path) -> None:
    if path.is_symlink():
        shutil.rmtree(path.resolve(), ignore_errors=True)
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A URL of the test cluster's `boucle` database: BOUCLE_TEST_DATABASE_URL when set,
    else a throwaway cluster made for this run and removed after it."""
    given = os.environ.get("BOUCLE_TEST_DATABASE_URL")
    if given:
        yield given
        return
    pg = str(PROJECT_ROOT / "scripts" / "pg.sh")
    subprocess.run([pg, "stop", str(TEST_CLUSTER)], check=False)
    _remove_cluster(TEST_CLUSTER)
    url = subprocess.run(
        [pg, "start", str(TEST_CLUSTER), "--throwaway"], check=True, capture_output=True, text=True
    )
    try:
        yield url.stdout.strip()
    finally:
        subprocess.run([pg, "stop", str(TEST_CLUSTER)], check=False)
        _remove_cluster(TEST_CLUSTER)


def migrate(database_url: str, revision: str = "head", command: str = "upgrade") -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", command, revision],
        cwd=PROJECT_ROOT,
        env={**os.environ, "BOUCLE_DATABASE_URL": database_url},
        check=True,
    )


def load_reference(database_url: str, *commands: str) -> None:
    """Runs the loading commands of `python -m app.cli` (by default the EWC list and region)."""
    for command in commands or ("reference",):
        subprocess.run(
            [sys.executable, "-m", "app.cli", command],
            cwd=PROJECT_ROOT,
            env={**os.environ, "BOUCLE_DATABASE_URL": database_url},
            check=True,
        )


@pytest.fixture(scope="session")
def make_database(server_url: str) -> Callable[[str], Awaitable[str]]:
    """Creates an empty database on the test cluster and answers its URL."""

    async def make(name: str) -> str:
        url = make_url(server_url)
        conn = await asyncpg.connect(
            host=url.host, port=url.port, user=url.username, database="postgres"
        )
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return url.set(database=name).render_as_string(hide_password=False)

    return make


@pytest.fixture(scope="session")
async def database_url(make_database: Callable[[str], Awaitable[str]]) -> str:
    """The suite's database: migrated to head, with the reference data and the road network."""
    url = await make_database("boucle_test")
    migrate(url)
    load_reference(url, "reference", "roads")
    return url


def settings_for(database_url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        **overrides,
    )


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings_for(
            database_url,
            max_body_bytes=100_000,
            # The tests receive webhooks on a local port and retry them without waiting.
            webhooks_allow_private_urls=True,
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


@pytest.fixture(scope="session")
def make_org(client: httpx.AsyncClient) -> OrgFactory:
    async def make(*roles: str, name: str | None = None) -> Org:
        roles_list = list(roles) or ["supplier", "consumer"]
        response = await client.post(
            "/v1/organizations",
            json={"name": name or f"org-{uuid.uuid4().hex[:8]}", "roles": roles_list},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Org(id=body["id"], key=body["api_key"], roles=body["roles"])

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
    """A local HTTP endpoint that records what it receives and fails the first `failures`."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                status = 500 if receiver.failures > 0 else 204
                receiver.failures -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        bodies = [json.loads(r["body"]) for r in self.received]
        return [b for b in bodies if event_type is None or b["type"] == event_type]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def signature_is_valid(record: dict[str, Any]) -> bool:
    fields = dict(part.split("=", 1) for part in record["headers"]["Boucle-Signature"].split(","))
    expected = hmac.new(
        SECRET.encode(), f"{fields['t']}.".encode() + record["body"], hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


async def subscribe(client: httpx.AsyncClient, org: Org, url: str, events: list[str]) -> str:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": events, "secret": SECRET}, headers=org.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
