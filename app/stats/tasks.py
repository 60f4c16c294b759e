"""The sweep that publishes the month that has just ended, so that the first reader of it
does not wait for its computation."""

from datetime import datetime

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.jobs.queue import register_sweep
from app.kit.local_time import BRUSSELS
from app.stats.months import last_ended_month
from app.stats.publication import publish_months

PUBLISH_ENDED_MONTH = "stats:publish_ended_month"


async def publish_ended_month(context: JobContext, timestamp: int) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    async with sessionmaker.begin() as session:
        # The month before the one this run falls in, in Brussels.
        today = datetime.fromtimestamp(timestamp, BRUSSELS).date()
        await publish_months(session, [last_ended_month(today)])


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    # Every hour at minute 10: the first run of a month publishes the month before (a month
    # ends at midnight in Brussels, 22:00 or 23:00 UTC); the others find it done.
    register_sweep(jobs, PUBLISH_ENDED_MONTH, "10 * * * *", publish_ended_month, retry)
