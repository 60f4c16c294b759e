"""The life of a job that a row tracks (a matching run, a route plan): queued, running, then
done with its result, or failed with a reason a user understands.

An attempt that is interrupted (its worker shut down or died, its planner process ran out of
memory, the database went away) puts the row back to `queued` and is run again from the
start by the queue's retry, up to `job_max_attempts`; then the row is `failed` and says how
often it stopped and why the last time.

A job whose rows can be cancelled (`cancellable`: the row has `cancel_requested_at`) is
watched while it runs: once its owner asks, the attempt is stopped (its child process with
it) and the row is `cancelled`. A queued row is cancelled by the request itself, and its job,
when a worker takes it, finds nothing to do."""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import procrastinate
from procrastinate import JobContext
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.jobs.queue import JobInterrupted, JobKind, defer_in_transaction, is_interruption
from app.kit.database_errors import is_database_unavailable
from app.settings import Settings

log = logging.getLogger(__name__)

# How often a running job looks whether its owner cancelled it: within a second it stops.
CANCEL_POLL_SECONDS = 0.25


class JobFailure(Exception):
    """A failure the user can act on; its message is the row's `error` as it is."""


# Runs one attempt (numbered from 1) of the job of the row with this id: `run_tracked` with
# the kind's work.
Execute = Callable[[async_sessionmaker[AsyncSession], Settings, uuid.UUID, int], Awaitable[None]]


@dataclass(frozen=True)
class TrackedJob:
    """A kind of job whose row tells the user how it goes: the task, the table, the job
    argument holding the row's id, and what to call the worker in messages."""

    kind: JobKind
    model: Any
    argument: str
    noun: str
    cancellable: bool = False

    async def queue(self, session: AsyncSession, row: Any) -> None:
        """Adds a new row and queues its job, in the caller's transaction: the job exists if
        and only if the row is committed. The one way a tracked job is queued."""
        session.add(row)
        await session.flush()
        await defer_in_transaction(session, self.kind, {self.argument: str(row.id)})

    def register(self, jobs: procrastinate.App, retry: BaseRetryStrategy, execute: Execute) -> None:
        """Registers the kind's task, under its name and on its queue (the jobs already queued
        find it by them): it runs `execute` for the row the job's argument names, as attempt
        number the queue's count plus one, with the worker's session factory and settings."""

        async def run_attempt(context: JobContext, **arguments: str) -> None:
            await execute(
                context.additional_context["sessionmaker"],
                context.additional_context["settings"],
                uuid.UUID(arguments[self.argument]),
                context.job.attempts + 1,
            )

        jobs.task(name=self.kind.name, queue=self.kind.queue, pass_context=True, retry=retry)(
            run_attempt
        )


def stopped_reason(exc: BaseException) -> str:
    """Why an interrupted attempt stopped, said for a user."""
    if isinstance(exc, JobInterrupted):
        return exc.reason
    if isinstance(exc, asyncio.CancelledError):
        return "was stopped with its worker"
    if is_database_unavailable(exc):
        return "lost its database connection"
    return "was interrupted"


def exhausted_error(job: TrackedJob, attempts: int, reason: str) -> str:
    times = "once" if attempts == 1 else f"{attempts} times"
    return f"The {job.noun} stopped {times}; the last attempt {reason}."


