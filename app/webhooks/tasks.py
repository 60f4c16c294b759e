"""Jobs of the webhook domain."""

import uuid

import procrastinate
from procrastinate import JobContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.settings import Settings
from app.webhooks.service import DELIVER, deliver


async def deliver_webhook(context: JobContext, delivery_id: str) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    settings: Settings = context.additional_context["settings"]
    async with sessionmaker() as session:
        await deliver(session, settings, uuid.UUID(delivery_id))


def register(jobs: procrastinate.App) -> None:
    jobs.task(name=DELIVER, pass_context=True)(deliver_webhook)
