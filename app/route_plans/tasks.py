"""Jobs of route planning: the route plan's tracked job."""

import procrastinate
from procrastinate.retry import BaseRetryStrategy

from app.route_plans.service import PLAN_JOB, execute_plan


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    PLAN_JOB.register(jobs, retry, execute_plan)
