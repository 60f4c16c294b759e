"""Jobs of the matching domain. The worker passes its session factory in the job context."""

import uuid

import procrastinate
from procrastinate import JobContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.matching_runs.service import RUN_MATCHING, execute_run


async def run_matching(context: JobContext, run_id: str) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    await execute_run(sessionmaker, uuid.UUID(run_id))


def register(jobs: procrastinate.App) -> None:
    jobs.task(name=RUN_MATCHING, pass_context=True)(run_matching)
