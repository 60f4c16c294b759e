"""Schemathesis over the app's whole OpenAPI document: every operation, with inputs that keep to
the document and inputs that break it, against the app served by uvicorn on 127.0.0.1 over a
database of its own. The fuzzer is an organization with every role that owns a row of each
kind (sites, a yard with stock, offers, requests, matches, a vehicle, a shipment, a route plan,
a matching run, subscriptions), and path parameters, ids in queries and bodies and material
codes are the ids of those rows more often than not, so that the paths behind the 404s run
too. No answer may be a 5xx, and every answer keeps to the document: its status code, its
content type, its body. Deterministic: a fixed seed and no example database, so that a run
finds what the previous one found. Webhooks go only to a local receiver, the one host the app
allows, and the last fuzz test checks that nothing was sent elsewhere.

BOUCLE_FUZZ_EXAMPLES sets the examples per operation and phase (scripts/fuzz.py runs more).

Also here, as it needs a real server too: an unexpected error answers a 500 problem and keeps
the connection for the next request."""

import http.client
import json
import logging
import os
import socket
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st
from sqlalchemy import select

from app.main import create_app
from app.models import Webhook, WebhookDelivery
from app.webhooks.attempts import deliver
from app.webhooks.schemas import EventType
from app.worker.process import work_until_idle
from tests.conftest import (
    ADMIN_TOKEN,
    GRAND_PLACE,
    PLAN_DAY,
    RECY_K,
    SECRET,
    TOUR_TAXIS,
    Receiver,
    create_database,
    load_reference,
    migrate,
    offer_body,
    plan_body,
    point,
    request_body,
    settings_for,
)
from tests.live_server import Served

EXAMPLES = int(os.environ.get("BOUCLE_FUZZ_EXAMPLES", "50"))
SEED = 15
# Every role, so that every operation runs past its role check.
FUZZER_ROLES = ("supplier", "consumer", "hub_operator", "carrier", "admin", "shop")
EVENTS = [event.value for event in EventType]
MATERIALS = ["170504", "1705", "17", "170201", "200110"]

T = TypeVar("T")


# The ids of the fuzzer's rows by the name of the parameter or field that takes them, and the
# ids the DELETE operations take: rows of their own, so that the other operations keep theirs.
KNOWN: dict[str, list[str]] = {}
SPARE: dict[str, list[str]] = {}


def _with_known_ids(value: Any, name: str | None = None, delete: bool = False) -> Any:
    """A strategy that answers `value` or, in each field named like ids the fuzzer holds, one
    of those ids instead (in an id list, some of them), at every depth of a body."""
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: _with_known_ids(v, k, delete) for k, v in value.items()})
    ids = (SPARE if delete else KNOWN).get((name or "").removesuffix("s"), [])
    if ids and isinstance(value, str):
        return st.sampled_from([*ids, value])
    if ids and isinstance(value, list):
        return st.one_of(st.lists(st.sampled_from(ids), min_size=1, max_size=3), st.just(value))
    if isinstance(value, list):
        return st.tuples(*(_with_known_ids(v, None, delete) for v in value)).map(list)
    return st.just(value)


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        "generation": {
            "mode": "all",
            "max-examples": EXAMPLES,
            "deterministic": True,
            "database": "none",
            # The fuzzer's key goes with every call; the tests of auth are elsewhere.
            "with-security-parameters": False,
        },
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
        },
    }
)
# The document as the app makes it (the settings do not change it).
schema = schemathesis.openapi.from_dict(
    create_app(settings_for("postgresql+asyncpg://127.0.0.1/unused")).openapi(), config=CONFIG
)


@schema.hook
def flatmap_path_parameters(context: schemathesis.HookContext, parameters: Any) -> Any:
    delete = context.operation is not None and context.operation.method.upper() == "DELETE"
    return _with_known_ids(parameters, delete=delete)


@schema.hook
def flatmap_query(context: schemathesis.HookContext, query: Any) -> Any:
    return _with_known_ids(query)


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> Any:
    return _with_known_ids(body)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Fuzzed:
    """The app under the fuzzer, its one allowed receiver, the fuzzer's key, and the status
    codes answered to each operation."""

    served: Served
    receiver: Receiver
    key: str
    session: requests.Session = field(default_factory=requests.Session)
    answers: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    calls: int = 0

    def call_and_validate(self, case: schemathesis.Case) -> None:
        # One key for every body would answer 409 to all but the first: a valid key is made
        # unique to the call, an invalid one is sent as it is.
        key = case.headers.get("Idempotency-Key") if case.headers else None
        if isinstance(key, str) and 1 <= len(key) <= 255:
            case.headers["Idempotency-Key"] = f"{self.calls}-{key}"[:255]
        admin = (case.method.upper(), case.path) == ("POST", "/v1/organizations")
        headers = _bearer(ADMIN_TOKEN if admin else self.key)
        sent: dict[str, Any] = {"base_url": self.served.url, "session": self.session}
        sent["headers"] = headers
        response = case.call(**sent, timeout=60)
        self.answers[case.operation.label][response.status_code] += 1
        self.calls += 1
        case.validate_response(response, headers=headers, transport_kwargs=sent)


