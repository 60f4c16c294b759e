"""Ranked candidates for one request or one offer: the SQL of `matching.candidates`, scored
by `matching.scoring`."""

import dataclasses
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.kit.ownership import load_readable
from app.models import MaterialRequest, Offer
from app.webhooks.service import emit
from matching.candidates import CANDIDATES_FOR_OFFER, CANDIDATES_FOR_REQUEST, CandidatePair
from matching.scoring import Candidate, rank

_PAIR_FIELDS = [f.name for f in dataclasses.fields(CandidatePair)]


def pair_from_row(row: Any) -> CandidatePair:
    # Raw SQL answers numeric columns as Decimal; the engine works in floats.
    values: dict[str, Any] = {
        name: float(v) if isinstance(v := row[name], Decimal) else v for name in _PAIR_FIELDS
    }
    for name in ("offer_id", "request_id", "offer_organization_id", "request_organization_id"):
        values[name] = str(row[name])
    return CandidatePair(**values)


async def _ranked(
    session: AsyncSession, sql: str, anchor_id: uuid.UUID, limit: int
) -> list[Candidate]:
    rows = (await session.execute(text(sql), {"anchor_id": anchor_id})).mappings().all()
    return rank([pair_from_row(row) for row in rows])[:limit]


async def candidates_for_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, limit: int
) -> list[tuple[Candidate, Offer]]:
    await load_readable(
        session, MaterialRequest, request_id, principal, public=True, noun="request"
    )
    ranked = await _ranked(session, CANDIDATES_FOR_REQUEST, request_id, limit)
    ids = [uuid.UUID(c.pair.offer_id) for c in ranked]
    offers = {
        str(o.id): o for o in (await session.scalars(select(Offer).where(Offer.id.in_(ids)))).all()
    }
    return [(c, offers[c.pair.offer_id]) for c in ranked]


async def candidates_for_offer(
    session: AsyncSession, principal: Principal, offer_id: uuid.UUID, limit: int
) -> list[tuple[Candidate, MaterialRequest]]:
    await load_readable(session, Offer, offer_id, principal, public=True, noun="offer")
    ranked = await _ranked(session, CANDIDATES_FOR_OFFER, offer_id, limit)
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
    for candidate in await _ranked(session, CANDIDATES_FOR_OFFER, offer.id, limit=1000):
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
