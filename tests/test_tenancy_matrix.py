"""Tenancy, route by route: every path of the API called by the organization that owns the row,
by another organization with the same roles, by organizations without them, without
credentials and with the admin token, each with the answer it must get.

A write that is refused leaves the row as its owner reads it; a read by another organization
shows none of the owner's private fields; only a side of a match changes the match, whatever
the path (accept, reject, fulfil, a yard's intake or dispatch).

The world is built once for the module; a write that is allowed works on a row made for it
(`{new:...}` in a path), so that the rows every other case reads stay as built."""

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.kit.local_time import BRUSSELS
from app.webhooks.schemas import EventType
from tests.conftest import (
    ADMIN_TOKEN,
    SECRET,
    Org,
    Receiver,
    WorkerRun,
    create_org,
    point,
)

# The callers. A owns the rows the paths name; B has the same roles; H is a third yard
# operator; S, C, K have one role each (supplier, consumer, carrier); R owns the matching run
# and R2 is another region (both role admin).
FULL_ROLES = ("supplier", "consumer", "hub_operator", "carrier", "shop")
ROLES: dict[str, tuple[str, ...]] = {
    "A": FULL_ROLES,
    "B": FULL_ROLES,
    "H": ("hub_operator",),
    "S": ("supplier",),
    "C": ("consumer",),
    "K": ("carrier",),
    "R": ("admin",),
    "R2": ("admin",),
}
ORGS = tuple(ROLES)
ANONYMOUS, ADMIN = "anon", "admin-token"

# A corner of Uccle, away from the places the other tests use; gypsum (17 08 02) is used by
# no other test, so their candidates and runs do not meet these rows.
SITE_A = [4.3400, 50.7950]
HUB_A = [4.3420, 50.7960]
SITE_B = [4.3440, 50.7950]
HUB_B = [4.3460, 50.7960]
HUB_H = [4.3480, 50.7950]
YARD_S = [4.3380, 50.7940]
FRESH_YARD = [4.3430, 50.7975]
NOWHERE_NEAR = [4.4500, 50.8500]
GYPSUM = "170802"
PLAN_DAY = "2027-03-02"
ADDRESS = "Rue Privée 1, 1180 Uccle"
ACCESS_NOTES = "Code 4711 at the back gate"


# A's delivery service rides this corner every day, tomorrow included.
DELIVERY_ZONE = {
    "type": "Polygon",
    "coordinates": [
        [[4.33, 50.785], [4.355, 50.785], [4.355, 50.805], [4.33, 50.805], [4.33, 50.785]]
    ],
}


def delivery_ask(days_ahead: int = 1) -> dict[str, Any]:
    tomorrow = datetime.now(BRUSSELS).date() + timedelta(days=days_ahead)
    return {
        "pickup": point(SITE_B),
        "dropoff": point(YARD_S),
        "parcels": {"count": 1, "weight_kg": 2, "volume_m3": 0.01},
        "earliest": datetime.combine(tomorrow, time(9), BRUSSELS).isoformat(),
        "latest": datetime.combine(tomorrow, time(12), BRUSSELS).isoformat(),
    }


def window(start: str, end: str) -> dict[str, str]:
    return {
        "window_from": f"{PLAN_DAY}T{start}:00+01:00",
        "window_until": f"{PLAN_DAY}T{end}:00+01:00",
    }


def offer_of(tonnes: float, **fields: Any) -> dict[str, Any]:
    return {
        "location": point(SITE_A),
        "material": GYPSUM,
        "title": "Plasterboard offcuts",
        "quantity": {"value": tonnes, "unit": "t"},
        "condition": "B",
        "available_from": "2027-01-01",
        "available_until": "2099-12-31",
        **fields,
    }


def request_of(tonnes: float, **fields: Any) -> dict[str, Any]:
    return {
        "location": point(SITE_B),
        "material": "1708",
        "quantity": {"value": tonnes, "unit": "t"},
        "needed_from": "2027-01-01",
        "needed_by": "2099-12-31",
        "max_distance_km": 5,
        "min_condition": "C",
        **fields,
    }


def walk_in(lot: str, tonnes: float) -> dict[str, Any]:
    return {
        "kind": "intake",
        "walk_in": "Plâtrerie Dupont",
        "lot": lot,
        "material": GYPSUM,
        "condition": "B",
        "quantity": {"value": tonnes, "unit": "t"},
    }


def shipment_at(pickup: list[float], delivery: list[float]) -> dict[str, Any]:
    return {
        "reference": "gypsum",
        "pickup": {"location": point(pickup), **window("08:00", "12:00")},
        "delivery": {"location": point(delivery), **window("09:00", "17:00")},
        "load_kg": 20,
    }


def cursor(sort_key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(sort_key).encode()).decode()


