"""Jobs of route planning."""

import uuid

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy

from app.route_plans.service import SOLVE_ROUTE_PLAN, execute_plan


async def solve_route_plan(context: JobContext, plan_id: str) -> None:
    await execute_plan(
        context.additional_context["sessionmaker"],
        context.additional_context["settings"],
        uuid.UUID(plan_id),
        attempt=context.job.attempts + 1,
    )


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    jobs.task(
        name=SOLVE_ROUTE_PLAN.name, queue=SOLVE_ROUTE_PLAN.queue, pass_context=True, retry=retry
    )(solve_route_plan)
