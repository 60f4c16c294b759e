"""A patch of a listing's quantity races the accepts that reserve from it, as concurrent HTTP
requests (each with its own database session, so that they interleave in PostgreSQL): none
answers a 5xx, none over-allocates, and the books agree with the answers."""

import uuid

import httpx
import pytest

from tests.conftest import OrgFactory
from tests.overlap import HOLD_OFFER, HOLD_REQUEST, overlapping
from tests.test_matches import _offer, _propose, _request

ROUNDS = 20
EPSILON = 1e-6


@pytest.mark.parametrize("listing", ["offer", "request"])
async def test_a_quantity_patched_while_its_matches_are_accepted_is_never_over_allocated(
    client: httpx.AsyncClient, make_org: OrgFactory, listing: str, database_url: str
) -> None:
    supplier, consumer = await make_org("supplier"), await make_org("consumer")
    for round_ in range(ROUNDS):
        # Two matches of 6 t each on a listing of 10 t, which is cut as they are accepted: to
        # 7 t, where one fits at most, or to 5 t, below what one accept reserves.
        cut = 7 if round_ % 2 else 5
        if listing == "offer":
            offer = await _offer(client, supplier, 10)
            pairs = [(offer, await _request(client, consumer, 6)) for _ in range(2)]
            patched, owner = f"/v1/offers/{offer['id']}", supplier
            held, held_id = HOLD_OFFER, offer["id"]
        else:
            request = await _request(client, consumer, 10)
            pairs = [(await _offer(client, supplier, 6), request) for _ in range(2)]
            patched, owner = f"/v1/requests/{request['id']}", consumer
            held, held_id = HOLD_REQUEST, request["id"]
        matches = []
        for offer_row, request_row in pairs:
            proposed = await _propose(client, consumer, offer_row, request_row, 6)
            assert proposed.status_code == 201, proposed.text
            matches.append(proposed.json()["id"])
            accepted = await client.post(
                f"/v1/matches/{matches[-1]}/accept", headers=consumer.headers
            )
            assert accepted.status_code == 200, accepted.text
        # The accepts and the patch all lock the patched listing's row: they wait on it
        # together, then race.
        *accepts, patch = await overlapping(
            database_url,
            held,
            uuid.UUID(held_id),
            requests=[
                *(
                    client.post(f"/v1/matches/{m}/accept", headers=supplier.headers)
                    for m in matches
                ),
                client.patch(
                    patched, json={"quantity": {"value": cut, "unit": "t"}}, headers=owner.headers
                ),
            ],
        )
        answers = [a.status_code for a in (*accepts, patch)]
        assert set(answers) <= {200, 409}, [(a.status_code, a.text) for a in (*accepts, patch)]

        now = (await client.get(patched, headers=owner.headers)).json()
        statuses = [
            (await client.get(f"/v1/matches/{m}", headers=owner.headers)).json()["status"]
            for m in matches
        ]
        reserved = 6 * statuses.count("accepted")
        assert now["quantity"]["value"] == (cut if patch.status_code == 200 else 10), answers
        assert now["remaining"]["value"] >= -EPSILON, now
        assert abs(now["quantity"]["value"] - now["remaining"]["value"] - reserved) < EPSILON
        assert reserved <= now["quantity"]["value"], (answers, statuses)
        assert [a.status_code == 200 for a in accepts] == [s == "accepted" for s in statuses]
