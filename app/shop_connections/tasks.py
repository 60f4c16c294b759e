"""Jobs of web shop connections: booking an order Shopify sent."""

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.settings import Settings
from app.shop_connections.inbound import BOOK_ORDER, book_queued_order


async def book_order(context: JobContext, order_id: str) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    settings: Settings = context.additional_context["settings"]
    async with sessionmaker.begin() as session:
        await book_queued_order(session, settings, order_id)


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    jobs.task(name=BOOK_ORDER.name, queue=BOOK_ORDER.queue, pass_context=True, retry=retry)(
        book_order
    )
