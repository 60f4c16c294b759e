"""Ranked candidates for one request or one offer: the SQL of `matching.candidates`, scored
by `matching.scoring`."""

import dataclasses
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.listings import get_listing
from app.models import MaterialRequest, Offer
from app.offers.service import OFFERS
from app.requests.service import REQUESTS
from matching.candidates import CANDIDATES_FOR_OFFER, CANDIDATES_FOR_REQUEST, CandidatePair
from matching.scoring import Candidate, rank

_PAIR_FIELDS = [f.name for f in dataclasses.fields(CandidatePair)]


def pair_from_row(row: Any) -> CandidatePair:
    # Raw SQL answers numeric columns as Decimal; the engine works in floats.
    values: dict[str, Any] = {
        name: float(v) if isinstance(v := row[name], Decimal) else v for name in _PAIR_FIELDS
    }
    values["offer_id"], values["request_id"] = str(row["offer_id"]), str(row["request_id"])
    return CandidatePair(**values)


async def _ranked(
    session: AsyncSession, sql: str, anchor_id: uuid.UUID, limit: int
) -> list[Candidate]:
    rows = (await session.execute(text(sql), {"anchor_id": anchor_id})).mappings().all()
    return rank([pair_from_row(row) for row in rows])[:limit]


async def candidates_for_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, limit: int
) -> list[tuple[Candidate, Offer]]:
    await get_listing(REQUESTS, session, principal, request_id)
    ranked = await _ranked(session, CANDIDATES_FOR_REQUEST, request_id, limit)
    ids = [uuid.UUID(c.pair.offer_id) for c in ranked]
    offers = {
        str(o.id): o for o in (await session.scalars(select(Offer).where(Offer.id.in_(ids)))).all()
    }
    return [(c, offers[c.pair.offer_id]) for c in ranked]


async def candidates_for_offer(
    session: AsyncSession, principal: Principal, offer_id: uuid.UUID, limit: int
) -> list[tuple[Candidate, MaterialRequest]]:
    await get_listing(OFFERS, session, principal, offer_id)
    ranked = await _ranked(session, CANDIDATES_FOR_OFFER, offer_id, limit)
    ids = [uuid.UUID(c.pair.request_id) for c in ranked]
    requests = {
        str(r.id): r
        for r in (
            await session.scalars(select(MaterialRequest).where(MaterialRequest.id.in_(ids)))
        ).all()
    }
    return [(c, requests[c.pair.request_id]) for c in ranked]
