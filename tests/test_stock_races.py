"""Yard stock is never allocated twice: an accept of a match on a lot, a dispatch (of all or
part of a match) and an intake of the same lot race each other as concurrent HTTP requests
(each with its own database session, so they interleave in PostgreSQL), fifty rounds per
case on a fresh lot each time. After each round the lot's books must balance, in SQL and
through the API (the stock, the offer and each match), and agree with the answers the
requests got; no match is ever sent more than its quantity."""

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.kit.local_time import brussels_today
from tests.conftest import Org, OrgFactory, point
from tests.overlap import HOLD_HUB, overlapping
from tests.test_hubs import NEAR_YARD, _dispatch, _shipment_from, _stock, _walk_in, _yard

ROUNDS = 50
# Gypsum, which no other test trades, so the lots of these rounds stay out of their way.
GYPSUM = "170802"
# A tolerance below the database's three decimals.
EPSILON = 1e-6


@dataclass
class Parties:
    operator: Org
    consumer: Org
    hub_id: str
    shipment_id: str
    database_url: str


@dataclass
class Lot:
    code: str
    offer_id: str


@dataclass
class Outcome:
    """What the racing requests answered, as it must show in the lot's books."""

    taken_in: float = 0.0
    dispatched: float = 0.0
    # Matches on the lot's offer and the status each must have, given the answers.
    statuses: dict[str, str] = field(default_factory=dict)
    answers: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def note(self, what: str, response: httpx.Response) -> bool:
        """Records the answer; true when the request went through."""
        self.answers.append(f"{what} {response.status_code}")
        if response.status_code not in (200, 201, 409):
            self.unexpected.append(f"{what} answered {response.status_code}: {response.text}")
        return response.is_success


Race = Callable[[httpx.AsyncClient, Parties], Awaitable[tuple[Lot, Outcome]]]


@pytest.fixture
async def parties(client: httpx.AsyncClient, make_org: OrgFactory, database_url: str) -> Parties:
    operator = await make_org("hub_operator", "supplier")
    return Parties(
        operator=operator,
        consumer=await make_org("consumer"),
        hub_id=await _yard(client, operator),
        shipment_id=await _shipment_from(client, operator),
        database_url=database_url,
    )


async def _new_lot(client: httpx.AsyncClient, parties: Parties, tonnes: float) -> Lot:
    code = f"GYPSUM-{uuid.uuid4().hex[:8]}"
    intake = await _walk_in(
        client, parties.operator, parties.hub_id, tonnes, lot=code, material=GYPSUM
    )
    assert intake.status_code == 201, intake.text
    stock = await _stock(client, parties.operator, parties.hub_id)
    [offer_id] = [lot["offer_id"] for lot in stock["lots"] if lot["lot"] == code]
    return Lot(code, offer_id)


async def _match(
    client: httpx.AsyncClient, parties: Parties, lot: Lot, tonnes: float, *, accepted: bool
) -> str:
    """A match of a new request of the consumer on the lot, accepted by the consumer and, when
    `accepted`, by the operator too (the operator's acceptance is the one that reserves)."""
    request = await client.post(
        "/v1/requests",
        json={
            "location": point(NEAR_YARD),
            "material": GYPSUM,
            "quantity": {"value": tonnes, "unit": "t"},
            "needed_from": brussels_today().isoformat(),
            "needed_by": "2099-12-31",
            "max_distance_km": 2,
            "min_condition": "C",
        },
        headers=parties.consumer.headers,
    )
    assert request.status_code == 201, request.text
    proposed = await client.post(
        "/v1/matches",
        json={
            "offer_id": lot.offer_id,
            "request_id": request.json()["id"],
            "quantity": {"value": tonnes, "unit": "t"},
        },
        headers=parties.consumer.headers,
    )
    assert proposed.status_code == 201, proposed.text
    match_id = str(proposed.json()["id"])
    for side in (parties.consumer, parties.operator) if accepted else (parties.consumer,):
        accept = await client.post(f"/v1/matches/{match_id}/accept", headers=side.headers)
        assert accept.status_code == 200, accept.text
    return match_id


def _at_once(
    parties: Parties, *requests: Awaitable[httpx.Response]
) -> Awaitable[list[httpx.Response]]:
    """The round's requests, shown to have waited together on the hub's row: a movement runs
    under its hub's lock, and an accept of a match on a lot takes it first (app.quantity_locks)."""
    return overlapping(
        parties.database_url,
        HOLD_HUB,
        uuid.UUID(parties.hub_id),
        requests=requests,
    )


