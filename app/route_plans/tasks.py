"""Jobs of route planning."""

import uuid

import procrastinate
from procrastinate import JobContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.route_plans.service import SOLVE_ROUTE_PLAN, execute_plan


async def solve_route_plan(context: JobContext, plan_id: str) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = context.additional_context["sessionmaker"]
    await execute_plan(sessionmaker, uuid.UUID(plan_id))


def register(jobs: procrastinate.App) -> None:
    jobs.task(name=SOLVE_ROUTE_PLAN, pass_context=True)(solve_route_plan)
