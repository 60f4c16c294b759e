"""The one job queue: procrastinate on the service's own PostgreSQL. The API defers jobs in its
own transactions; the worker processes (`app.worker`, started by `make run`) run them."""

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

_DEFER = text(
    """
    SELECT procrastinate_defer_jobs_v1(ARRAY[
        ROW('default', :task, 0, NULL, NULL, CAST(:args AS jsonb), :scheduled_at)
    ]::procrastinate_job_to_defer_v1[])
    """
)


def psycopg_conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def defer_in_transaction(
    session: AsyncSession, task: str, args: dict[str, Any], scheduled_at: datetime | None = None
) -> None:
    """Queues a job in the caller's transaction, so that the job exists if and only if the
    change that calls for it is committed (procrastinate's own defer uses a connection of its
    own). The SQL function is procrastinate 3's, pinned in pyproject.toml."""
    await session.execute(
        _DEFER, {"task": task, "args": json.dumps(args), "scheduled_at": scheduled_at}
    )
