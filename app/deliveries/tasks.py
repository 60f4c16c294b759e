"""Jobs of shared delivery rounds."""

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.deliveries.cutoff import plan_slots_past_cutoff, settle_planned_slots
from app.jobs.queue import register_sweep
from app.settings import Settings

PLAN_SLOTS_AT_CUTOFF = "deliveries:plan_slots_at_cutoff"


async def plan_slots_at_cutoff(context: JobContext, timestamp: int) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    settings: Settings = context.additional_context["settings"]
    async with sessionmaker.begin() as session:
        await settle_planned_slots(session)
    async with sessionmaker.begin() as session:
        await plan_slots_past_cutoff(session, settings)


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    # Every minute: a slot is planned within a minute of its cut-off.
    register_sweep(jobs, PLAN_SLOTS_AT_CUTOFF, "* * * * *", plan_slots_at_cutoff, retry)