async def run_tracked(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: TrackedJob,
    row_id: uuid.UUID,
    attempt: int,
    max_attempts: int,
    work: Callable[[AsyncSession, Any], Awaitable[None]],
) -> None:
    """Runs attempt number `attempt` (from 1) of the row's job. A row already done or failed
    is left alone. `work` stores its result on the row; it is committed with the status
    `done`, unless a later attempt has taken the row over meanwhile (a worker thought dead
    that came back), whose result then stands."""
    async with sessionmaker() as session:
        # Two steps, each one transaction: the row starts running; then the attempt's work and
        # its end.
        async with session.begin():
            row: Any = await session.get(job.model, row_id, with_for_update=True)
            if row is None or row.status not in ("queued", "running"):
                return
            if job.cancellable and row.cancel_requested_at is not None:
                # Asked while its last attempt ran, and that attempt's worker died: nothing to do.
                row.status, row.finished_at = "cancelled", datetime.now(UTC)
                return
            row.status, row.started_at, row.attempts = "running", datetime.now(UTC), attempt
            row.error = None
        asked_to_cancel = asyncio.Event()
        try:
            async with session.begin():
                attempt_task = asyncio.ensure_future(work(session, row))
                watch = (
                    asyncio.ensure_future(
                        _stop_when_cancelled(
                            sessionmaker, job, row_id, attempt_task, asked_to_cancel
                        )
                    )
                    if job.cancellable
                    else None
                )
                try:
                    await attempt_task
                finally:
                    if watch is not None:
                        watch.cancel()
                current = await session.scalar(
                    select(job.model.attempts).where(job.model.id == row_id).with_for_update()
                )
                if current != attempt:
                    raise _TakenOver
                row.status, row.finished_at = "done", datetime.now(UTC)
        except _TakenOver:
            return
        except BaseException as exc:
            # The attempt's transaction was rolled back as it ended, releasing the row's lock
            # before the stop is recorded.
            if _cancelled_by_owner(exc, asked_to_cancel):
                await asyncio.shield(_record_cancelled(sessionmaker, job, row_id, attempt))
                return
            await asyncio.shield(
                _record_stop(sessionmaker, job, row_id, attempt, max_attempts, exc)
            )
            raise


class _TakenOver(Exception):
    """A later attempt took the row over while this one ran: this one's work is dropped."""


def _cancelled_by_owner(exc: BaseException, asked: asyncio.Event) -> bool:
    """The attempt stopped because its owner cancelled it, not because its worker stops."""
    current = asyncio.current_task()
    return (
        isinstance(exc, asyncio.CancelledError)
        and asked.is_set()
        and (current is None or current.cancelling() == 0)
    )


async def _stop_when_cancelled(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: TrackedJob,
    row_id: uuid.UUID,
    attempt_task: asyncio.Future[None],
    asked: asyncio.Event,
) -> None:
    while not attempt_task.done():
        await asyncio.sleep(CANCEL_POLL_SECONDS)
        try:
            async with sessionmaker() as session:
                requested = await session.scalar(
                    select(job.model.cancel_requested_at).where(job.model.id == row_id)
                )
        except Exception:
            # The database is away for a moment: the attempt meets it too; look again.
            log.debug("%s %s: could not look for a cancellation", job.noun, row_id, exc_info=True)
            continue
        if requested is not None:
            log.info("%s %s: cancelled by its owner, stopping", job.noun, row_id)
            asked.set()
            attempt_task.cancel()
            return


async def _record_cancelled(
    sessionmaker: async_sessionmaker[AsyncSession], job: TrackedJob, row_id: uuid.UUID, attempt: int
) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(
            update(job.model)
            .where(job.model.id == row_id, job.model.attempts == attempt)
            .values(status="cancelled", finished_at=datetime.now(UTC))
        )


async def _record_stop(
    sessionmaker: async_sessionmaker[AsyncSession],
    job: TrackedJob,
    row_id: uuid.UUID,
    attempt: int,
    max_attempts: int,
    exc: BaseException,
) -> None:
    """Back to `queued` if the queue will run it again, else `failed` with the reason; the
    details go to the log, not to the user."""
    if is_interruption(exc) and attempt < max_attempts:
        log.warning("%s %s: attempt %d %s", job.noun, row_id, attempt, stopped_reason(exc))
        values: dict[str, Any] = {"status": "queued"}
    else:
        if is_interruption(exc):
            error = exhausted_error(job, attempt, stopped_reason(exc))
        elif isinstance(exc, JobFailure):
            error = str(exc)
        else:
            error = f"The {job.noun} failed on an unexpected error; it is logged for the operators."
        log.error("%s %s failed: %s", job.noun, row_id, error, exc_info=exc)
        values = {"status": "failed", "error": error, "finished_at": datetime.now(UTC)}
    try:
        async with sessionmaker.begin() as session:
            await session.execute(
                update(job.model)
                .where(job.model.id == row_id, job.model.attempts == attempt)
                .values(**values)
            )
    except Exception:
        # The database is out of reach: the row stays `running` with this attempt, which the
        # next attempt (the queue's retry, or the stalled-job check) takes over.
        log.exception("%s %s: could not record how attempt %d ended", job.noun, row_id, attempt)
