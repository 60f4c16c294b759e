"""Shops book deliveries into a carrier's shared rounds (COMM 12): a quote lists the slots whose
round can take the delivery, priced by the service's list; a booking fits it into the slot's
round under the slot's lock, so that nothing is booked beyond what the round can carry, two
shops racing for the last room get one booking and one 409 with the options left, and a
cancellation until the cut-off gives the room back."""

import asyncio
import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from app.deliveries.booked_rounds import round_problems
from app.deliveries.cutoff import plan_slots_past_cutoff
from app.kit.local_time import BRUSSELS
from app.models import DeliverySlot
from testbed.database import connect_raw
from tests.conftest import (
    Org,
    OrgFactory,
    Receiver,
    WorkerRun,
    assert_problem,
    point,
    subscribe,
)

HUB = (4.3430, 50.8330)
SHOP = (4.3460, 50.8350)
CUSTOMER = (4.3490, 50.8380)
ZONE = ((4.33, 50.82), (4.36, 50.82), (4.36, 50.85), (4.33, 50.85), (4.33, 50.82))
FAR_AWAY = [4.70, 50.88]
# Each test's round lies apart from the others' (a shop books whichever service rides where it
# asks): 3 km further north each time.
_ROUNDS_APART = itertools.count()


@dataclass
class Round:
    carrier: Org
    shop: Org
    service_id: str
    shop_site_id: str
    customer: list[float]
    zone: dict[str, Any]
    vehicle_ids: list[str]


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(BRUSSELS).date() + timedelta(days=1)
    return datetime.combine(day, time(hour, minute), BRUSSELS)


async def created(client: httpx.AsyncClient, org: Org, path: str, body: Any) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def a_round(
    client: httpx.AsyncClient,
    make_org: OrgFactory,
    *,
    capacity_kg: float = 40,
    slots: list[dict[str, str]] | None = None,
    bikes: tuple[dict[str, Any], ...] = ({},),
) -> Round:
    """A carrier with a hub, one cargo bike and a service every day, and a shop in its zone,
    where no other test's round lies."""
    north = 0.03 * next(_ROUNDS_APART)

    def moved(place: tuple[float, float]) -> list[float]:
        return [place[0], round(place[1] + north, 6)]

    zone = {"type": "Polygon", "coordinates": [[moved(corner) for corner in ZONE]]}
    carrier, shop = await make_org("carrier"), await make_org("shop")
    hub = await created(
        client, carrier, "/v1/sites", {"name": "Hub", "kind": "hub", "location": point(moved(HUB))}
    )
    fleet = [
        await created(
            client,
            carrier,
            "/v1/vehicles",
            {
                "name": f"Bike {k}",
                "type": "cargo_bike",
                "capacity_kg": capacity_kg,
                "start": point(moved(HUB)),
                **fields,
            },
        )
        for k, fields in enumerate(bikes, start=1)
    ]
    service = await created(
        client,
        carrier,
        "/v1/delivery-services",
        {
            "name": "Saint-Gilles rounds",
            "hub_site_id": hub["id"],
            "zone": zone,
            "weekdays": [1, 2, 3, 4, 5, 6, 7],
            "slots": slots
            or [
                {"start": "09:00", "end": "12:00", "cutoff_before": "PT1H"},
                {"start": "14:00", "end": "17:00", "cutoff_before": "PT1H"},
            ],
            "vehicle_ids": [bike["id"] for bike in fleet],
            "prices": {"per_delivery_eur": 6.5, "per_kg_eur": 0.2, "included_kg": 5},
            "max_parcel_kg": 50,
            "max_parcel_m3": 0.5,
        },
    )
    site = await created(
        client, shop, "/v1/sites", {"name": "Shop", "kind": "shop", "location": point(moved(SHOP))}
    )
    return Round(
        carrier, shop, service["id"], site["id"], moved(CUSTOMER), zone, [b["id"] for b in fleet]
    )


