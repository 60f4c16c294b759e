"""What a request writes although it fails. A request is one transaction, committed by the
session dependency (`app.kit.request_session.get_session`) when the route answers and rolled back on any error;
the few facts that must stand whatever the request answers go through `write_despite_failure`
and nowhere else, but for single statements made before the request's session is used (the rate
limit's count, a key's last use), which run alone in autocommit (`app.db.run_alone`)."""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

Result = TypeVar("Result")


async def write_despite_failure(
    session: AsyncSession, write: Callable[[AsyncSession], Awaitable[Result]]
) -> Result:
    """Runs `write` in a transaction of its own on the request's session and commits it, so that
    it stands whatever the request answers (the caller raises next, typically).

    The request's transaction is rolled back first: it may hold the row locks `write` needs, and
    nothing of it is meant to stay. `write` therefore reads what it changes again, under its own
    locks, and checks that it still holds."""
    await session.rollback()
    async with session.begin():
        return await write(session)
