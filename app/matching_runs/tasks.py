"""Jobs of the matching domain. The worker passes its session factory in the job context."""

import uuid

from procrastinate import Blueprint, JobContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.matching_runs.service import execute_run

blueprint = Blueprint()


# Deferred as RUN_MATCHING ("matching:run_matching") once the job app has added this blueprint.
@blueprint.task(name="run_matching", pass_context=True)
async def run_matching(context: JobContext, run_id: str) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    await execute_run(sessionmaker, uuid.UUID(run_id))
