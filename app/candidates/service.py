"""Ranked candidates for one request or one offer: the best pairs of `app.candidates.repository`
(ranked in the database by the score of `matching.scoring`), scored by `matching.scoring` for
the parts and figures the answer shows."""

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.repository import best_offers_for_request, best_requests_for_offer
from app.kit.owned import OwnedRows
from app.kit.principal import Principal
from app.listings.offers import OFFERS
from app.listings.requests import REQUESTS
from app.models import Listing, MaterialRequest, Offer
from app.webhooks.outbox import emit
from matching.candidates import CandidatePair
from matching.scoring import Candidate, score_candidate

Side = TypeVar("Side", bound=Listing)


async def candidates_for_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, limit: int
) -> list[tuple[Candidate, Offer]]:
    ranked = _scored(await best_offers_for_request(session, request_id, limit))
    await _readable_unless_found(session, principal, REQUESTS.rows, request_id, ranked)
    return await _with_other_side(session, ranked, Offer, lambda c: c.pair.offer_id)


async def candidates_for_offer(
    session: AsyncSession, principal: Principal, offer_id: uuid.UUID, limit: int
) -> list[tuple[Candidate, MaterialRequest]]:
    ranked = _scored(await best_requests_for_offer(session, offer_id, limit))
    await _readable_unless_found(session, principal, OFFERS.rows, offer_id, ranked)
    return await _with_other_side(session, ranked, MaterialRequest, lambda c: c.pair.request_id)


async def _readable_unless_found(
    session: AsyncSession,
    principal: Principal,
    rows: OwnedRows[Any],
    row_id: uuid.UUID,
    ranked: list[Candidate],
) -> None:
    """Answers 404 for a listing the caller may not read. A public listing that has candidates
    exists: it is not read again (a round trip and a row loaded for nothing)."""
    if not ranked or not rows.public:
        await rows.readable(session, principal, row_id)


def _scored(best: list[CandidatePair]) -> list[Candidate]:
    """The candidates of pairs ranked in the database, in their order. Python's own test of a
    matchable candidate stays the last word, should the two ever part on a float."""
    scored = (score_candidate(pair) for pair in best)
    return [c for c in scored if c is not None and c.matchable]


async def _with_other_side(
    session: AsyncSession,
    ranked: list[Candidate],
    model: type[Side],
    side_id: Callable[[Candidate], str],
) -> list[tuple[Candidate, Side]]:
    """Each candidate, in rank order, with the listing of its other side: a row of `model`,
    whose id `side_id` reads from the candidate."""
    ids = [uuid.UUID(side_id(c)) for c in ranked]
    rows = {
        str(row.id): row for row in await session.scalars(select(model).where(model.id.in_(ids)))
    }
    return [(c, rows[side_id(c)]) for c in ranked]


async def announce_new_offer(session: AsyncSession, offer: Offer) -> None:
    """Tells the owners of the open requests a new offer can serve (`offer.candidate_found`),
    in the transaction that creates the offer."""
    await session.flush()
    for candidate in _scored(await best_requests_for_offer(session, offer.id, 1000)):
        await emit(
            session,
            {uuid.UUID(candidate.pair.request_organization_id)},
            "offer.candidate_found",
            {
                "offer_id": candidate.pair.offer_id,
                "request_id": candidate.pair.request_id,
                "distance_m": round(candidate.pair.distance_m, 1),
                "quantity": {
                    "value": round(candidate.quantity, 3),
                    "unit": candidate.pair.request_unit,
                },
                "score": round(candidate.score, 4),
            },
            # An offer is announced once, when it is new: the pair is the fact.
            fact=(candidate.pair.offer_id, candidate.pair.request_id),
        )