def ask(round_: Round, weight_kg: float = 8, **fields: Any) -> dict[str, Any]:
    return {
        "pickup_site_id": round_.shop_site_id,
        "dropoff": point(round_.customer),
        "dropoff_address": "Rue de la Victoire 12, 1060 Saint-Gilles",
        "parcels": {"count": 2, "weight_kg": weight_kg, "volume_m3": 0.04},
        "earliest": tomorrow_at(0).isoformat(),
        "latest": tomorrow_at(23, 59).isoformat(),
        **fields,
    }


async def test_a_quote_lists_each_slot_that_fits_priced_by_the_service_s_list(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    round_ = await a_round(client, make_org)
    quote = await created(client, round_.shop, "/v1/delivery-quotes", ask(round_))
    options = quote["options"]
    assert [datetime.fromisoformat(o["slot_starts_at"]) for o in options] == [
        tomorrow_at(9),
        tomorrow_at(14),
    ]
    first = options[0]
    # 6.50 for the delivery, 0.20 a kg beyond 5 kg: 7.10; 21 % VAT: 1.49.
    assert (first["price_excl_vat"], first["vat"], first["price_incl_vat"]) == (7.1, 1.49, 8.59)
    assert first["vehicle_type"] == "cargo_bike" and first["co2e_g"] == 0
    assert first["van_co2e_g"] > 0
    assert datetime.fromisoformat(first["cutoff_at"]) == tomorrow_at(8)
    expires = datetime.fromisoformat(quote["expires_at"]) - datetime.now(BRUSSELS)
    assert timedelta(minutes=14) < expires <= timedelta(minutes=15)

    booked = await created(
        client,
        round_.shop,
        "/v1/deliveries",
        {"quote_id": quote["id"], "option_id": first["id"], "reference": "#1042"},
    )
    assert booked["status"] == "booked" and booked["reference"] == "#1042"
    assert booked["price_incl_vat"] == 8.59
    assert datetime.fromisoformat(booked["slot_starts_at"]) == tomorrow_at(9)
    read = await client.get(f"/v1/deliveries/{booked['id']}", headers=round_.shop.headers)
    assert read.status_code == 200 and read.json() == booked
    listed = await client.get("/v1/deliveries", headers=round_.shop.headers)
    assert [d["id"] for d in listed.json()["items"]] == [booked["id"]]


async def _round_rows(
    database_url: str, service_id: str, starts_at: datetime
) -> tuple[dict[str, Any], int]:
    conn = await connect_raw(database_url)
    try:
        slot = await conn.fetchrow(
            "SELECT id, plan FROM delivery_slots WHERE service_id = $1 AND starts_at = $2",
            uuid.UUID(service_id),
            starts_at,
        )
        booked = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE slot_id = $1 AND status = 'booked'", slot["id"]
        )
    finally:
        await conn.close()
    return json.loads(slot["plan"]), booked


async def _book_until_full(
    client: httpx.AsyncClient, round_: Round, morning: dict[str, Any]
) -> int:
    booked = 0
    while True:
        answer = await client.post(
            "/v1/deliveries", json={"ask": morning}, headers=round_.shop.headers
        )
        if answer.status_code != 201:
            return booked
        assert answer.json()["service_id"] == round_.service_id
        assert datetime.fromisoformat(answer.json()["slot_starts_at"]) == tomorrow_at(9)
        booked += 1
        assert booked < 50


