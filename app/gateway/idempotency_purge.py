"""The sweep that deletes expired Idempotency-Key records."""

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.gateway.idempotency import purge_expired
from app.jobs.queue import register_sweep

PURGE_EXPIRED_IDEMPOTENCY_KEYS = "idempotency:purge_expired"


async def purge_expired_keys(context: JobContext, timestamp: int) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    async with sessionmaker.begin() as session:
        await purge_expired(session)


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    # Hourly: a record lives `idempotency_ttl_hours` (24 by default), and an expired one still
    # in the table is taken over by a new request with its key, never answered.
    register_sweep(jobs, PURGE_EXPIRED_IDEMPOTENCY_KEYS, "0 * * * *", purge_expired_keys, retry)
