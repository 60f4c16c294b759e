"""Jobs whose worker died (killed, out of memory, its machine gone) are found by the
heartbeats procrastinate records, and queued again for another worker.

A tracked job (a route plan, a matching run) goes back to `queued` for its next attempt, or,
after `job_max_attempts`, is failed with how often it stopped. The others (webhook
deliveries, events, sweeps) are bounded in time and memory, so a stall is their worker's
death, not theirs: they are always queued again, which makes deliveries at-least-once."""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import procrastinate
from procrastinate.jobs import Job, Status
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.jobs.tracked import TrackedJob, exhausted_error
from app.settings import Settings

log = logging.getLogger(__name__)

STALLED_REASON = "lost its worker (stopped without a word: killed, or out of memory)"


async def retry_stalled_jobs(
    jobs: procrastinate.App,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    tracked: Mapping[str, TrackedJob],
) -> int:
    """Queues again (or fails, for good) every job of a worker that stopped beating; answers
    how many it took over. Safe to run in many workers at once: a job is taken over once."""
    stalled = await jobs.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.worker_stalled_after_seconds
    )
    taken = 0
    for job in stalled:
        try:
            await _take_over(jobs, sessionmaker, settings, tracked.get(job.task_name), job)
        except Exception:
            # Another worker took it over first (the job is no longer `doing`), or the
            # database is away: the next round sees what is left.
            log.debug("stalled job %s not taken over", job.id, exc_info=True)
            continue
        taken += 1
    return taken


async def _take_over(
    jobs: procrastinate.App,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    tracked: TrackedJob | None,
    job: Job,
) -> None:
    attempt = job.attempts + 1
    exhausted = tracked is not None and attempt >= settings.job_max_attempts
    if tracked is not None:
        # The row first: a row of this attempt only, so that a later attempt that has
        # already started is left alone.
        values = (
            {
                "status": "failed",
                "error": exhausted_error(tracked, attempt, STALLED_REASON),
                "finished_at": datetime.now(UTC),
            }
            if exhausted
            else {"status": "queued"}
        )
        async with sessionmaker.begin() as session:
            row_id = job.task_kwargs[tracked.argument]
            await session.execute(
                update(tracked.model)
                .where(
                    tracked.model.id == row_id,
                    tracked.model.status == "running",
                    tracked.model.attempts == attempt,
                )
                .values(**values)
            )
    if exhausted:
        await jobs.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
        log.error("job %s (%s) stalled %d times: failed", job.id, job.task_name, attempt)
    else:
        await jobs.job_manager.retry_job(job)
        log.warning("job %s (%s) of a stalled worker queued again", job.id, job.task_name)
