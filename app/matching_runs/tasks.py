"""Jobs of the matching domain: the matching run's tracked job."""

import procrastinate
from procrastinate.retry import BaseRetryStrategy

from app.matching_runs.service import RUN_JOB, execute_run


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    RUN_JOB.register(jobs, retry, execute_run)