class _Seeder:
    """Makes the fuzzer's rows through the API, and records their ids in KNOWN and SPARE."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def post(self, path: str, body: dict[str, Any], key: str, status: int = 201) -> Any:
        response = self.client.post(path, json=body, headers=_bearer(key))
        assert response.status_code == status, (path, response.text)
        return response.json()

    def organization(self, *roles: str) -> tuple[str, str]:
        body = {"name": f"fuzz {uuid.uuid4().hex[:6]}", "roles": list(roles)}
        made = self.post("/v1/organizations", body, ADMIN_TOKEN)
        return made["id"], made["api_key"]

    def site(self, key: str, kind: str, where: list[float]) -> str:
        body = {"name": f"Fuzz {kind}", "kind": kind, "location": point(where)}
        return str(self.post("/v1/sites", body, key)["id"])

    def offer(self, key: str) -> str:
        return str(self.post("/v1/offers", offer_body(), key)["id"])

    def request(self, key: str) -> str:
        return str(self.post("/v1/requests", request_body(), key)["id"])

    def seed(self, receiver_url: str) -> str:
        """The fuzzer's organization, a partner's and their rows; answers the fuzzer's key."""
        fuzzer_id, fuzzer = self.organization(*FUZZER_ROLES)
        partner_id, partner = self.organization("supplier", "consumer")
        KNOWN["organization_id"] = [fuzzer_id, partner_id]
        KNOWN["code"] = KNOWN["material"] = MATERIALS
        subscription = {"url": receiver_url, "events": EVENTS, "secret": SECRET}
        webhooks = [self.post("/v1/webhooks", subscription, fuzzer)["id"] for _ in "abc"]
        KNOWN["webhook_id"], SPARE["webhook_id"] = webhooks[:1], webhooks[1:]

        yard, shop = self.site(fuzzer, "yard", RECY_K), self.site(fuzzer, "shop", GRAND_PLACE)
        KNOWN["site_id"] = KNOWN["hub_id"] = [yard, shop]
        SPARE["site_id"] = [self.site(fuzzer, "production", TOUR_TAXIS) for _ in "ab"]
        hub = {
            "capacity": {"t": 400},
            "pooling": [{"material": "1702", "threshold_t": 5, "radius_km": 10}],
        }
        put = self.client.put(f"/v1/hubs/{yard}", json=hub, headers=_bearer(fuzzer))
        assert put.status_code == 200, put.text
        intake = {
            "kind": "intake",
            "walk_in": "Menuiserie Dupont",
            "lot": "FUZZ-1",
            "material": "170201",
            "condition": "B",
            "quantity": {"value": 3, "unit": "t"},
        }
        KNOWN["movement_id"] = [self.post(f"/v1/hubs/{yard}/movements", intake, fuzzer)["id"]]

        own_offer, partner_offer = self.offer(fuzzer), self.offer(partner)
        own_request, partner_request = self.request(fuzzer), self.request(partner)
        KNOWN["offer_id"], KNOWN["request_id"] = [own_offer, partner_offer], [own_request]
        KNOWN["request_id"].append(partner_request)
        SPARE["offer_id"] = [self.offer(fuzzer) for _ in "ab"]
        SPARE["request_id"] = [self.request(fuzzer) for _ in "ab"]
        pair = {"offer_id": partner_offer, "request_id": own_request}
        accepted = self.post("/v1/matches", pair, fuzzer)["id"]
        for key in (fuzzer, partner):
            self.post(f"/v1/matches/{accepted}/accept", {}, key, 200)
        pair = {"offer_id": own_offer, "request_id": partner_request}
        KNOWN["match_id"] = [accepted, self.post("/v1/matches", pair, fuzzer)["id"]]

        day = plan_body(1)
        KNOWN["vehicle_id"] = [self.post("/v1/vehicles", day["vehicles"][0], fuzzer)["id"]]
        KNOWN["shipment_id"] = [self.post("/v1/shipments", day["shipments"][0], fuzzer)["id"]]
        plan = {
            "date": PLAN_DAY,
            "vehicle_ids": KNOWN["vehicle_id"],
            "shipment_ids": KNOWN["shipment_id"],
            "time_limit_s": 1,
        }
        KNOWN["plan_id"] = [self.post("/v1/route-plans", plan, fuzzer, 202)["id"]]
        KNOWN["run_id"] = [self.post("/v1/matching/runs", {"material": "17"}, fuzzer, 202)["id"]]
        KNOWN["slug"] = ["rue-neuve-nieuwstraat", "place-eugene-flagey"]
        return fuzzer