def _accept(client: httpx.AsyncClient, org: Org, match_id: str) -> Awaitable[httpx.Response]:
    return client.post(f"/v1/matches/{match_id}/accept", headers=org.headers)


async def accept_against_dispatch_to_a_shipment(
    client: httpx.AsyncClient, parties: Parties
) -> tuple[Lot, Outcome]:
    """10 t in the lot; a 6 t match waits for the operator's acceptance while 6 t leave for a
    shipment: the lot cannot cover both."""
    lot = await _new_lot(client, parties, 10)
    match_id = await _match(client, parties, lot, 6, accepted=False)
    outcome = Outcome(taken_in=10)
    accept, dispatch = await _at_once(
        parties,
        _accept(client, parties.operator, match_id),
        _dispatch(
            client,
            parties.operator,
            parties.hub_id,
            lot.code,
            6,
            shipment_id=parties.shipment_id,
        ),
    )
    outcome.statuses[match_id] = "accepted" if outcome.note("accept", accept) else "proposed"
    if outcome.note("dispatch", dispatch):
        outcome.dispatched += 6
    return lot, outcome


async def accept_against_dispatch_to_another_match(
    client: httpx.AsyncClient, parties: Parties
) -> tuple[Lot, Outcome]:
    """10 t in the lot, 4 t held by an accepted match: while those 4 t leave to serve it, a
    second match of 6 t is accepted. Both fit, and the offer must end with nothing left."""
    lot = await _new_lot(client, parties, 10)
    served = await _match(client, parties, lot, 4, accepted=True)
    second = await _match(client, parties, lot, 6, accepted=False)
    outcome = Outcome(taken_in=10)
    accept, dispatch = await _at_once(
        parties,
        _accept(client, parties.operator, second),
        _dispatch(client, parties.operator, parties.hub_id, lot.code, 4, match_id=served),
    )
    outcome.statuses[second] = "accepted" if outcome.note("accept", accept) else "proposed"
    if outcome.note("dispatch", dispatch):
        outcome.dispatched += 4
        outcome.statuses[served] = "fulfilled"
    else:
        outcome.statuses[served] = "accepted"
    return lot, outcome


async def accept_against_intake(client: httpx.AsyncClient, parties: Parties) -> tuple[Lot, Outcome]:
    """4 t in the lot; a 3 t match is accepted while 2 t more come in: the offer must end
    with what is in stock and not held, 3 t."""
    lot = await _new_lot(client, parties, 4)
    match_id = await _match(client, parties, lot, 3, accepted=False)
    outcome = Outcome(taken_in=4)
    accept, intake = await _at_once(
        parties,
        _accept(client, parties.operator, match_id),
        _walk_in(client, parties.operator, parties.hub_id, 2, lot=lot.code, material=GYPSUM),
    )
    outcome.statuses[match_id] = "accepted" if outcome.note("accept", accept) else "proposed"
    if outcome.note("intake", intake):
        outcome.taken_in += 2
    return lot, outcome


async def two_dispatches(client: httpx.AsyncClient, parties: Parties) -> tuple[Lot, Outcome]:
    """10 t in the lot, two dispatches of 6 t each: only one can leave."""
    lot = await _new_lot(client, parties, 10)
    outcome = Outcome(taken_in=10)
    dispatches = await _at_once(
        parties,
        *(
            _dispatch(
                client,
                parties.operator,
                parties.hub_id,
                lot.code,
                6,
                shipment_id=parties.shipment_id,
            )
            for _ in range(2)
        ),
    )
    for response in dispatches:
        if outcome.note("dispatch", response):
            outcome.dispatched += 6
    return lot, outcome


async def partial_dispatches_to_one_match(
    client: httpx.AsyncClient, parties: Parties
) -> tuple[Lot, Outcome]:
    """10 t in the lot, 6 t of it held by an accepted match: three dispatches of 2.5 t and
    one of 1 t to the match, and 4 t to a shipment, all at once. The match takes no more
    than its 6 t, whatever the order: it ends fulfilled, one 2.5 t dispatch refused."""
    lot = await _new_lot(client, parties, 10)
    served = await _match(client, parties, lot, 6, accepted=True)
    outcome = Outcome(taken_in=10)
    to_match = (2.5, 2.5, 2.5, 1)
    *answers, shipped = await _at_once(
        parties,
        *(
            _dispatch(client, parties.operator, parties.hub_id, lot.code, t, match_id=served)
            for t in to_match
        ),
        _dispatch(
            client, parties.operator, parties.hub_id, lot.code, 4, shipment_id=parties.shipment_id
        ),
    )
    delivered = sum(
        t for t, r in zip(to_match, answers, strict=True) if outcome.note("to match", r)
    )
    outcome.dispatched += delivered
    if outcome.note("to shipment", shipped):
        outcome.dispatched += 4
    outcome.statuses[served] = "fulfilled" if delivered >= 6 - EPSILON else "accepted"
    return lot, outcome


