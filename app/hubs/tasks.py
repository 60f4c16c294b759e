"""Jobs of the hubs."""

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.hubs.pooling import refresh_all_thresholds
from app.jobs.queue import register_sweep

REFRESH_POOLING_THRESHOLDS = "hubs:refresh_pooling_thresholds"


async def refresh_pooling_thresholds(context: JobContext, timestamp: int) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    async with sessionmaker.begin() as session:
        await refresh_all_thresholds(session)


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    # Movements and new offers re-measure their pools at once; this sweep, every ten minutes,
    # catches what else moves a pool (reservations, patched or expired offers).
    register_sweep(
        jobs, REFRESH_POOLING_THRESHOLDS, "*/10 * * * *", refresh_pooling_thresholds, retry
    )
