"""Jobs of the matching domain. The worker passes its session factory in the job context."""

import uuid

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy

from app.matching_runs.service import RUN_MATCHING, execute_run


async def run_matching(context: JobContext, run_id: str) -> None:
    await execute_run(
        context.additional_context["sessionmaker"],
        context.additional_context["settings"],
        uuid.UUID(run_id),
        attempt=context.job.attempts + 1,
    )


def register(jobs: procrastinate.App, retry: BaseRetryStrategy) -> None:
    jobs.task(name=RUN_MATCHING.name, queue=RUN_MATCHING.queue, pass_context=True, retry=retry)(
        run_matching
    )
