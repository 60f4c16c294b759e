"""Ranked candidates for one request or one offer: the best pairs of `app.candidates.repository`
(ranked in the database by the score of `matching.scoring`), scored by `matching.scoring` for
the parts and figures the answer shows."""

import uuid
from types import SimpleNamespace
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.repository import (
    best_offers_for_request,
    best_requests_for_offer,
    requests_for_new_offer,
)
from app.kit.owned import OwnedRows
from app.kit.principal import Principal
from app.listings.kind import ListingKind
from app.listings.offers import OFFERS
from app.listings.requests import REQUESTS
from app.models import Listing, Offer
from app.webhooks.outbox import emit
from matching.candidates import CandidatePair
from matching.scoring import Candidate, score_candidate


async def candidates_for_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, limit: int
) -> list[tuple[Candidate, BaseModel]]:
    """The request's best offers, each with the offer as `principal` may see it."""
    ranked = await best_offers_for_request(session, request_id, limit)
    await _readable_unless_found(session, principal, REQUESTS.rows, request_id, ranked)
    return _viewed(ranked, OFFERS, principal)


async def candidates_for_offer(
    session: AsyncSession, principal: Principal, offer_id: uuid.UUID, limit: int
) -> list[tuple[Candidate, BaseModel]]:
    """The offer's best requests, each with the request as `principal` may see it."""
    ranked = await best_requests_for_offer(session, offer_id, limit)
    await _readable_unless_found(session, principal, OFFERS.rows, offer_id, ranked)
    return _viewed(ranked, REQUESTS, principal)


async def _readable_unless_found(
    session: AsyncSession,
    principal: Principal,
    rows: OwnedRows[Any],
    row_id: uuid.UUID,
    ranked: list[Any],
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


def _viewed(
    ranked: list[tuple[CandidatePair, SimpleNamespace]],
    kind: ListingKind[Any],
    principal: Principal,
) -> list[tuple[Candidate, BaseModel]]:
    """Each candidate, in rank order, with the view of its other side's listing (read with it,
    as the columns of a row: `repository.listing_from_row`)."""
    listings = {pair: listing for pair, listing in ranked}
    return [
        # The view reads a row's attributes: the listing's columns stand for its row.
        (c, kind.schemas.view(cast(Listing, listings[c.pair]), principal.organization_id))
        for c in _scored([pair for pair, _ in ranked])
    ]


async def announce_new_offer(session: AsyncSession, offer: Offer) -> None:
    """Tells the owners of the open requests a new offer can serve (`offer.candidate_found`),
    in the transaction that creates the offer."""
    await session.flush()
    for candidate in _scored(await requests_for_new_offer(session, offer.id, 1000)):
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
