"""Jobs of the webhook domain."""

import uuid

from procrastinate import Blueprint, JobContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.settings import Settings
from app.webhooks.service import deliver

blueprint = Blueprint()


# Deferred as "webhooks:deliver" once the job app has added this blueprint.
@blueprint.task(name="deliver", pass_context=True)
async def deliver_webhook(context: JobContext, delivery_id: str) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    settings: Settings = context.additional_context["settings"]
    async with sessionmaker() as session:
        await deliver(session, settings, uuid.UUID(delivery_id))
