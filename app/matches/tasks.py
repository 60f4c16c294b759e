"""Jobs of the match lifecycle."""

from datetime import datetime

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.jobs.queue import register_sweep
from app.kit.local_time import BRUSSELS
from app.matches.service import expire_stale_matches

EXPIRE_STALE_MATCHES = "matches:expire_stale_matches"


async def expire_matches(context: JobContext, timestamp: int) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    async with sessionmaker.begin() as session:
        # A listing ends with its last day in Brussels.
        day = datetime.fromtimestamp(timestamp, BRUSSELS).date()
        await expire_stale_matches(session, day)


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    # Every hour, at minute 5, in whichever worker takes it.
    register_sweep(jobs, EXPIRE_STALE_MATCHES, "5 * * * *", expire_matches, retry)
