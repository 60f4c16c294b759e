"""The one order in which a transaction that moves a quantity locks its rows.

An accept reserves on an offer and a request; an intake and a dispatch move a lot's stock and
its offer's remaining part and close a match; a patch of a listing's terms expires the
proposals on it. Each takes its locks here, in this order: hubs, then offers, then requests,
then matches, each kind by id. Two of these transactions therefore never wait on each other
in a cycle, and each one reads the quantities it checks only once it holds their rows: a hub's
lot stock under the hub's lock, a listing's remaining part under the listing's."""

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Match, MaterialRequest, Offer, Site

Ids = Iterable[uuid.UUID | None]


async def lock_in_order(
    session: AsyncSession,
    *,
    hubs: Ids = (),
    offers: Ids = (),
    requests: Ids = (),
    matches: Ids = (),
) -> None:
    """Locks these rows for the transaction, in the order above. Rows a transaction already
    holds may be named again: PostgreSQL grants a lock its holder has at once. The lock is
    FOR NO KEY UPDATE, which a row inserted elsewhere that refers to one of these (a match
    a run proposes on an offer) does not wait for, nor make wait."""
    kinds: tuple[tuple[Any, Ids], ...] = (
        (Site, hubs),
        (Offer, offers),
        (MaterialRequest, requests),
        (Match, matches),
    )
    for model, ids in kinds:
        wanted = sorted({row_id for row_id in ids if row_id is not None})
        if wanted:
            await session.execute(
                select(model.id)
                .where(model.id.in_(wanted))
                .order_by(model.id)
                .with_for_update(key_share=True)
            )
