"""A match's terms are frozen at proposal: a patch of a term a proposal relies on expires it
and tells both sides; an accept on rows that moved re-checks the terms and answers 409 naming
what changed. On a real PostGIS, through the HTTP API, with a real worker for the events."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.matches.terms import OFFER_TERMS, REQUEST_TERMS
from tests.conftest import (
    Org,
    OrgFactory,
    Receiver,
    WorkerRun,
    assert_problem,
    subscribe,
)
from tests.test_matches import _offer, _propose, _request


@pytest.fixture
async def sides(make_org: OrgFactory) -> tuple[Org, Org]:
    return await make_org("supplier"), await make_org("consumer")


async def _accept_by_both(client: httpx.AsyncClient, match_id: str, *orgs: Org) -> httpx.Response:
    response = None
    for org in orgs:
        response = await client.post(f"/v1/matches/{match_id}/accept", headers=org.headers)
    assert response is not None
    return response


async def test_a_patched_unit_expires_the_proposal_and_both_sides_hear_of_it(
    client: httpx.AsyncClient,
    sides: tuple[Org, Org],
    receiver: Receiver,
    run_worker: WorkerRun,
) -> None:
    supplier, consumer = sides
    for org in sides:
        await subscribe(client, org, receiver.url, ["match.expired"])
    offer, request = await _offer(client, supplier, 12), await _request(client, consumer, 5)
    match = (await _propose(client, consumer, offer, request)).json()
    assert match["quantity"] == {"value": 5.0, "unit": "t"}

    patched = await client.patch(
        f"/v1/requests/{request['id']}",
        json={"quantity": {"value": 5000, "unit": "kg"}},
        headers=consumer.headers,
    )
    assert patched.status_code == 200, patched.text
    read = await client.get(f"/v1/matches/{match['id']}", headers=supplier.headers)
    assert read.json()["status"] == "expired"
    # Accepted as it stood, 5 t taken from 5000 kg would leave 4995 kg open.
    assert_problem(await _accept_by_both(client, match["id"], consumer, supplier), 409)
    remaining = (await client.get(f"/v1/requests/{request['id']}", headers=consumer.headers)).json()
    assert remaining["remaining"] == {"value": 5000.0, "unit": "kg"}

    await run_worker()
    events = receiver.events("match.expired")
    assert len(events) == 2  # one for each side's subscription
    assert {e["data"]["match"]["id"] for e in events} == {match["id"]}
    assert all("quantity_unit" in e["data"]["reason"] for e in events)

    # A new proposal on the new terms takes the whole request, in kg.
    again = (await _propose(client, consumer, offer, request)).json()
    assert again["quantity"] == {"value": 5000.0, "unit": "kg"}
    accepted = await _accept_by_both(client, again["id"], consumer, supplier)
    assert accepted.status_code == 200, accepted.text
    remaining = (await client.get(f"/v1/requests/{request['id']}", headers=consumer.headers)).json()
    assert remaining["remaining"]["value"] == 0 and remaining["status"] == "reserved"


NEARBY = {"type": "Point", "coordinates": [4.3480, 50.8665]}
PIECES = {"quantity": {"value": 12, "unit": "piece"}, "mass_kg": 1200, "volume_m3": 4}
# (listing, the term patched, the patch, whether both listings count pieces): every term of
# `app/matches/terms.py`, as `test_the_cases_are_every_term` checks.
TERM_CASES = [
    ("offer", "condition", {"condition": "C"}, False),
    ("offer", "available_from", {"available_from": "2027-04-02"}, False),
    ("offer", "available_until", {"available_until": "2027-04-20"}, False),
    ("offer", "material", {"material": "040222"}, False),
    ("offer", "quantity_unit", {"quantity": {"value": 12000, "unit": "kg"}}, False),
    ("offer", "mass_kg", {"mass_kg": 900}, True),
    ("offer", "volume_m3", {"volume_m3": 3}, True),
    ("offer", "location", {"location": NEARBY}, False),
    ("offer", "min_lot", {"min_lot": 2}, False),
    ("offer", "price_per_unit", {"price_per_unit": 3.5}, False),
    ("offer", "status", {"status": "closed"}, False),
    ("request", "material", {"material": "040221"}, False),
    ("request", "min_condition", {"min_condition": "A"}, False),
    ("request", "needed_from", {"needed_from": "2027-04-02"}, False),
    ("request", "needed_by", {"needed_by": "2027-04-20"}, False),
    ("request", "quantity_unit", {"quantity": {"value": 5000, "unit": "kg"}}, False),
    ("request", "mass_kg", {"mass_kg": 400}, True),
    ("request", "volume_m3", {"volume_m3": 1}, True),
    ("request", "location", {"location": NEARBY}, False),
    ("request", "max_distance_km", {"max_distance_km": 1}, False),
    ("request", "max_price_per_unit", {"max_price_per_unit": 3}, False),
    ("request", "status", {"status": "closed"}, False),
]


def test_the_cases_are_every_term() -> None:
    covered = {(listing, term) for listing, term, _, _ in TERM_CASES}
    assert covered == {("offer", t) for t in OFFER_TERMS} | {("request", t) for t in REQUEST_TERMS}


@pytest.mark.parametrize(
    ("listing", "term", "patch", "pieces"), TERM_CASES, ids=[f"{c[0]}-{c[1]}" for c in TERM_CASES]
)
async def test_every_term_a_proposal_relies_on_expires_it(
    client: httpx.AsyncClient,
    sides: tuple[Org, Org],
    listing: str,
    term: str,
    patch: dict[str, object],
    pieces: bool,
) -> None:
    supplier, consumer = sides
    if pieces:
        offer = await _offer(client, supplier, 12, **PIECES)
        request = await _request(
            client, consumer, 5, quantity={"value": 5, "unit": "piece"}, mass_kg=500, volume_m3=2
        )
    else:
        offer = await _offer(client, supplier, 12, price_per_unit=2)
        request = await _request(client, consumer, 5, max_price_per_unit=4)
    proposed = await _propose(client, consumer, offer, request)
    assert proposed.status_code == 201, proposed.text
    match = proposed.json()
    owner, row = (supplier, offer) if listing == "offer" else (consumer, request)
    patched = await client.patch(f"/v1/{listing}s/{row['id']}", json=patch, headers=owner.headers)
    assert patched.status_code == 200, patched.text
    read = await client.get(f"/v1/matches/{match['id']}", headers=consumer.headers)
    assert read.json()["status"] == "expired", term


async def test_a_patch_that_leaves_the_terms_alone_keeps_the_proposal(
    client: httpx.AsyncClient, sides: tuple[Org, Org]
) -> None:
    supplier, consumer = sides
    offer, request = await _offer(client, supplier, 12), await _request(client, consumer, 5)
    match = (await _propose(client, consumer, offer, request)).json()
    for path, org, patch in (
        (f"/v1/offers/{offer['id']}", supplier, {"title": "Brewery spent grain, dried"}),
        (f"/v1/offers/{offer['id']}", supplier, {"description": "Dried on site, in big bags"}),
        (f"/v1/requests/{request['id']}", consumer, {"quantity": {"value": 6, "unit": "t"}}),
    ):
        patched = await client.patch(path, json=patch, headers=org.headers)
        assert patched.status_code == 200, patched.text
    accepted = await _accept_by_both(client, match["id"], consumer, supplier)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    remaining = (await client.get(f"/v1/requests/{request['id']}", headers=consumer.headers)).json()
    assert remaining["remaining"] == {"value": 1.0, "unit": "t"}


async def test_an_accept_on_rows_that_moved_answers_409_naming_what_changed(
    client: httpx.AsyncClient, app: FastAPI, sides: tuple[Org, Org]
) -> None:
    """A proposal made on a read that a concurrent patch had already changed: its versions
    are older than the rows, and the accept finds the terms broken."""
    supplier, consumer = sides
    offer, request = await _offer(client, supplier, 12), await _request(client, consumer, 5)
    match = (await _propose(client, consumer, offer, request)).json()
    async with app.state.sessionmaker() as session:
        await session.execute(
            text("UPDATE offers SET condition = 'C', version = version + 1 WHERE id = :id"),
            {"id": offer["id"]},
        )
        await session.execute(
            text("UPDATE material_requests SET min_condition = 'B' WHERE id = :id"),
            {"id": request["id"]},
        )
        await session.commit()
    refused = await client.post(f"/v1/matches/{match['id']}/accept", headers=consumer.headers)
    problem = assert_problem(refused, 409)
    assert "condition C" in problem["detail"]
    read = await client.get(f"/v1/matches/{match['id']}", headers=supplier.headers)
    assert read.json()["status"] == "expired"
    offer_now = (await client.get(f"/v1/offers/{offer['id']}", headers=supplier.headers)).json()
    assert offer_now["remaining"]["value"] == 12
