"""The sweep that deletes the rate limit counters whose window has ended."""

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.gateway.rate_limit import purge_ended_windows
from app.jobs.queue import register_sweep

PURGE_ENDED_RATE_LIMIT_WINDOWS = "rate_limit:purge_ended_windows"


async def purge_ended_counters(context: JobContext, timestamp: int) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    async with sessionmaker.begin() as session:
        await purge_ended_windows(session)


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    # Every 10 minutes: a caller that comes back starts its new window in its own row anyway;
    # the sweep keeps the table to the callers of the last minutes, however many addresses
    # send a request once.
    register_sweep(
        jobs, PURGE_ENDED_RATE_LIMIT_WINDOWS, "*/10 * * * *", purge_ended_counters, retry
    )