async def two_accepts(client: httpx.AsyncClient, parties: Parties) -> tuple[Lot, Outcome]:
    """10 t in the lot, two matches of 6 t each accepted at once: only one can hold it."""
    lot = await _new_lot(client, parties, 10)
    matches = [await _match(client, parties, lot, 6, accepted=False) for _ in range(2)]
    outcome = Outcome(taken_in=10)
    accepts = await _at_once(parties, *(_accept(client, parties.operator, m) for m in matches))
    for match_id, response in zip(matches, accepts, strict=True):
        outcome.statuses[match_id] = "accepted" if outcome.note("accept", response) else "proposed"
    return lot, outcome


LOT_BOOKS = text(
    """
    SELECT
      coalesce(sum(m.quantity_value) FILTER (WHERE m.kind = 'intake'), 0) AS taken_in,
      coalesce(sum(m.quantity_value) FILTER (WHERE m.kind = 'dispatch'), 0) AS dispatched,
      (SELECT coalesce(sum(ma.offer_quantity_value - (
                SELECT coalesce(sum(d.quantity_value), 0) FROM hub_movements d
                 WHERE d.match_id = ma.id AND d.kind = 'dispatch')), 0)
         FROM matches ma WHERE ma.offer_id = o.id AND ma.status = 'accepted') AS reserved,
      o.quantity_value AS offer_quantity,
      o.remaining_value AS offer_remaining
    FROM hub_lots l
    JOIN offers o ON o.id = l.offer_id
    LEFT JOIN hub_movements m ON m.lot_id = l.id
    WHERE l.offer_id = :offer
    GROUP BY o.id
    """
)
MATCHES_OF_OFFER = text(
    """
    SELECT ma.id, ma.status, ma.offer_quantity_value AS quantity,
      (SELECT coalesce(sum(quantity_value), 0) FROM hub_movements
        WHERE match_id = ma.id AND kind = 'dispatch') AS dispatched,
      r.quantity_value AS request_quantity,
      r.remaining_value AS request_remaining,
      (SELECT coalesce(sum(quantity_value), 0) FROM matches
        WHERE request_id = r.id AND status IN ('accepted', 'fulfilled')) AS request_allocated
    FROM matches ma
    JOIN material_requests r ON r.id = ma.request_id
    WHERE ma.offer_id = :offer
    """
)


async def _books(app: FastAPI, offer_id: str) -> dict[str, Any]:
    """The lot's books in SQL, in its unit: all that came in, all that left, what accepted
    matches hold, the offer's quantity and remaining; and the matches on it with their
    requests."""
    async with app.state.sessionmaker() as session:
        sums = (await session.execute(LOT_BOOKS, {"offer": offer_id})).mappings().one()
        matches = (await session.execute(MATCHES_OF_OFFER, {"offer": offer_id})).all()
    books: dict[str, Any] = {k: float(v) for k, v in sums.items()}
    books["matches"] = {str(m.id): m for m in matches}
    return books