@dataclass
class World:
    client: httpx.AsyncClient
    orgs: dict[str, Org]
    ids: dict[str, str] = field(default_factory=dict)
    # Each caller's own yard and the lot in it (callers without one get A's: they are refused
    # before it matters).
    yards: dict[str, tuple[str, str]] = field(default_factory=dict)
    factories: dict[str, Callable[[], Awaitable[dict[str, str]]]] = field(default_factory=dict)
    # One row of each factory for the cases that must be refused: they leave it as it was.
    spares: dict[str, dict[str, str]] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        if who == ANONYMOUS:
            return {}
        if who == ADMIN:
            return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        return self.orgs[who].headers

    async def post(self, who: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(path, json=body, headers=self.headers(who))
        assert response.status_code in (200, 201, 202), (path, response.text)
        return dict(response.json())

    async def read(self, who: str, path: str) -> tuple[int, Any]:
        response = await self.client.get(path, headers=self.headers(who))
        return response.status_code, response.json()


async def build_world(client: httpx.AsyncClient, app: FastAPI, receiver: Receiver) -> World:
    orgs = {
        who: await create_org(client, *roles, name=f"tenancy-{who}-{uuid.uuid4().hex[:6]}")
        for who, roles in ROLES.items()
    }
    w = World(client, orgs)
    ids = w.ids
    ids["org_a"] = orgs["A"].id
    ids["receiver"] = receiver.url
    ids["key_a"] = str((await w.post("A", "/v1/organizations/me/keys", {"name": "second"}))["id"])
    # C hears of everything it may: none of what follows is its business.
    everything = {"url": receiver.url, "events": [e.value for e in EventType], "secret": SECRET}
    ids["webhook_c"] = str((await w.post("C", "/v1/webhooks", everything))["id"])

    async def site(who: str, kind: str, where: list[float], **fields: Any) -> str:
        body = {"name": f"{who} {kind}", "kind": kind, "location": point(where), **fields}
        return str((await w.post(who, "/v1/sites", body))["id"])

    ids["site_a"] = await site(
        "A", "production", SITE_A, address=ADDRESS, access_notes=ACCESS_NOTES
    )
    ids["site_b"] = await site("B", "production", SITE_B, address="Rue de B 2")
    ids["yard_s"] = await site("S", "yard", YARD_S)
    for who, where, lot in (("A", HUB_A, "GYP-A"), ("B", HUB_B, "GYP-B"), ("H", HUB_H, "GYP-H")):
        hub = await site(who, "yard", where)
        await client.put(
            f"/v1/hubs/{hub}",
            json={
                "capacity": {"t": 100},
                "pooling": [{"material": "1708", "threshold_t": 50, "radius_km": 2}],
            },
            headers=w.headers(who),
        )
        moved = await w.post(who, f"/v1/hubs/{hub}/movements", walk_in(lot, 8))
        ids[f"hub_{who.lower()}"] = hub
        w.yards[who] = (hub, lot)
        if who == "A":
            ids["mv_a"] = str(moved["id"])

    stock = (await w.read("A", f"/v1/hubs/{ids['hub_a']}/stock"))[1]
    ids["lot_offer_a"] = str(stock["lots"][0]["offer_id"])

    ids["offer_a"] = str(
        (
            await w.post(
                "A",
                "/v1/offers",
                offer_of(10, site_id=ids["site_a"], location=None, notes="secret-a"),
            )
        )["id"]
    )
    ids["offer_b"] = str(
        (await w.post("B", "/v1/offers", offer_of(10, location=point(SITE_B), notes="secret-b")))[
            "id"
        ]
    )
    ids["request_a"] = str(
        (
            await w.post(
                "A",
                "/v1/requests",
                request_of(5, site_id=ids["site_a"], location=None, notes="secret-a"),
            )
        )["id"]
    )
    ids["request_b"] = str(
        (await w.post("B", "/v1/requests", request_of(5, notes="secret-b")))["id"]
    )

    async def accept(match_id: str, *sides: str) -> None:
        for who in sides:
            await w.post(who, f"/v1/matches/{match_id}/accept", {})

    async def pair() -> dict[str, str]:
        """A new offer of A and a new request of B, that nothing proposes yet."""
        offer = await w.post("A", "/v1/offers", offer_of(2))
        request = await w.post("B", "/v1/requests", request_of(2))
        return {"offer": str(offer["id"]), "request": str(request["id"])}

    async def pair_match(state: str) -> dict[str, str]:
        """A match between a new offer of A and a new request of B, brought to `state`."""
        made = await pair()
        match = await w.post(
            "A", "/v1/matches", {"offer_id": made["offer"], "request_id": made["request"]}
        )
        match_id = str(match["id"])
        if state == "half":
            await accept(match_id, "A")
        elif state in ("accepted", "fulfilled"):
            await accept(match_id, "A", "B")
            if state == "fulfilled":
                await w.post("A", f"/v1/matches/{match_id}/fulfil", {})
        elif state == "rejected":
            await w.post("B", f"/v1/matches/{match_id}/reject", {})
        elif state == "expired":
            # Expiry is the sweep's, once a window has passed: set as the sweep sets it.
            async with app.state.sessionmaker() as session:
                await session.execute(
                    text(
                        "UPDATE matches SET status = 'expired', version = version + 1 "
                        "WHERE id = :id"
                    ),
                    {"id": match_id},
                )
                await session.commit()
        return {"id": match_id, **made}

    async def hold_for_b(lot_offer: str) -> str:
        """B's request for 3 t of a lot of A, proposed and accepted by both sides."""
        request = await w.post("B", "/v1/requests", request_of(3))
        match = await w.post(
            "B", "/v1/matches", {"offer_id": lot_offer, "request_id": request["id"]}
        )
        await accept(str(match["id"]), "B", "A")
        return str(match["id"])

    async def lot_match() -> dict[str, str]:
        """A lot of 8 t in a new yard of A, 3 t of it held for B by an accepted match."""
        hub = await site("A", "yard", FRESH_YARD)
        lot = f"GYP-{uuid.uuid4().hex[:6]}"
        await w.post("A", f"/v1/hubs/{hub}/movements", walk_in(lot, 8))
        lot_offer = str((await w.read("A", f"/v1/hubs/{hub}/stock"))[1]["lots"][0]["offer_id"])
        match_id = await hold_for_b(lot_offer)
        return {"match": match_id, "offer": lot_offer, "seller_hub": hub, "lot": lot}

    async def dispatched() -> dict[str, str]:
        """A lot match whose lot A's yard has dispatched: the match is fulfilled, the goods on
        their way to B's yard."""
        made = await lot_match()
        await w.post(
            "A",
            f"/v1/hubs/{made['seller_hub']}/movements",
            {
                "kind": "dispatch",
                "lot": made["lot"],
                "quantity": {"value": 3, "unit": "t"},
                "match_id": made["match"],
            },
        )
        return made

    async def stocked() -> dict[str, str]:
        """A new yard of A with a lot, and a shipment of A collecting there."""
        hub = await site("A", "yard", FRESH_YARD)
        await w.post("A", f"/v1/hubs/{hub}/movements", walk_in("GYP-N", 2))
        shipment = await w.post("A", "/v1/shipments", shipment_at(FRESH_YARD, SITE_B))
        return {"hub": hub, "shipment": str(shipment["id"])}

    async def shipped() -> dict[str, str]:
        """A shipment of A that A's yard dispatched a lot to: a movement names it."""
        made = await stocked()
        await w.post(
            "A",
            f"/v1/hubs/{made['hub']}/movements",
            {
                "kind": "dispatch",
                "lot": "GYP-N",
                "quantity": {"value": 1, "unit": "t"},
                "shipment_id": made["shipment"],
            },
        )
        return made

    async def one(path: str, body: dict[str, Any]) -> dict[str, str]:
        return {"id": str((await w.post("A", path, body))["id"])}

    later_days = iter(range(2, 14))

    async def new_slot() -> dict[str, str]:
        """A slot of A's service on a day of its own, with a booking in it."""
        booked = await w.post("A", "/v1/deliveries", {"ask": delivery_ask(next(later_days))})
        return {"id": await slot_of(booked["id"])}

    async def slot_of(delivery_id: str) -> str:
        first = datetime.now(BRUSSELS).date()
        path = f"/v1/delivery-services/{ids['service_a']}/slots?from={first}&days=15"
        slots = (await w.read("A", path))[1]["items"]
        return next(
            str(s["id"]) for s in slots if any(d["id"] == delivery_id for d in s["deliveries"])
        )

    w.factories = {
        "site": lambda: one(
            "/v1/sites", {"name": "Spare", "kind": "production", "location": point(SITE_A)}
        ),
        "hub": lambda: one(
            "/v1/sites", {"name": "Spare yard", "kind": "yard", "location": point(FRESH_YARD)}
        ),
        "offer": lambda: one("/v1/offers", offer_of(1)),
        "request": lambda: one("/v1/requests", request_of(1)),
        "webhook": lambda: one(
            "/v1/webhooks",
            {"url": receiver.url, "events": ["route_plan.completed"], "secret": SECRET},
        ),
        "pair": pair,
        "proposed": lambda: pair_match("proposed"),
        "half": lambda: pair_match("half"),
        "accepted": lambda: pair_match("accepted"),
        "lot_match": lot_match,
        "dispatched": dispatched,
        "stocked": stocked,
        "key": lambda: one("/v1/organizations/me/keys", {"name": "spare"}),
        "vehicle": lambda: one("/v1/vehicles", VEHICLE_BODY),
        "shipment": lambda: one("/v1/shipments", shipment_at(SITE_A, HUB_A)),
        "shipped": shipped,
        "delivery": lambda: one("/v1/deliveries", {"ask": delivery_ask()}),
        "slot": new_slot,
        "connection": lambda: one(
            "/v1/shop-connections", {**WOO_CONNECTION, "pickup_site_id": ids["site_a"]}
        ),
    }

    proposed = await w.post(
        "A", "/v1/matches", {"offer_id": ids["offer_a"], "request_id": ids["request_b"]}
    )
    ids["m_proposed"] = str(proposed["id"])
    for state in ("accepted", "rejected", "expired", "fulfilled"):
        ids[f"m_{state}"] = (await pair_match(state))["id"]
    ids["m_lot"] = await hold_for_b(ids["lot_offer_a"])

    for who, yard, elsewhere in (("A", HUB_A, SITE_B), ("B", HUB_B, SITE_A)):
        key = who.lower()
        vehicle = await w.post(
            who, "/v1/vehicles", {"name": "Bike", "type": "cargo_bike", "start": point(yard)}
        )
        shipment = await w.post(who, "/v1/shipments", shipment_at(yard, elsewhere))
        webhook = await w.post(
            who,
            "/v1/webhooks",
            {"url": receiver.url, "events": ["route_plan.completed"], "secret": SECRET},
        )
        plan = await w.post(
            who,
            "/v1/route-plans",
            {
                "date": PLAN_DAY,
                "vehicle_ids": [vehicle["id"]],
                "shipment_ids": [shipment["id"]],
                "time_limit_s": 1,
            },
        )
        ids[f"vehicle_{key}"], ids[f"shipment_{key}"] = str(vehicle["id"]), str(shipment["id"])
        ids[f"webhook_{key}"], ids[f"plan_{key}"] = str(webhook["id"]), str(plan["id"])
    run = await w.post(
        "R", "/v1/matching/runs", {"material": "1708", "near": SITE_A, "radius_km": 3}
    )
    ids["run_r"] = str(run["id"])

    # A's shared rounds, and a delivery A's shop booked into them.
    ids["hub_site_a"] = await site("A", "hub", HUB_A)
    service = await w.post("A", "/v1/delivery-services", delivery_service_of(ids))
    ids["service_a"] = str(service["id"])
    ids["quote_a"] = str((await w.post("A", "/v1/delivery-quotes", delivery_ask()))["id"])
    booked = await w.post("A", "/v1/deliveries", {"quote_id": ids["quote_a"], "option_id": "opt-1"})
    ids["delivery_a"] = str(booked["id"])
    ids["slot_a"] = await slot_of(ids["delivery_a"])

    # A's web shop, and an order it sent that is held (no street of Brussels is called so).
    connection = await w.post(
        "A", "/v1/shop-connections", {**WOO_CONNECTION, "pickup_site_id": ids["site_a"]}
    )
    ids["connection_a"] = str(connection["id"])
    order = json.dumps(
        {
            "id": 77,
            "status": "processing",
            "shipping": {"address_1": "Qzxwv 12", "postcode": "1180", "city": "Uccle"},
            "shipping_lines": [{"id": 1, "method_id": "boucle"}],
        }
    ).encode()
    digest = hmac.new(connection["secret"].encode(), order, hashlib.sha256).digest()
    sent = await client.post(
        connection["webhook_url"],
        content=order,
        headers={
            "X-WC-Webhook-Topic": "order.created",
            "X-WC-Webhook-Signature": base64.b64encode(digest).decode(),
        },
    )
    assert sent.status_code == 200, sent.text
    [held] = (await w.read("A", f"/v1/shop-connections/{ids['connection_a']}/orders"))[1]["items"]
    ids["shop_order_a"] = str(held["id"])
    return w


WOO_CONNECTION = {"platform": "woocommerce", "pickup_site_id": "{site_a}"}


def delivery_service_of(ids: dict[str, str]) -> dict[str, Any]:
    return {
        "name": "Uccle rounds",
        "hub_site_id": ids["hub_site_a"],
        "zone": DELIVERY_ZONE,
        "weekdays": [1, 2, 3, 4, 5, 6, 7],
        "slots": [{"start": "09:00", "end": "12:00", "cutoff_before": "PT1H"}],
        "vehicle_ids": [ids["vehicle_a"]],
        "prices": {"per_delivery_eur": 6},
        "max_parcel_kg": 20,
        "max_parcel_m3": 0.2,
    }


@pytest.fixture(scope="module")
async def world(
    client: httpx.AsyncClient, app: FastAPI, run_worker: WorkerRun
) -> AsyncIterator[World]:
    receiver = Receiver()
    try:
        w = await build_world(client, app, receiver)
        # The plans, the run and the plans' webhook deliveries.
        await run_worker()
        yield w
        # No subscription of these organizations outlives the module (their receiver goes),
        # and the jobs the cases queued run now rather than in another module's worker.
        for who in ORGS:
            for hook in (await w.read(who, "/v1/webhooks"))[1]["items"]:
                await client.delete(f"/v1/webhooks/{hook['id']}", headers=w.headers(who))
        await run_worker()
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


@dataclass
class Call:
    """What a check sees: the answer, who asked, the world and the values of the case's
    placeholders."""

    response: httpx.Response
    who: str
    world: World
    values: dict[str, str]
    # The watched paths as A read them before and after the call.
    before: dict[str, tuple[int, Any]]
    after: dict[str, tuple[int, Any]]

    def unchanged(self, template: str) -> None:
        path = fill(template, self.values)
        assert self.before[path] == self.after[path], (path, self.before[path], self.after[path])

    @property
    def body(self) -> Any:
        return self.response.json()

    @property
    def caller_id(self) -> str:
        return self.world.orgs[self.who].id


Check = Callable[[Call], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    who: str
    status: tuple[int, ...]
    body: Any = None
    # Paths A reads before and after the call: a refused write leaves them as they were.
    watch: tuple[str, ...] = ()
    check: Check | None = None
    name: str = ""

    @property
    def refused(self) -> bool:
        return not all(200 <= s < 300 for s in self.status)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}{f' [{self.name}]' if self.name else ''} as {self.who}"


def route(
    method: str,
    path: str,
    expect: dict[str, int | tuple[int, ...] | None],
    *,
    body: Any = None,
    allowed_path: str | None = None,
    allowed_body: Any = None,
    watch: tuple[str, ...] = (),
    check: Check | None = None,
    name: str = "",
) -> list[Case]:
    """The cases of one path: `expect` gives each caller's answer (None: no case); "*" stands
    for every other organization, and with it the anonymous caller and the admin token answer
    401 unless told. A caller allowed to write gets `allowed_path` / `allowed_body` (a row made
    for it)."""
    callers = dict(expect)
    if "*" in callers:
        default = callers.pop("*")
        for who in (*ORGS, ANONYMOUS, ADMIN):
            callers.setdefault(who, default if who in ORGS else 401)
    cases = []
    for who, status in callers.items():
        if status is None:
            continue
        statuses = status if isinstance(status, tuple) else (status,)
        allowed = method != "GET" and all(200 <= s < 300 for s in statuses)
        cases.append(
            Case(
                method=method,
                path=(allowed_path or path) if allowed else path,
                who=who,
                status=statuses,
                body=(allowed_body if allowed_body is not None else body) if allowed else body,
                watch=watch,
                check=check,
                name=name,
            )
        )
    return cases


PRIVATE_LISTING_FIELDS = ("notes", "site_id")


def _no_credentials(body: dict[str, Any]) -> None:
    assert not [k for k in body if any(w in k for w in ("key", "secret", "token"))], body


def _assert_listing_view(view: dict[str, Any], owned: bool) -> None:
    if owned:
        assert view["notes"] == "secret-a" and "site_id" in view, view
    else:
        assert not set(PRIVATE_LISTING_FIELDS) & set(view), view


def listing_read(key: str) -> Check:
    async def check(call: Call) -> None:
        assert call.body["id"] == call.world.ids[key]
        _assert_listing_view(call.body, call.who == "A")

    return check


def listing_in_list(key: str) -> Check:
    async def check(call: Call) -> None:
        features = {f["id"]: f["properties"] for f in call.body["features"]}
        assert call.world.ids[key] in features
        _assert_listing_view(features[call.world.ids[key]], call.who == "A")

    return check


def candidates(item_key: str, expected: str) -> Check:
    """Another organization's listing among the candidates shows only its public fields."""

    async def check(call: Call) -> None:
        items = [item[item_key] for item in call.body["items"]]
        assert call.world.ids[expected] in {i["id"] for i in items}
        for item in items:
            if item["organization_id"] != call.caller_id:
                assert not set(PRIVATE_LISTING_FIELDS) & set(item), item

    return check


def own_only(key: str, listed: str = "items") -> Check:
    """A's row is in A's own list and in no one else's."""

    async def check(call: Call) -> None:
        ids = {item["id"] for item in call.body[listed]}
        assert (call.world.ids[key] in ids) == (call.who == "A"), ids

    return check


async def runs_own_only(call: Call) -> None:
    """R's run is in R's own list of runs and in no one else's."""
    ids = {item["id"] for item in call.body["items"]}
    assert (call.world.ids["run_r"] in ids) == (call.who == "R"), ids


async def organizations_listed(call: Call) -> None:
    assert call.world.ids["org_a"] in {o["id"] for o in call.body["items"]}
    for organization in call.body["items"]:
        _no_credentials(organization)


async def me(call: Call) -> None:
    assert call.body["id"] == call.caller_id
    _no_credentials(call.body)


async def public_profile(call: Call) -> None:
    assert call.body["id"] == call.world.ids["org_a"]
    _no_credentials(call.body)


async def own_site(call: Call) -> None:
    assert call.body["address"] == ADDRESS and call.body["access_notes"] == ACCESS_NOTES


async def created_by_caller(call: Call) -> None:
    assert call.body["organization_id"] == call.caller_id


async def no_secret(call: Call) -> None:
    assert "secret" not in call.body


async def webhooks_own_only(call: Call) -> None:
    await own_only("webhook_a")(call)
    assert all("secret" not in item for item in call.body["items"])


async def has_deliveries(call: Call) -> None:
    assert [d["event_type"] for d in call.body["items"]] == ["route_plan.completed"]


async def nothing_delivered(call: Call) -> None:
    assert call.body["items"] == [], call.body


async def sides_see_it(call: Call) -> None:
    ids = {m["id"] for m in call.body["items"]}
    assert (call.world.ids["m_proposed"] in ids) == (call.who in ("A", "B"))


async def only_own_side_accepted(call: Call) -> None:
    """An acceptance stamps the caller's side only: the match waits for the other."""
    mine, theirs = (
        ("offer_accepted_at", "request_accepted_at")
        if call.who == "A"
        else ("request_accepted_at", "offer_accepted_at")
    )
    assert call.body["status"] == "proposed"
    assert call.body[mine] is not None and call.body[theirs] is None


async def half_accepted(call: Call) -> None:
    # A accepted already: A again changes nothing; B's acceptance completes it.
    assert call.body["status"] == ("proposed" if call.who == "A" else "accepted"), call.body
    if call.who == "A":
        assert call.body["request_accepted_at"] is None


def status_is(status: str) -> Check:
    async def check(call: Call) -> None:
        assert call.body["status"] == status, call.body

    return check


async def proposed_by_side(call: Call) -> None:
    assert call.body["proposed_by"] == ("offer" if call.who == "A" else "request")


async def plan_map(call: Call) -> None:
    assert call.body["type"] == "FeatureCollection" and call.body["features"]


async def lot_held_for_b(call: Call) -> None:
    [lot] = call.body["lots"]
    assert (lot["lot"], lot["stock"], lot["reserved"]) == ("GYP-A", 8, 3), lot


async def dispatch_served_the_match(call: Call) -> None:
    match_id = call.values["new:lot_match:match"]
    assert call.body["match_id"] == match_id
    _, match = await call.world.read("A", f"/v1/matches/{match_id}")
    assert match["status"] == "fulfilled"


async def took_in_the_dispatch(call: Call) -> None:
    """The buyer's intake records what the seller's dispatch fulfilled, once, and changes
    neither the match nor the seller's stock."""
    assert call.body["match_id"] == call.values["new:dispatched:match"]
    call.unchanged("/v1/matches/{new:dispatched:match}")
    call.unchanged("/v1/hubs/{new:dispatched:seller_hub}/stock")
    again = await call.world.client.post(
        call.response.request.url.path,
        content=call.response.request.content,
        headers={**call.world.headers(call.who), "Content-Type": "application/json"},
    )
    assert again.status_code == 409, again.text


async def new_key_is_the_callers(call: Call) -> None:
    """The key is answered once, and it is the caller's (or, with the admin token, A's)."""
    assert call.response.headers["cache-control"] == "no-store"
    owner = call.world.ids["org_a"] if call.who == ADMIN else call.caller_id
    me = await call.world.client.get(
        "/v1/organizations/me", headers={"Authorization": f"Bearer {call.body['api_key']}"}
    )
    assert me.json()["id"] == owner


def keys_listed(owned: bool) -> Check:
    async def check(call: Call) -> None:
        ids = {k["id"] for k in call.body["items"]}
        assert (call.world.ids["key_a"] in ids) == (owned or call.who == "A")
        for item in call.body["items"]:
            _no_credentials({k: v for k, v in item.items() if k != "prefix"})

    return check


async def intake_served_the_match(call: Call) -> None:
    match_id = call.values["new:accepted:id"]
    assert call.body["match_id"] == match_id
    _, match = await call.world.read("A", f"/v1/matches/{match_id}")
    assert match["status"] == "fulfilled"


SITE_BODY = {"name": "Depot", "kind": "shop", "location": point(SITE_B)}
WEBHOOK_BODY = {"url": "{receiver}", "events": ["route_plan.completed"], "secret": SECRET}
VEHICLE_BODY = {"name": "Bike", "type": "cargo_bike", "start": point(HUB_B)}
HUB_SETTINGS = {"capacity": {"t": 1}, "pooling": []}
STOCK = "/v1/hubs/{hub_a}/stock"
MOVEMENTS = "/v1/hubs/{hub_a}/movements"
TWO_TIER_AT_HUB_A = {
    "date": PLAN_DAY,
    "mode": "two_tier",
    "vehicles": [
        {"name": "Van", "type": "van", "start": point(SITE_B)},
        {"name": "Bike", "type": "cargo_bike", "start": point(SITE_B)},
    ],
    "shipments": [shipment_at(SITE_B, HUB_H)],
    "hubs": [{"site_id": "{hub_a}"}],
    "time_limit_s": 1,
}
MATCH_STATES = ("proposed", "accepted", "rejected", "expired", "fulfilled")


def match_action_cases() -> list[Case]:
    """accept, reject and fulfil on a match in each state: its sides get the lifecycle's
    answer, every other organization a 404, and nothing changes unless a side may change it."""
    allowed: dict[str, tuple[str, Check]] = {
        "accept": ("proposed", only_own_side_accepted),
        "reject": ("proposed", status_is("rejected")),
        "fulfil": ("accepted", status_is("fulfilled")),
    }
    cases = []
    for action, (allowed_state, check) in allowed.items():
        for state in MATCH_STATES:
            side = 200 if state == allowed_state else 409
            cases += route(
                "POST",
                f"/v1/matches/{{m_{state}}}/{action}",
                {"A": side, "B": side, "*": 404},
                allowed_path=f"/v1/matches/{{new:{state}:id}}/{action}",
                watch=(f"/v1/matches/{{m_{state}}}",),
                check=check,
            )
    return cases


CASES: list[Case] = [
    *route("GET", "/healthz", {o: 200 for o in (*ORGS, ANONYMOUS, ADMIN)}),
    *route("GET", "/readyz", {o: 200 for o in (*ORGS, ANONYMOUS, ADMIN)}),
    # Organizations
    *route(
        "POST",
        "/v1/organizations",
        {"*": 403, ADMIN: 201},
        body={"name": "Made by the table", "roles": ["consumer"]},
    ),
    *route(
        "GET", "/v1/organizations?limit=500", {"*": 403, ADMIN: 200}, check=organizations_listed
    ),
    *route("GET", "/v1/organizations/me", {"*": 200}, check=me),
    *route("GET", "/v1/organizations/{org_a}", {"*": 200}, check=public_profile),
    # API keys: one's own through `me`, any organization's with the admin token only
    *route(
        "POST",
        "/v1/organizations/me/keys",
        {"*": 201},
        body={"name": "table"},
        check=new_key_is_the_callers,
    ),
    *route(
        "POST",
        "/v1/organizations/{org_a}/keys",
        {"*": 403, ADMIN: 201},
        body={"name": "table"},
        check=new_key_is_the_callers,
    ),
    *route("GET", "/v1/organizations/me/keys", {"*": 200}, check=keys_listed(owned=False)),
    *route(
        "GET",
        "/v1/organizations/{org_a}/keys",
        {"*": 403, ADMIN: 200},
        check=keys_listed(owned=True),
    ),
    *route("GET", "/v1/organizations/me/keys/{key_a}", {"*": 404, "A": 200}),
    *route("GET", "/v1/organizations/{org_a}/keys/{key_a}", {"*": 403, ADMIN: 200}),
    *route(
        "DELETE",
        "/v1/organizations/me/keys/{key_a}",
        {"*": 404, "A": 204},
        allowed_path="/v1/organizations/me/keys/{new:key:id}",
        watch=("/v1/organizations/me/keys/{key_a}",),
    ),
    *route(
        "DELETE",
        "/v1/organizations/{org_a}/keys/{key_a}",
        {"*": 403, ADMIN: 204},
        allowed_path="/v1/organizations/{org_a}/keys/{new:key:id}",
        watch=("/v1/organizations/me/keys/{key_a}",),
    ),
    *route("GET", "/v1/materials?q=gypsum", {"*": 200}),
    *route("GET", f"/v1/materials/{GYPSUM}", {"*": 200}),
    # The shopping districts: reference data, read by every organization.
    *route("GET", "/v1/districts", {"*": 200}),
    *route("GET", "/v1/districts/rue-neuve-nieuwstraat", {"*": 200}),
    # The geocoder: the OSM extract's addresses, checked by every organization.
    *route("GET", "/v1/geocode?q=Rue%20Neuve%20111%2C%201000%20Bruxelles", {"*": 200}),
    # Sites: private to their organization
    *route("POST", "/v1/sites", {"*": 201}, body=SITE_BODY, check=created_by_caller),
    *route("GET", "/v1/sites?limit=500", {"*": 200}, check=own_only("site_a", "features")),
    *route("GET", "/v1/sites/{site_a}", {"*": 404, "A": 200}, check=own_site),
    *route(
        "PATCH",
        "/v1/sites/{site_a}",
        {"*": 404, "A": 200},
        body={"name": "Taken over", "address": "Elsewhere"},
        allowed_path="/v1/sites/{new:site:id}",
        watch=("/v1/sites/{site_a}",),
    ),
    *route(
        "DELETE",
        "/v1/sites/{site_a}",
        {"*": 404, "A": 204},
        allowed_path="/v1/sites/{new:site:id}",
        watch=("/v1/sites/{site_a}",),
    ),
    # Offers: public fields for everyone, notes and site for the owner, changes by the owner
    *route(
        "POST",
        "/v1/offers",
        {"*": 403, "A": 201, "B": 201, "H": 201, "S": 201},
        body=offer_of(1, location=point(NOWHERE_NEAR)),
        check=created_by_caller,
    ),
    *route(
        "POST",
        "/v1/offers",
        {"*": 403, "A": 201, "B": 422, "H": 422, "S": 422},
        body=offer_of(1, site_id="{site_a}", location=None),
        name="at A's site",
    ),
    *route(
        "GET",
        f"/v1/offers?near={SITE_A[0]},{SITE_A[1]}&radius_km=0.01&limit=500",
        {"*": 200},
        check=listing_in_list("offer_a"),
    ),
    *route("GET", "/v1/offers/{offer_a}", {"*": 200}, check=listing_read("offer_a")),
    *route(
        "PATCH",
        "/v1/offers/{offer_a}",
        {"*": 403, "A": 200},
        body={"title": "Taken over", "notes": "mine now", "quantity": {"value": 1, "unit": "t"}},
        allowed_path="/v1/offers/{new:offer:id}",
        watch=("/v1/offers/{offer_a}",),
    ),
    *route(
        "PATCH",
        "/v1/offers/{new:offer:id}",
        {"A": 422},
        body={"site_id": "{site_b}"},
        watch=("/v1/offers/{new:offer:id}",),
        name="to B's site",
    ),
    *route(
        "PATCH",
        "/v1/offers/{lot_offer_a}",
        {"*": 403, "A": 409},
        body={"title": "Taken over"},
        watch=("/v1/offers/{lot_offer_a}", STOCK),
    ),
    *route(
        "DELETE",
        "/v1/offers/{offer_a}",
        {"*": 403, "A": 204},
        allowed_path="/v1/offers/{new:offer:id}",
        watch=("/v1/offers/{offer_a}",),
    ),
    *route(
        "DELETE",
        "/v1/offers/{lot_offer_a}",
        {"*": 403, "A": 409},
        watch=("/v1/offers/{lot_offer_a}", STOCK),
    ),
    # Requests: the same rules
    *route(
        "POST",
        "/v1/requests",
        {"*": 403, "A": 201, "B": 201, "H": 201, "C": 201},
        body=request_of(1, location=point(NOWHERE_NEAR)),
        check=created_by_caller,
    ),
    *route(
        "POST",
        "/v1/requests",
        {"*": 403, "A": 201, "B": 422, "H": 422, "C": 422},
        body=request_of(1, site_id="{site_a}", location=None),
        name="at A's site",
    ),
    *route(
        "GET",
        f"/v1/requests?near={SITE_A[0]},{SITE_A[1]}&radius_km=0.01&limit=500",
        {"*": 200},
        check=listing_in_list("request_a"),
    ),
    *route("GET", "/v1/requests/{request_a}", {"*": 200}, check=listing_read("request_a")),
    *route(
        "PATCH",
        "/v1/requests/{request_a}",
        {"*": 403, "A": 200},
        body={"title": "Taken over", "notes": "mine now", "max_distance_km": 1},
        allowed_path="/v1/requests/{new:request:id}",
        watch=("/v1/requests/{request_a}",),
    ),
    *route(
        "DELETE",
        "/v1/requests/{request_a}",
        {"*": 403, "A": 204},
        allowed_path="/v1/requests/{new:request:id}",
        watch=("/v1/requests/{request_a}",),
    ),
    # Candidates: derived from public fields; other organizations' listings stay public views
    *route(
        "GET",
        "/v1/requests/{request_a}/candidates?limit=200",
        {"*": 200},
        check=candidates("offer", "offer_b"),
    ),
    *route(
        "GET",
        "/v1/offers/{offer_a}/candidates?limit=200",
        {"*": 200},
        check=candidates("request", "request_b"),
    ),
    # Matches: seen and changed by their two sides only
    *route(
        "POST",
        "/v1/matches",
        {"*": 403, "A": 201, "B": 201},
        body={"offer_id": "{offer_a}", "request_id": "{request_b}"},
        allowed_body={"offer_id": "{new:pair:offer}", "request_id": "{new:pair:request}"},
        check=proposed_by_side,
    ),
    *route(
        "POST",
        "/v1/matches",
        {"A": 409, "B": 409},
        body={"offer_id": "{offer_a}", "request_id": "{request_b}"},
        name="a pair proposed already",
    ),
    *route(
        "POST",
        "/v1/matches",
        {"*": 403, "B": 422},
        body={"offer_id": "{offer_b}", "request_id": "{request_b}"},
        name="between B's listings",
    ),
    *route("GET", "/v1/matches?limit=500", {"*": 200}, check=sides_see_it),
    *route("GET", "/v1/matches/{m_proposed}", {"*": 404, "A": 200, "B": 200}),
    *route("GET", "/v1/matches/{m_lot}", {"*": 404, "A": 200, "B": 200}),
    *match_action_cases(),
    *route(
        "POST",
        "/v1/matches/{new:half:id}/accept",
        {"A": 200, "B": 200},
        check=half_accepted,
        name="offer side accepted already",
    ),
    *route(
        "POST",
        "/v1/matches/{m_lot}/fulfil",
        {"*": 404, "A": 409, "B": 409},
        watch=("/v1/matches/{m_lot}", STOCK),
    ),
    *route(
        "POST",
        "/v1/matches/{m_accepted}/shipment",
        {"*": 404, "A": 201, "B": 201, "R": 403, "R2": 403},
        body={},
        watch=("/v1/matches/{m_accepted}",),
    ),
    *route(
        "POST",
        "/v1/matches/{m_proposed}/shipment",
        {"*": 404, "A": 409, "B": 409, "R": 403, "R2": 403},
        body={},
        watch=("/v1/matches/{m_proposed}",),
    ),
    # Matching runs: started by the admin role, read by the organization that started them
    *route(
        "POST",
        "/v1/matching/runs",
        {"*": 403, "R": 202, "R2": 202},
        body={"material": "1708", "near": NOWHERE_NEAR, "radius_km": 0.5},
    ),
    *route("GET", "/v1/matching/runs?limit=500", {"*": 200}, check=runs_own_only),
    *route("GET", "/v1/matching/runs/{run_r}", {"*": 404, "R": 200}, check=status_is("done")),
    # Webhooks: subscriptions, their secrets and their deliveries are the subscriber's
    *route("POST", "/v1/webhooks", {"*": 201}, body=WEBHOOK_BODY, check=no_secret),
    *route("GET", "/v1/webhooks", {"*": 200}, check=webhooks_own_only),
    *route("GET", "/v1/webhooks/{webhook_a}", {"*": 404, "A": 200}, check=no_secret),
    *route(
        "DELETE",
        "/v1/webhooks/{webhook_a}",
        {"*": 404, "A": 204},
        allowed_path="/v1/webhooks/{new:webhook:id}",
        watch=("/v1/webhooks", "/v1/webhooks/{webhook_a}/deliveries"),
    ),
    *route(
        "POST",
        "/v1/webhooks/{webhook_a}/secret",
        {"*": 404, "A": 200},
        body={"secret": "a-rotated-secret-of-16-chars"},
        allowed_path="/v1/webhooks/{new:webhook:id}/secret",
        watch=("/v1/webhooks/{webhook_a}",),
        check=no_secret,
    ),
    *route(
        "GET",
        "/v1/webhooks/{webhook_a}/deliveries",
        {"*": 404, "A": 200},
        check=has_deliveries,
    ),
    *route(
        "GET",
        "/v1/webhooks/{webhook_c}/deliveries",
        {"C": 200},
        check=nothing_delivered,
        name="no event of the others",
    ),
    # Vehicles and shipments: private
    *route(
        "POST",
        "/v1/vehicles",
        {"*": 403, "A": 201, "B": 201, "H": 201, "K": 201},
        body=VEHICLE_BODY,
    ),
    *route(
        "POST",
        "/v1/vehicles",
        {"*": 403, "A": 201, "B": 422, "H": 422, "K": 422},
        body={"name": "Bike", "type": "cargo_bike", "start_site_id": "{site_a}"},
        name="from A's site",
    ),
    *route("GET", "/v1/vehicles", {"*": 200}, check=own_only("vehicle_a")),
    # Delivery services and deliveries: private to the carrier and to the shop
    *route(
        "POST",
        "/v1/delivery-services",
        {"*": 403, "A": 201, "B": 422, "H": 403, "K": 422},
        body=delivery_service_of({"hub_site_a": "{hub_site_a}", "vehicle_a": "{vehicle_a}"}),
    ),
    *route("GET", "/v1/delivery-services", {"*": 200}, check=own_only("service_a")),
    *route("GET", "/v1/delivery-services/{service_a}", {"*": 404, "A": 200}),
    *route("GET", "/v1/delivery-services/{service_a}/slots", {"*": 404, "A": 200}),
    *route(
        "POST",
        "/v1/delivery-services/{service_a}/slots/{slot_a}/close",
        {"*": 404, "A": 200},
        allowed_path="/v1/delivery-services/{service_a}/slots/{new:slot:id}/close",
    ),
    *route("POST", "/v1/delivery-quotes", {"*": 403, "A": 201, "B": 201}, body=delivery_ask()),
    *route(
        "POST",
        "/v1/deliveries",
        {"*": 403, "A": 201, "B": 404},
        body={"quote_id": "{quote_a}", "option_id": "opt-1"},
    ),
    *route("GET", "/v1/deliveries", {"*": 200}, check=own_only("delivery_a")),
    *route("GET", "/v1/deliveries/{delivery_a}", {"*": 404, "A": 200}),
    *route(
        "POST",
        "/v1/deliveries/{delivery_a}/cancel",
        {"*": 404, "A": 200},
        allowed_path="/v1/deliveries/{new:delivery:id}/cancel",
        watch=("/v1/deliveries/{delivery_a}",),
    ),
    # Web shop connections and their orders: private to the shop; the platforms' own calls
    # are refused unless signed with the connection's secret, whoever's key comes with them
    *route(
        "POST",
        "/v1/shop-connections",
        {"*": 403, "A": 201, "B": 422},
        body=WOO_CONNECTION,
    ),
    *route("GET", "/v1/shop-connections", {"*": 200}, check=own_only("connection_a")),
    *route("GET", "/v1/shop-connections/{connection_a}", {"*": 404, "A": 200}),
    *route(
        "DELETE",
        "/v1/shop-connections/{connection_a}",
        {"*": 404, "A": 204},
        allowed_path="/v1/shop-connections/{new:connection:id}",
        watch=("/v1/shop-connections/{connection_a}",),
    ),
    *route("GET", "/v1/shop-connections/{connection_a}/orders", {"*": 404, "A": 200}),
    *route(
        "POST",
        "/v1/shop-connections/{connection_a}/orders/{shop_order_a}/retry",
        {"*": 404, "A": 200},
        body={},
        watch=("/v1/shop-connections/{connection_a}/orders",),
    ),
    *route(
        "POST",
        "/v1/shop-connections/{connection_a}/woocommerce",
        {"*": 401},
        body={"id": 78, "status": "processing"},
        watch=("/v1/shop-connections/{connection_a}/orders",),
    ),
    *route("POST", "/v1/shopify/orders", {"*": 401}, body={"id": 79}),
    *route("POST", "/v1/shopify/rates", {"*": 401}, body={"rate": {}}),
    *route("GET", "/v1/vehicles/{vehicle_a}", {"*": 404, "A": 200}),
    *route(
        "POST",
        "/v1/shipments",
        {"*": 201, "R": 403, "R2": 403},
        body=shipment_at(SITE_B, HUB_H),
    ),
    *route(
        "POST",
        "/v1/shipments",
        {"*": 422, "A": 201, "R": 403, "R2": 403},
        body={
            **shipment_at(SITE_B, HUB_H),
            "pickup": {"site_id": "{site_a}", **window("08:00", "12:00")},
        },
        name="from A's site",
    ),
    *route("GET", "/v1/shipments", {"*": 200}, check=own_only("shipment_a")),
    *route("GET", "/v1/shipments/{shipment_a}", {"*": 404, "A": 200}),
    # Route plans: planned with one's own fleet, shipments and hubs; read by the planner
    *route(
        "POST",
        "/v1/route-plans",
        {"*": 403, "A": 202, "B": 404, "H": 404, "K": 404},
        body={
            "date": PLAN_DAY,
            "vehicle_ids": ["{vehicle_a}"],
            "shipment_ids": ["{shipment_a}"],
            "time_limit_s": 1,
        },
    ),
    *route(
        "POST",
        "/v1/route-plans",
        {"*": 403, "A": None, "B": 404, "H": 404, "K": 404},
        body={
            "date": PLAN_DAY,
            "vehicles": [VEHICLE_BODY],
            "shipment_ids": ["{shipment_a}"],
            "time_limit_s": 1,
        },
        name="A's shipment",
    ),
    *route(
        "POST",
        "/v1/route-plans",
        {"*": 403, "A": None, "B": 422, "H": 422, "K": 422},
        body=TWO_TIER_AT_HUB_A,
        name="through A's hub",
    ),
    *route(
        "PATCH",
        "/v1/vehicles/{vehicle_a}",
        {"*": 404, "A": 200},
        body={"name": "Taken over", "capacity_kg": 1},
        allowed_path="/v1/vehicles/{new:vehicle:id}",
        watch=("/v1/vehicles/{vehicle_a}",),
    ),
    *route(
        "DELETE",
        "/v1/vehicles/{vehicle_a}",
        {"*": 404, "A": 204},
        allowed_path="/v1/vehicles/{new:vehicle:id}",
        watch=("/v1/vehicles/{vehicle_a}",),
    ),
    *route(
        "PATCH",
        "/v1/shipments/{shipment_a}",
        {"*": 404, "A": 200},
        body={"load_kg": 1, "reference": "taken over"},
        allowed_path="/v1/shipments/{new:shipment:id}",
        watch=("/v1/shipments/{shipment_a}",),
    ),
    *route(
        "DELETE",
        "/v1/shipments/{shipment_a}",
        {"*": 404, "A": 204},
        allowed_path="/v1/shipments/{new:shipment:id}",
        watch=("/v1/shipments/{shipment_a}",),
    ),
    *route(
        "DELETE",
        "/v1/shipments/{new:shipped:shipment}",
        {"*": 404, "A": 409},
        watch=("/v1/shipments/{new:shipped:shipment}",),
        name="a yard dispatched to it",
    ),
    *route("GET", "/v1/route-plans", {"*": 200}, check=own_only("plan_a")),
    # A plan that is done cannot be cancelled; another's is not there to cancel.
    *route("POST", "/v1/route-plans/{plan_a}/cancel", {"*": 404, "A": 409}),
    *route("GET", "/v1/route-plans/{plan_a}", {"*": 404, "A": 200}, check=status_is("done")),
    *route("GET", "/v1/route-plans/{plan_a}?format=geojson", {"*": 404, "A": 200}, check=plan_map),
    # The Region's statistics: aggregates for the admin and observer roles alone
    *route("GET", "/v1/stats/flows?group_by=commune", {"*": 403, "R": 200, "R2": 200}),
    # Hubs: settings, stock, movements and pooling are the operator's
    *route("GET", "/v1/hubs/{hub_a}", {"*": 403, "A": 200, "B": 404, "H": 404}),
    *route("GET", "/v1/hubs/{site_a}", {"*": 403, "A": 409, "B": 404, "H": 404}),
    *route(
        "PUT",
        "/v1/hubs/{hub_a}",
        {"*": 403, "A": 200, "B": 404, "H": 404},
        body=HUB_SETTINGS,
        allowed_path="/v1/hubs/{new:hub:id}",
        watch=("/v1/hubs/{hub_a}",),
    ),
    *route(
        "POST",
        MOVEMENTS,
        {"*": 403, "A": 201, "B": 404, "H": 404},
        body=walk_in("WALK", 1),
        allowed_path="/v1/hubs/{new:hub:id}/movements",
        watch=(STOCK, MOVEMENTS),
        name="walk-in intake",
    ),
    *route(
        "POST",
        MOVEMENTS,
        {"*": 403, "A": 201, "B": 404, "H": 404},
        body={
            "kind": "dispatch",
            "lot": "GYP-A",
            "quantity": {"value": 1, "unit": "t"},
            "shipment_id": "{shipment_a}",
        },
        allowed_path="/v1/hubs/{new:stocked:hub}/movements",
        allowed_body={
            "kind": "dispatch",
            "lot": "GYP-N",
            "quantity": {"value": 1, "unit": "t"},
            "shipment_id": "{new:stocked:shipment}",
        },
        watch=(STOCK, MOVEMENTS),
        name="dispatch to a shipment",
    ),
    *route(
        "POST",
        "/v1/hubs/{new:lot_match:seller_hub}/movements",
        {"*": 403, "A": 201, "B": 404, "H": 404},
        body={
            "kind": "dispatch",
            "lot": "{new:lot_match:lot}",
            "quantity": {"value": 3, "unit": "t"},
            "match_id": "{new:lot_match:match}",
        },
        watch=(
            "/v1/matches/{new:lot_match:match}",
            "/v1/hubs/{new:lot_match:seller_hub}/stock",
        ),
        check=dispatch_served_the_match,
        name="dispatch to the match on its lot",
    ),
    *route(
        "POST",
        "/v1/hubs/{me:hub}/movements",
        {"*": 403, "A": 422, "B": 422, "H": 422},
        body={
            "kind": "dispatch",
            "lot": "{me:lot}",
            "quantity": {"value": 1, "unit": "t"},
            "match_id": "{new:lot_match:match}",
        },
        watch=(
            "/v1/matches/{new:lot_match:match}",
            "/v1/hubs/{new:lot_match:seller_hub}/stock",
        ),
        name="own yard, dispatch to a match on another yard's lot",
    ),
    # An intake from an offer takes what the caller's accepted match reserved: the request
    # side's yard takes it in; the offer side and third yards are refused.
    *route(
        "POST",
        "/v1/hubs/{me:hub}/movements",
        {"*": 403, "A": 409, "B": 201, "H": 409},
        body={
            "kind": "intake",
            "offer_id": "{new:accepted:offer}",
            "quantity": {"value": 2, "unit": "t"},
        },
        watch=("/v1/matches/{new:accepted:id}", "/v1/offers/{new:accepted:offer}"),
        check=intake_served_the_match,
        name="own yard, intake of an offer matched to B",
    ),
    # An offer that shows another yard's lot leaves that yard by its dispatch only: an intake
    # elsewhere must not fulfil the match and free the seller's reserved stock.
    *route(
        "POST",
        "/v1/hubs/{me:hub}/movements",
        {"*": 403, "A": 409, "B": (409, 422), "H": 409},
        body={
            "kind": "intake",
            "offer_id": "{new:lot_match:offer}",
            "quantity": {"value": 3, "unit": "t"},
        },
        watch=(
            "/v1/matches/{new:lot_match:match}",
            "/v1/hubs/{new:lot_match:seller_hub}/stock",
            "/v1/offers/{new:lot_match:offer}",
        ),
        name="own yard, intake of another yard's lot",
    ),
    # Once the seller's yard dispatched it, the buyer's yard takes it in, once; the intake
    # leaves the match and the seller's stock alone.
    *route(
        "POST",
        "/v1/hubs/{me:hub}/movements",
        {"*": 403, "A": 409, "B": 201, "H": 409},
        body={
            "kind": "intake",
            "offer_id": "{new:dispatched:offer}",
            "quantity": {"value": 3, "unit": "t"},
        },
        watch=(
            "/v1/matches/{new:dispatched:match}",
            "/v1/hubs/{new:dispatched:seller_hub}/stock",
        ),
        check=took_in_the_dispatch,
        name="own yard, intake of another yard's dispatched lot",
    ),
    *route("GET", MOVEMENTS, {"*": 403, "A": 200, "B": 404, "H": 404}),
    *route("GET", "/v1/hubs/{hub_a}/movements/{mv_a}", {"*": 403, "A": 200, "B": 404, "H": 404}),
    *route(
        "GET",
        "/v1/hubs/{me:hub}/movements/{mv_a}",
        {"A": 200, "B": 404, "H": 404},
        name="under one's own yard",
    ),
    *route("GET", STOCK, {"*": 403, "A": 200, "B": 404, "H": 404}, check=lot_held_for_b),
    *route("GET", "/v1/hubs/{hub_a}/pooling", {"*": 403, "A": 200, "B": 404, "H": 404}),
    # A yard of one's own does not make a yard operator.
    *route("GET", "/v1/hubs/{yard_s}", {"S": 403}, name="own yard, no role"),
    *route("PUT", "/v1/hubs/{yard_s}", {"S": 403}, body=HUB_SETTINGS, name="own yard, no role"),
    *route(
        "POST",
        "/v1/hubs/{yard_s}/movements",
        {"S": 403},
        body=walk_in("WALK", 1),
        name="own yard, no role",
    ),
]

PLACEHOLDER = re.compile(r"\{([a-z0-9_:]+)\}")


async def resolve(world: World, who: str, templates: list[str], refused: bool) -> dict[str, str]:
    """The values of the placeholders: world rows, the caller's own yard (`me:`), and rows made
    by a factory (`new:factory:key`): for this case alone when it may write, else the
    factory's spare row."""
    values: dict[str, str] = {}
    made = world.spares if refused else {}
    for name in sorted({n for t in templates for n in PLACEHOLDER.findall(t)}):
        if name.startswith("new:"):
            _, factory, key = name.split(":")
            if factory not in made:
                made[factory] = await world.factories[factory]()
            values[name] = made[factory][key]
        elif name.startswith("me:"):
            hub, lot = world.yards.get(who, world.yards["A"])
            values[name] = {"me:hub": hub, "me:lot": lot}[name]
        else:
            values[name] = world.ids[name]
    return values


def fill(template: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


async def snapshot(world: World, paths: list[str]) -> list[tuple[int, Any]]:
    return [await world.read("A", path) for path in paths]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_route(case: Case, world: World, client: httpx.AsyncClient) -> None:
    body_template = None if case.body is None else json.dumps(case.body)
    values = await resolve(
        world,
        case.who,
        [case.path, *case.watch, *([body_template] if body_template else [])],
        case.refused,
    )
    path = fill(case.path, values)
    watched = [fill(w, values) for w in case.watch]
    before = await snapshot(world, watched)
    response = await client.request(
        case.method,
        path,
        headers=world.headers(case.who),
        json=None if body_template is None else json.loads(fill(body_template, values)),
    )
    after = await snapshot(world, watched)
    changed = [
        f"{p}: {b} -> {a}"
        for p, b, a in zip(watched, before, after, strict=True)
        if a != b and case.refused
    ]
    assert response.status_code in case.status and not changed, (
        f"{case.method} {path} as {case.who}: {response.status_code} {response.text[:600]}; "
        f"expected {case.status}; changed: {changed or 'nothing'}"
    )
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    elif case.check is not None:
        await case.check(
            Call(
                response,
                case.who,
                world,
                values,
                dict(zip(watched, before, strict=True)),
                dict(zip(watched, after, strict=True)),
            )
        )


# A cursor that no `next` link made is a bad request, on every paginated list.
DATE, NOT_AN_ID = "2026-01-01T00:00:00+00:00", 5
CURSOR_CASES = [
    ("/v1/sites", [DATE, NOT_AN_ID]),
    ("/v1/offers", [DATE, NOT_AN_ID]),
    (f"/v1/offers?near={SITE_A[0]},{SITE_A[1]}", [1.5, NOT_AN_ID]),
    ("/v1/requests", [DATE, NOT_AN_ID]),
    ("/v1/matches", [DATE, NOT_AN_ID]),
    ("/v1/hubs/{hub_a}/movements", ["not a date", "not an id"]),
    ("/v1/hubs/{hub_a}/movements", []),
    ("/v1/webhooks/{webhook_a}/deliveries", [NOT_AN_ID]),
]


@pytest.mark.parametrize(
    ("path", "sort_key"), CURSOR_CASES, ids=[f"{p} {k}" for p, k in CURSOR_CASES]
)
async def test_a_forged_cursor_is_refused(
    path: str, sort_key: list[Any], world: World, client: httpx.AsyncClient
) -> None:
    url = fill(path, world.ids)
    separator = "&" if "?" in url else "?"
    response = await client.get(
        f"{url}{separator}cursor={cursor(sort_key)}", headers=world.headers("A")
    )
    assert response.status_code == 422, response.text
    failing = {(e["field"], e["rule"]) for e in response.json()["errors"]}
    assert ("cursor", "valid_cursor") in failing


def _operation(method: str, path: str, templates: list[str]) -> tuple[str, str] | None:
    """The operation of the document a concrete path calls: of the templates it fits, the one
    with the most literal segments (`/me` before `/{organization_id}`)."""
    segments = path.split("/")
    fitting = [
        t
        for t in templates
        if len(t.split("/")) == len(segments)
        and all(
            part.startswith("{") or part == given
            for part, given in zip(t.split("/"), segments, strict=True)
        )
    ]
    if not fitting:
        return None
    best = max(fitting, key=lambda t: sum(not p.startswith("{") for p in t.split("/")))
    return method, best


def test_every_operation_of_the_api_has_its_cases(app: FastAPI) -> None:
    document = app.openapi()["paths"]
    every = {(m.upper(), path) for path, operations in document.items() for m in operations}
    covered = {
        _operation(c.method, PLACEHOLDER.sub("x", c.path).split("?")[0], list(document))
        for c in CASES
    }
    assert every <= covered, sorted(every - covered)
