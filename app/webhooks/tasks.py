"""Jobs of the webhook domain."""

import uuid

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.jobs.queue import register_sweep
from app.settings import Settings
from app.webhooks.attempts import DELIVER, deliver
from app.webhooks.sweep import REQUEUE_ORPHANED_DELIVERIES, requeue_orphaned_deliveries


async def deliver_webhook(context: JobContext, delivery_id: str) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    settings: Settings = context.additional_context["settings"]
    await deliver(sessionmaker, settings, uuid.UUID(delivery_id))


async def requeue_orphans(context: JobContext, timestamp: int) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    async with sessionmaker.begin() as session:
        await requeue_orphaned_deliveries(session)


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    jobs.task(name=DELIVER.name, queue=DELIVER.queue, pass_context=True, retry=retry)(
        deliver_webhook
    )
    # Every ten minutes: a pending delivery whose job was lost gets one again.
    register_sweep(jobs, REQUEUE_ORPHANED_DELIVERIES, "*/10 * * * *", requeue_orphans, retry)