async def _broken(
    client: httpx.AsyncClient, app: FastAPI, parties: Parties, lot: Lot, outcome: Outcome
) -> list[str]:
    """What is wrong with the lot after its round; nothing when the books balance."""
    problems = list(outcome.unexpected)
    books = await _books(app, lot.offer_id)
    taken_in, dispatched, reserved = books["taken_in"], books["dispatched"], books["reserved"]
    stock = taken_in - dispatched
    available = max(0.0, stock - reserved)
    if reserved + dispatched > taken_in + EPSILON:
        problems.append(
            f"allocated twice: {reserved:g} t reserved + {dispatched:g} t dispatched "
            f"> {taken_in:g} t taken in"
        )
    if books["offer_remaining"] < -EPSILON:
        problems.append(f"offer remaining {books['offer_remaining']:g} t < 0")
    if abs(books["offer_remaining"] - available) > EPSILON:
        problems.append(
            f"offer remaining {books['offer_remaining']:g} t, but {available:g} t are free "
            f"({stock:g} t in stock, {reserved:g} t reserved)"
        )
    if abs(books["offer_quantity"] - taken_in) > EPSILON:
        problems.append(f"offer quantity {books['offer_quantity']:g} t, taken in {taken_in:g} t")
    for what, booked, answered in (
        ("taken in", taken_in, outcome.taken_in),
        ("dispatched", dispatched, outcome.dispatched),
    ):
        if abs(booked - answered) > EPSILON:
            problems.append(f"{booked:g} t {what}, but the answers add up to {answered:g} t")
    for match_id, status in outcome.statuses.items():
        row = books["matches"][match_id]
        if row.status != status:
            problems.append(f"match {match_id} is {row.status}, the answers say {status}")
    for row in books["matches"].values():
        quantity, sent = float(row.quantity), float(row.dispatched)
        if sent > quantity + EPSILON:
            problems.append(f"match {row.id} of {quantity:g} t was dispatched {sent:g} t")
        if row.status == "fulfilled" and abs(sent - quantity) > EPSILON:
            problems.append(f"match {row.id} fulfilled with {sent:g} of {quantity:g} t sent")
        if row.status == "accepted" and sent > quantity - EPSILON:
            problems.append(f"match {row.id} still accepted with all {quantity:g} t sent")
        seen = await client.get(f"/v1/matches/{row.id}", headers=parties.consumer.headers)
        shown = seen.json()
        owed = quantity - sent if row.status == "accepted" else 0.0
        delivered = quantity if row.status == "fulfilled" else sent
        if (
            abs(shown["delivered"]["value"] - delivered) > EPSILON
            or abs(shown["to_deliver"]["value"] - owed) > EPSILON
        ):
            problems.append(
                f"GET match {row.id} shows delivered {shown['delivered']}, to deliver "
                f"{shown['to_deliver']}; SQL {delivered:g} and {owed:g} t"
            )
        expected_remaining = float(row.request_quantity) - float(row.request_allocated)
        if abs(float(row.request_remaining) - max(0.0, expected_remaining)) > EPSILON:
            problems.append(
                f"request of match {row.id}: remaining {float(row.request_remaining):g} t, "
                f"{float(row.request_allocated):g} of {float(row.request_quantity):g} t allocated"
            )
        if float(row.request_remaining) < -EPSILON or expected_remaining < -EPSILON:
            problems.append(f"request of match {row.id} allocated beyond its quantity")

    stock_view = await _stock(client, parties.operator, parties.hub_id)
    shown = [s for s in stock_view["lots"] if s["lot"] == lot.code]
    if stock > EPSILON:
        got = (shown[0]["stock"], shown[0]["reserved"], shown[0]["available"]) if shown else None
        if got is None or any(
            abs(a - b) > EPSILON for a, b in zip(got, (stock, reserved, available), strict=True)
        ):
            problems.append(
                f"GET stock shows {got} (stock, reserved, available); SQL "
                f"{(stock, reserved, available)}"
            )
    elif shown:
        problems.append(f"GET stock shows an empty lot: {shown[0]}")
    offer = await client.get(f"/v1/offers/{lot.offer_id}", headers=parties.consumer.headers)
    remaining = offer.json()["remaining"]["value"]
    if remaining < -EPSILON or abs(remaining - available) > EPSILON:
        problems.append(f"GET offer shows {remaining:g} t remaining; {available:g} t are free")
    return problems


@pytest.mark.parametrize(
    "race",
    [
        accept_against_dispatch_to_a_shipment,
        accept_against_dispatch_to_another_match,
        accept_against_intake,
        two_dispatches,
        partial_dispatches_to_one_match,
        two_accepts,
    ],
)
async def test_a_lot_is_never_allocated_twice(
    client: httpx.AsyncClient, app: FastAPI, parties: Parties, race: Race
) -> None:
    broken: list[str] = []
    answers: Counter[str] = Counter()
    for number in range(ROUNDS):
        lot, outcome = await race(client, parties)
        answers[", ".join(sorted(outcome.answers))] += 1
        problems = await _broken(client, app, parties, lot, outcome)
        if problems:
            broken.append(f"round {number} ({', '.join(outcome.answers)}): {'; '.join(problems)}")
    assert not broken, (
        f"{len(broken)} of {ROUNDS} rounds broke (answers: {dict(answers)}):\n" + "\n".join(broken)
    )
