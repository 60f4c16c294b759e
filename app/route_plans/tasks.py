"""Jobs of route planning: the route plan's tracked job."""

from functools import partial

import procrastinate
from procrastinate.retry import BaseRetryStrategy

from app.route_plans.service import PLAN_JOB, PlanDone, execute_plan


def register(
    jobs: procrastinate.App, retry: BaseRetryStrategy, on_done: PlanDone | None = None
) -> None:
    PLAN_JOB.register(jobs, retry, partial(execute_plan, on_done=on_done))
