"""The life of a job that a row tracks (a matching run, a route plan): queued, running, then
done with its result, or failed with the reason, whatever the work raised."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Row = TypeVar("Row")


async def run_tracked(
    sessionmaker: async_sessionmaker[AsyncSession],
    model: type[Row],
    row_id: uuid.UUID,
    work: Callable[[AsyncSession, Row], Awaitable[None]],
) -> None:
    """Runs `work` for the row once: a row already done or failed is left alone, so that a job
    retried by the queue does not redo it. `work` stores its result on the row; it is
    committed with the status `done`."""
    async with sessionmaker() as session:
        row: Any = await session.get(model, row_id)
        if row is None or row.status not in ("queued", "running"):
            return
        row.status, row.started_at = "running", datetime.now(UTC)
        await session.commit()
        try:
            await work(session, row)
            row.status, row.finished_at = "done", datetime.now(UTC)
            await session.commit()
        except Exception as exc:
            await session.rollback()
            failed: Any = await session.get_one(model, row_id)
            failed.status, failed.error, failed.finished_at = (
                "failed",
                repr(exc)[:500],
                datetime.now(UTC),
            )
            await session.commit()
            raise
