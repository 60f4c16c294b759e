"""The one job queue: procrastinate on the service's own PostgreSQL. The API defers jobs in its
own transactions; the worker processes (`app.worker`) run them.

Two queues, so that long work cannot hold up short work: `plans` for the CPU-bound route
plans and matching runs, `events` for webhook deliveries, the events of a write and the
periodic sweeps. Each worker process serves both, each with a concurrency of its own."""

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.database_errors import is_database_unavailable

PLANS_QUEUE = "plans"
EVENTS_QUEUE = "events"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobKind:
    """A task and the queue it runs on, for registering it and for deferring it alike."""

    name: str
    queue: str


_DEFER = text(
    """
    SELECT procrastinate_defer_jobs_v1(ARRAY[
        ROW(:queue, :task, 0, NULL, NULL, CAST(:args AS jsonb), :scheduled_at)
    ]::procrastinate_job_to_defer_v1[])
    """
)


def psycopg_conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def defer_in_transaction(
    session: AsyncSession, job: JobKind, args: dict[str, Any], scheduled_at: datetime | None = None
) -> None:
    """Queues a job in the caller's transaction, so that the job exists if and only if the
    change that calls for it is committed (procrastinate's own defer uses a connection of its
    own). The SQL function is procrastinate 3's, pinned in pyproject.toml."""
    await session.execute(
        _DEFER,
        {
            "queue": job.queue,
            "task": job.name,
            "args": json.dumps(args),
            "scheduled_at": scheduled_at,
        },
    )


def register_sweep(
    jobs: procrastinate.App,
    name: str,
    cron: str,
    function: Callable[..., Awaitable[None]],
    retry: BaseRetryStrategy,
) -> None:
    """A periodic task on the events queue, deferred by whichever worker comes first, and
    queued once however many workers defer it (a queueing lock of its name)."""
    task = jobs.task(
        name=name, queue=EVENTS_QUEUE, pass_context=True, queueing_lock=name, retry=retry
    )
    jobs.periodic(cron=cron)(task(function))


class RetryInterrupted(BaseRetryStrategy):
    """Retries a job that was interrupted (its worker shut down, its database connection or
    its planner process was lost), after a growing wait with jitter; a job that failed on
    its own merits (bad data, a bug) is not run again. Bounded by `max_attempts` runs."""

    def __init__(self, max_attempts: int, base_seconds: float) -> None:
        self.max_attempts = max_attempts
        self.base_seconds = base_seconds

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if job.attempts + 1 >= self.max_attempts or not is_interruption(exception):
            return None
        wait = self.base_seconds * 2**job.attempts
        return RetryDecision(
            retry_at=datetime.now(UTC) + timedelta(seconds=random.uniform(wait / 2, wait))
        )


class JobInterrupted(Exception):
    """The attempt stopped for a reason outside the job (a planner process that died, a
    database connection lost): running it again may well succeed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_interruption(exception: BaseException) -> bool:
    """Whether an attempt that raised this may succeed if run again."""
    return isinstance(exception, JobInterrupted | asyncio.CancelledError) or (
        is_database_unavailable(exception)
    )


class ReconnectingPsycopgConnector(procrastinate.PsycopgConnector):
    """procrastinate's listener reconnects only if the database answers at that very moment,
    else the worker stops: a restart of PostgreSQL would take every worker down with it. This
    one tries again every second; jobs deferred meanwhile are found by the polling."""

    async def listen_notify(self, on_notification: Any, channels: Any) -> None:
        while True:
            try:
                await super().listen_notify(on_notification, channels)
            except ConnectorException as exc:
                log.warning("job notifications lost (%s); listening again in 1 s", exc)
                await asyncio.sleep(1)
