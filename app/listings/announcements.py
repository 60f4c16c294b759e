"""A new offer is announced by a job: the requests it fits and the pools near it may be many,
and the write that makes the offer (a company's post, a yard's intake) stays small and quick.
The job itself lies above the listings (app/offers/tasks.py): it reaches the candidates and
the yards."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs.queue import EVENTS_QUEUE, JobKind, defer_in_transaction

ANNOUNCE_NEW_OFFER = JobKind("offers:announce_new_offer", EVENTS_QUEUE)


async def announce_new_offer_later(session: AsyncSession, offer_id: uuid.UUID) -> None:
    """The one entry point of a new offer, posted by a company or opened by a yard's intake:
    a job, once the offer is committed, tells the requests it fits and re-measures the pools
    near it."""
    await session.flush()
    await defer_in_transaction(session, ANNOUNCE_NEW_OFFER, {"offer_id": str(offer_id)})