async def test_a_slot_takes_what_its_round_can_carry_and_racing_shops_never_overbook(
    app: FastAPI, client: httpx.AsyncClient, make_org: OrgFactory, database_url: str
) -> None:
    # The morning only, and a bike that carries 40 kg: 25 kg deliveries go one at a time.
    window = {"earliest": tomorrow_at(9).isoformat(), "latest": tomorrow_at(10).isoformat()}
    alone = await a_round(client, make_org)
    room = await _book_until_full(client, alone, ask(alone, weight_kg=25, **window))
    assert 1 < room < 20
    full = await client.post(
        "/v1/deliveries",
        json={"ask": ask(alone, weight_kg=25, **window)},
        headers=alone.shop.headers,
    )
    assert_problem(full, 409)
    assert full.json()["rule"] == "no_slot_left"
    plan, booked = await _round_rows(database_url, alone.service_id, tomorrow_at(9))
    assert booked == room == sum(len(stops) for stops in plan.values()) // 2

    # The same round again, and twice as many shops at once as it has room for.
    racing = await a_round(client, make_org)
    answers = await asyncio.gather(
        *(
            client.post(
                "/v1/deliveries",
                json={"ask": ask(racing, weight_kg=25, **window)},
                headers=racing.shop.headers,
            )
            for _ in range(2 * room)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * room + [409] * room, statuses
    plan, booked = await _round_rows(database_url, racing.service_id, tomorrow_at(9))
    assert booked == room
    async with app.state.sessionmaker() as session:
        slot = await session.scalar(
            select(DeliverySlot).where(DeliverySlot.service_id == uuid.UUID(racing.service_id))
        )
        assert slot is not None
        assert await round_problems(session, slot) == []


async def test_a_cancellation_until_the_cut_off_gives_the_room_back(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    window = {"earliest": tomorrow_at(9).isoformat(), "latest": tomorrow_at(10).isoformat()}
    round_ = await a_round(client, make_org)
    room = await _book_until_full(client, round_, ask(round_, weight_kg=25, **window))
    listed = (await client.get("/v1/deliveries", headers=round_.shop.headers)).json()["items"]
    first = listed[0]["id"]
    cancelled = await client.post(f"/v1/deliveries/{first}/cancel", headers=round_.shop.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/v1/deliveries/{first}/cancel", headers=round_.shop.headers)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    # The room it held is booked again, and no more.
    assert await _book_until_full(client, round_, ask(round_, weight_kg=25, **window)) == 1
    assert room >= 2


async def test_no_option_says_why(client: httpx.AsyncClient, make_org: OrgFactory) -> None:
    round_ = await a_round(client, make_org)
    shop = round_.shop.headers
    outside = await client.post(
        "/v1/delivery-quotes", json=ask(round_, dropoff=point(FAR_AWAY)), headers=shop
    )
    assert_problem(outside, 422, "dropoff", "outside_every_zone")
    heavy = await client.post("/v1/delivery-quotes", json=ask(round_, weight_kg=60), headers=shop)
    assert_problem(heavy, 422, "parcels", "larger_than_every_service_takes")
    # Only a window between the slots: none overlaps it by a quarter of an hour.
    between: dict[str, Any] = {
        "earliest": tomorrow_at(12, 5).isoformat(),
        "latest": tomorrow_at(13, 55).isoformat(),
    }
    none = await client.post("/v1/delivery-quotes", json=ask(round_, **between), headers=shop)
    assert_problem(none, 409)
    assert none.json()["rule"] == "no_slot_left"
    backwards = await client.post(
        "/v1/delivery-quotes",
        json=ask(round_, earliest=tomorrow_at(12).isoformat(), latest=tomorrow_at(9).isoformat()),
        headers=shop,
    )
    assert_problem(backwards, 422)


async def test_only_shops_quote_and_book_and_each_sees_its_own(
    client: httpx.AsyncClient, make_org: OrgFactory, database_url: str
) -> None:
    round_ = await a_round(client, make_org)
    as_carrier = await client.post(
        "/v1/delivery-quotes", json=ask(round_), headers=round_.carrier.headers
    )
    assert_problem(as_carrier, 403)
    quote = await created(client, round_.shop, "/v1/delivery-quotes", ask(round_))
    other_shop = await make_org("shop")
    stolen = await client.post(
        "/v1/deliveries",
        json={"quote_id": quote["id"], "option_id": "opt-1"},
        headers=other_shop.headers,
    )
    assert_problem(stolen, 404)
    booked = await created(
        client, round_.shop, "/v1/deliveries", {"quote_id": quote["id"], "option_id": "opt-1"}
    )
    for path in (f"/v1/deliveries/{booked['id']}", f"/v1/deliveries/{booked['id']}/cancel"):
        method = client.get if path.endswith(booked["id"]) else client.post
        assert_problem(await method(path, headers=other_shop.headers), 404)

    # A quote past its expiry books nothing.
    later = await created(client, round_.shop, "/v1/delivery-quotes", ask(round_))
    conn = await connect_raw(database_url)
    try:
        await conn.execute(
            "UPDATE delivery_quotes SET expires_at = now() - interval '1 second' WHERE id = $1",
            uuid.UUID(later["id"]),
        )
    finally:
        await conn.close()
    expired = await client.post(
        "/v1/deliveries",
        json={"quote_id": later["id"], "option_id": "opt-1"},
        headers=round_.shop.headers,
    )
    assert_problem(expired, 409)
    assert expired.json()["rule"] == "quote_expired"
    unknown = await client.post(
        "/v1/deliveries",
        json={"quote_id": quote["id"], "option_id": "opt-9"},
        headers=round_.shop.headers,
    )
    assert_problem(unknown, 422, "option_id", "option_of_the_quote")


async def test_a_service_s_zone_hub_and_vehicles_are_checked(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    round_ = await a_round(client, make_org)
    carrier = round_.carrier
    service = (
        await client.get(f"/v1/delivery-services/{round_.service_id}", headers=carrier.headers)
    ).json()
    body = {
        "name": "Again",
        "hub_site_id": service["hub_site_id"],
        "zone": round_.zone,
        "weekdays": [1],
        "slots": [{"start": "09:00", "end": "12:00", "cutoff_before": "PT1H"}],
        "vehicle_ids": service["vehicle_ids"],
        "prices": {"per_delivery_eur": 5},
        "max_parcel_kg": 20,
        "max_parcel_m3": 0.2,
    }
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[4.33, 50.82], [4.36, 50.85], [4.36, 50.82], [4.33, 50.85], [4.33, 50.82]]
        ],
    }
    bad_zone = await client.post(
        "/v1/delivery-services", json={**body, "zone": bowtie}, headers=carrier.headers
    )
    assert_problem(bad_zone, 422, "zone", "valid_polygon")
    other = await make_org("carrier")
    not_theirs = await client.post("/v1/delivery-services", json=body, headers=other.headers)
    assert_problem(not_theirs, 422, "hub_site_id", "own_hub")
    backwards = await client.post(
        "/v1/delivery-services",
        json={**body, "slots": [{"start": "12:00", "end": "09:00", "cutoff_before": "PT1H"}]},
        headers=carrier.headers,
    )
    assert_problem(backwards, 422)
    unknown = await client.post(
        "/v1/delivery-services",
        json={**body, "districts": ["rue-neuve-nieuwstraat", "nowhere"]},
        headers=carrier.headers,
    )
    assert_problem(unknown, 422, "districts.1", "known_district")
    nowhere = await client.post(
        "/v1/delivery-services", json={**body, "zone": None}, headers=carrier.headers
    )
    assert_problem(nowhere, 422)
    as_shop = await client.post("/v1/delivery-services", json=body, headers=round_.shop.headers)
    assert_problem(as_shop, 403)


async def test_at_the_cut_off_the_bookings_are_planned_and_what_no_longer_fits_moves_on(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_org: OrgFactory,
    run_worker: WorkerRun,
    database_url: str,
    receiver: Receiver,
) -> None:
    # One bike rides the mornings, the other the afternoons.
    round_ = await a_round(
        client,
        make_org,
        bikes=({"shift_start": "08:00", "shift_end": "13:00"}, {"shift_start": "13:00"}),
    )
    events = ["delivery.booked", "delivery.planned", "delivery.moved"]
    hook = await subscribe(client, round_.shop, receiver.url, events)
    morning = {"earliest": tomorrow_at(9).isoformat(), "latest": tomorrow_at(18).isoformat()}
    booked = [
        await created(
            client, round_.shop, "/v1/deliveries", {"ask": ask(round_, weight_kg=kg, **morning)}
        )
        for kg in (25, 25, 5)
    ]
    assert {datetime.fromisoformat(b["slot_starts_at"]) for b in booked} == {tomorrow_at(9)}
    # Then the morning bike is given a smaller box: the 25 kg deliveries no longer fit it.
    changed = await client.patch(
        f"/v1/vehicles/{round_.vehicle_ids[0]}",
        json={"capacity_kg": 10},
        headers=round_.carrier.headers,
    )
    assert changed.status_code == 200, changed.text
    # The morning's cut-off passes.
    conn = await connect_raw(database_url)
    try:
        await conn.execute(
            "UPDATE delivery_slots SET cutoff_at = now() - interval '1 second'"
            " WHERE service_id = $1 AND starts_at = $2",
            uuid.UUID(round_.service_id),
            tomorrow_at(9),
        )
    finally:
        await conn.close()

    async with app.state.sessionmaker.begin() as session:
        assert await plan_slots_past_cutoff(session, app.state.settings) == 1
    # The plan settles the slot's deliveries as it is done.
    await run_worker()

    after = {
        b["id"]: (await client.get(f"/v1/deliveries/{b['id']}", headers=round_.shop.headers)).json()
        for b in booked
    }
    light = after[booked[2]["id"]]
    assert light["status"] == "planned"
    for heavy in (after[booked[0]["id"]], after[booked[1]["id"]]):
        assert heavy["status"] == "booked"
        assert datetime.fromisoformat(heavy["slot_starts_at"]) == tomorrow_at(14)
    # The morning's round is a route plan of the carrier's, as every plan.
    async with app.state.sessionmaker() as session:
        slot = await session.scalar(
            select(DeliverySlot).where(
                DeliverySlot.service_id == uuid.UUID(round_.service_id),
                DeliverySlot.starts_at == tomorrow_at(9),
            )
        )
        assert slot is not None and slot.status == "planned"
    # The carrier sees its slots, their rounds and what to carry; the shop, only its own.
    slots = await client.get(
        f"/v1/delivery-services/{round_.service_id}/slots",
        params={"from": str(tomorrow_at(0).date())},
        headers=round_.carrier.headers,
    )
    assert slots.status_code == 200, slots.text
    by_start = {datetime.fromisoformat(s["starts_at"]): s for s in slots.json()["items"]}
    assert by_start[tomorrow_at(9)]["status"] == "planned"
    assert by_start[tomorrow_at(9)]["route_plan_id"] == str(slot.route_plan_id)
    afternoon = by_start[tomorrow_at(14)]
    assert afternoon["status"] == "open"
    assert {d["id"] for d in afternoon["deliveries"]} == {booked[0]["id"], booked[1]["id"]}
    assert {d["reference"] for d in afternoon["deliveries"]} == {None}
    stops = [stop for route in afternoon["rounds"].values() for stop in route]
    assert sorted(delivery for _, delivery in stops) == sorted(
        2 * [booked[0]["id"], booked[1]["id"]]
    )
    not_theirs = await client.get(
        f"/v1/delivery-services/{round_.service_id}/slots", headers=round_.shop.headers
    )
    assert_problem(not_theirs, 404)
    # The shop heard of each booking, of the delivery planned and of the two moved.
    await run_worker()
    log = await client.get(f"/v1/webhooks/{hook}/deliveries", headers=round_.shop.headers)
    heard = sorted(d["event_type"] for d in log.json()["items"])
    assert heard == sorted(3 * ["delivery.booked"] + ["delivery.planned"] + 2 * ["delivery.moved"])
    plan = await client.get(f"/v1/route-plans/{slot.route_plan_id}", headers=round_.carrier.headers)
    assert plan.status_code == 200 and plan.json()["status"] == "done"
    unassigned = {u["shipment_id"] for u in plan.json()["result"]["unassigned"]}
    assert unassigned == {booked[0]["id"], booked[1]["id"]}


async def test_a_dropoff_address_is_found_and_one_not_found_says_what_it_may_mean(
    client: httpx.AsyncClient, make_org: OrgFactory, geocoder_database: str
) -> None:
    round_ = await a_round(client, make_org)
    service = (
        await client.get(
            f"/v1/delivery-services/{round_.service_id}", headers=round_.carrier.headers
        )
    ).json()
    # A second service of the carrier's, over the Rue Neuve shopping district.
    door = (4.3569015, 50.853064)
    await created(
        client,
        round_.carrier,
        "/v1/delivery-services",
        {
            "name": "Rue Neuve",
            "hub_site_id": service["hub_site_id"],
            "districts": ["rue-neuve-nieuwstraat"],
            "weekdays": [1, 2, 3, 4, 5, 6, 7],
            "slots": [{"start": "09:00", "end": "12:00", "cutoff_before": "PT1H"}],
            "vehicle_ids": service["vehicle_ids"],
            "prices": {"per_delivery_eur": 5},
            "max_parcel_kg": 20,
            "max_parcel_m3": 0.2,
        },
    )
    by_address = {
        **ask(round_, pickup=point([4.3559, 50.8531])),
        "pickup_site_id": None,
        "dropoff": None,
        "dropoff_address": "Nieuwstraat 111, 1000 Brussel",
    }
    booked = await created(client, round_.shop, "/v1/deliveries", {"ask": by_address})
    assert booked["dropoff"]["coordinates"] == [round(c, 7) for c in door]
    assert booked["dropoff_address"] == "Nieuwstraat 111, 1000 Brussel"

    misspelt = await client.post(
        "/v1/delivery-quotes",
        json={**by_address, "dropoff_address": "Rue Nueve 111"},
        headers=round_.shop.headers,
    )
    body = assert_problem(misspelt, 422, "dropoff_address", "address_not_found")
    assert "Rue Neuve 111" in body["detail"]
    neither = await client.post(
        "/v1/delivery-quotes",
        json={**by_address, "dropoff_address": None},
        headers=round_.shop.headers,
    )
    assert_problem(neither, 422)


async def test_a_carrier_closes_a_slot_early_and_its_rounds_are_planned(
    client: httpx.AsyncClient, make_org: OrgFactory, run_worker: WorkerRun, app: FastAPI
) -> None:
    round_ = await a_round(client, make_org)
    booked = await created(client, round_.shop, "/v1/deliveries", {"ask": ask(round_)})
    slots = await client.get(
        f"/v1/delivery-services/{round_.service_id}/slots",
        params={"from": str(tomorrow_at(0).date())},
        headers=round_.carrier.headers,
    )
    [slot] = [s for s in slots.json()["items"] if s["deliveries"]]
    close = f"/v1/delivery-services/{round_.service_id}/slots/{slot['id']}/close"
    assert_problem(await client.post(close, headers=round_.shop.headers), 404)
    closed = await client.post(close, headers=round_.carrier.headers)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "planning" and closed.json()["route_plan_id"]
    # Closed: no booking goes in any more, and the shop can no longer cancel.
    cancel = await client.post(f"/v1/deliveries/{booked['id']}/cancel", headers=round_.shop.headers)
    assert_problem(cancel, 409)
    await run_worker()
    read = await client.get(f"/v1/deliveries/{booked['id']}", headers=round_.shop.headers)
    assert read.json()["status"] == "planned"
    again = await client.post(close, headers=round_.carrier.headers)
    assert again.status_code == 200 and again.json()["status"] == "planned"
