"""Jobs of the webhook domain."""

import uuid

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.jobs import EVENTS_QUEUE
from app.settings import Settings
from app.webhooks.service import DELIVER, deliver


async def deliver_webhook(context: JobContext, delivery_id: str) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    settings: Settings = context.additional_context["settings"]
    await deliver(sessionmaker, settings, uuid.UUID(delivery_id))


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    jobs.task(name=DELIVER, queue=EVENTS_QUEUE, pass_context=True, retry=retry)(deliver_webhook)
