"""Queries that share one deadline: each runs under a statement timeout of the time left, so
that a heavy query (a road matrix) cannot hold a worker and a connection for ever."""

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Executable, Row, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

_QUERY_CANCELED = "57014"


class DeadlinePassed(Exception):
    """The queries did not finish within their deadline."""


class StatementDeadline:
    def __init__(self, session: AsyncSession, seconds: float) -> None:
        self.session = session
        self.deadline = time.monotonic() + seconds

    async def all(self, statement: Executable, parameters: dict[str, Any]) -> Sequence[Row[Any]]:
        left_ms = round((self.deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            raise DeadlinePassed
        await self._set_timeout(str(left_ms))
        try:
            return (await self.session.execute(statement, parameters)).all()
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == _QUERY_CANCELED:
                raise DeadlinePassed from exc
            raise

    async def _set_timeout(self, value: str) -> None:
        await self.session.execute(
            text("SELECT set_config('statement_timeout', :value, true)"), {"value": value}
        )


@asynccontextmanager
async def statement_deadline(
    session: AsyncSession, seconds: float
) -> AsyncIterator[StatementDeadline]:
    """Runs the queries given to the answer's `all` by `seconds` from now, in the session's
    transaction; the timeout ends with the block (or with the transaction, if it fails)."""
    previous = await session.scalar(text("SELECT current_setting('statement_timeout')"))
    deadline = StatementDeadline(session, seconds)
    yield deadline
    await deadline._set_timeout(str(previous))
