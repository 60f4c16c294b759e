"""Jobs of the offers."""

import uuid

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.listings.announcements import ANNOUNCE_NEW_OFFER
from app.offers.service import announce_offer


async def announce_new_offer(context: JobContext, offer_id: str) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    async with sessionmaker.begin() as session:
        await announce_offer(session, uuid.UUID(offer_id))


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    jobs.task(
        name=ANNOUNCE_NEW_OFFER.name, queue=ANNOUNCE_NEW_OFFER.queue, pass_context=True, retry=retry
    )(announce_new_offer)
