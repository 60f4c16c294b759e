"""Ranked candidates for one request or one offer: the pairs of `app.candidates.repository`,
scored by `matching.scoring`."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.repository import pairs_for_offer, pairs_for_request
from app.kit.principal import Principal
from app.listings.offers import OFFERS
from app.listings.requests import REQUESTS
from app.models import MaterialRequest, Offer
from app.webhooks.outbox import emit
from matching.scoring import Candidate, rank


async def candidates_for_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, limit: int
) -> list[tuple[Candidate, Offer]]:
    await REQUESTS.rows.readable(session, principal, request_id)
    ranked = rank(await pairs_for_request(session, request_id))[:limit]
    ids = [uuid.UUID(c.pair.offer_id) for c in ranked]
    offers = {
        str(o.id): o for o in (await session.scalars(select(Offer).where(Offer.id.in_(ids)))).all()
    }
    return [(c, offers[c.pair.offer_id]) for c in ranked]


async def candidates_for_offer(
    session: AsyncSession, principal: Principal, offer_id: uuid.UUID, limit: int
) -> list[tuple[Candidate, MaterialRequest]]:
    await OFFERS.rows.readable(session, principal, offer_id)
    ranked = rank(await pairs_for_offer(session, offer_id))[:limit]
    ids = [uuid.UUID(c.pair.request_id) for c in ranked]
    requests = {
        str(r.id): r
        for r in (
            await session.scalars(select(MaterialRequest).where(MaterialRequest.id.in_(ids)))
        ).all()
    }
    return [(c, requests[c.pair.request_id]) for c in ranked]


async def announce_new_offer(session: AsyncSession, offer: Offer) -> None:
    """Tells the owners of the open requests a new offer can serve (`offer.candidate_found`),
    in the transaction that creates the offer."""
    await session.flush()
    for candidate in rank(await pairs_for_offer(session, offer.id))[:1000]:
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