@pytest.fixture(scope="module")
async def fuzz_database_url(server_url: str) -> str:
    url = await create_database(server_url, "boucle_fuzz")
    migrate(url)
    load_reference(url, "reference", "districts")
    return url


@pytest.fixture(scope="module")
def fuzzed(fuzz_database_url: str) -> Iterator[Fuzzed]:
    receiver = Receiver()
    settings = settings_for(
        fuzz_database_url,
        webhook_private_hosts=[f"127.0.0.1:{receiver.port}"],
        webhook_allowed_hosts=[f"127.0.0.1:{receiver.port}"],
    )
    with (
        Served(create_app(settings)) as served,
        httpx.Client(base_url=served.url, timeout=60) as client,
    ):
        key = _Seeder(client).seed(receiver.url)
        served.run(work_until_idle(served.app))  # the route plan and the matching run, done
        yield Fuzzed(served, receiver, key)
    KNOWN.clear()
    SPARE.clear()
    receiver.server.shutdown()
    receiver.server.server_close()


@schema.parametrize()
def test_every_answer_keeps_to_the_document(case: schemathesis.Case, fuzzed: Fuzzed) -> None:
    fuzzed.call_and_validate(case)


async def _deliver_all(app: FastAPI) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Attempts every pending delivery once, as a worker would; answers each delivery's id,
    URL and log."""
    sessionmaker = app.state.sessionmaker
    async with sessionmaker() as session:
        pending = (
            await session.scalars(
                select(WebhookDelivery.id).where(WebhookDelivery.status == "pending")
            )
        ).all()
    for delivery_id in pending:
        await deliver(sessionmaker, app.state.settings, delivery_id)
    async with sessionmaker() as session:
        rows = await session.execute(
            select(WebhookDelivery.id, Webhook.url, WebhookDelivery.log).join(
                Webhook, WebhookDelivery.webhook_id == Webhook.id
            )
        )
        return [(str(delivery_id), url, log) for delivery_id, url, log in rows.all()]


def test_no_webhook_went_to_another_host(fuzzed: Fuzzed) -> None:
    """After the fuzzing: what the fuzzer's changes caused is delivered, to the receiver alone."""
    deliveries = fuzzed.served.run(_deliver_all(fuzzed.served.app))
    received = Counter(r["headers"]["Boucle-Delivery"] for r in fuzzed.receiver.received)
    assert deliveries
    for delivery_id, url, log in deliveries:
        assert httpx.URL(url).netloc.decode() == f"127.0.0.1:{fuzzed.receiver.port}"
        # Each attempt reached a receiver (the allow-list refused none), and it was this one.
        assert log and all("status_code" in attempt for attempt in log), log
        assert received[delivery_id] >= len(log)


def _get(connection: socket.socket, path: str) -> tuple[http.client.HTTPResponse, bytes]:
    """One GET on an open connection, and its answer read whole."""
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: boucle.test\r\n\r\n".encode())
    response = http.client.HTTPResponse(connection)
    response.begin()
    return response, response.read()


def test_an_unexpected_error_answers_500_and_keeps_the_connection(
    fuzz_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    application = create_app(settings_for(fuzz_database_url))

    async def fail() -> None:
        raise RuntimeError("a bug")

    application.add_api_route("/v1/failing", fail)
    with (
        caplog.at_level(logging.ERROR, logger="app.kit.problems"),
        Served(application) as served,
        socket.create_connection(served.address) as connection,
    ):
        failed, body = _get(connection, "/v1/failing")
        assert failed.status == 500
        assert failed.getheader("content-type") == "application/problem+json"
        problem = json.loads(body)
        assert problem["status"] == 500 and problem["type"].endswith("/internal-error")
        assert "a bug" not in problem["detail"]
        # The same connection serves the next request.
        healthy, body = _get(connection, "/healthz")
        assert healthy.status == 200 and body == b'{"status":"ok"}'
    [logged] = [r for r in caplog.records if "unhandled error on GET /v1/failing" in r.message]
    assert logged.exc_info is not None and "a bug" in str(logged.exc_info[1])
