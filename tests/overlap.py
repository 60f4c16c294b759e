"""Requests that are shown to overlap: the race tests' one way of proving that their requests
were in the database at the same time, and not one after the other.

The test's own connection (the superuser's: it sees every backend) takes, in a transaction of
its own, a lock that every request of the race needs. The requests are fired; each runs until
it waits on that lock. Once all of them wait behind the holder, directly or behind one another
(`pg_blocking_pids`), the holder rolls back and they race from there. A request that ends
before it waits, or too few waiting, fails the test: the race it claims did not happen."""

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import asyncpg

from tests.conftest import connect_raw

T = TypeVar("T")

# Far longer than N requests take to reach their lock on a loaded machine: the bound of a
# wait that would otherwise never end, not a measure of anything.
ARRIVAL_LIMIT_S = 120
POLL_S = 0.02

# The backends waiting behind the holder: those its locks block, then those they block (a
# second row locker waits on the first one's tuple lock, not on the holder).
BEHIND_HOLDER = """
WITH RECURSIVE behind(pid) AS (
    SELECT pid FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))
  UNION
    SELECT a.pid FROM pg_stat_activity a JOIN behind b ON b.pid = ANY(pg_blocking_pids(a.pid))
)
SELECT count(*) FROM behind
"""


async def _arrivals(
    observer: asyncpg.Connection, holder_pid: int, tasks: Sequence[asyncio.Future[Any]]
) -> int:
    """How many backends wait behind the holder once as many as there are tasks do, or once a
    task has ended (it did not wait), or at the limit."""
    deadline = asyncio.get_running_loop().time() + ARRIVAL_LIMIT_S
    while True:
        waiting: int = await observer.fetchval(BEHIND_HOLDER, holder_pid)
        if (
            waiting >= len(tasks)
            or any(task.done() for task in tasks)
            or asyncio.get_running_loop().time() > deadline
        ):
            return waiting
        await asyncio.sleep(POLL_S)


async def overlapping(
    database_url: str, lock: str, *args: Any, requests: Sequence[Awaitable[T]]
) -> list[T]:
    """Runs `requests` at once, having shown that all of them waited together on `lock` (a
    statement that takes a lock each of them needs, run with `args` by the test's connection
    to `database_url`); answers their results in order."""
    holder = await connect_raw(database_url)
    observer = await connect_raw(database_url)
    try:
        held = holder.transaction()
        await held.start()
        await holder.execute(lock, *args)
        tasks = [asyncio.ensure_future(request) for request in requests]
        try:
            waiting = await _arrivals(observer, holder.get_server_pid(), tasks)
        finally:
            await held.rollback()
        results = await asyncio.gather(*tasks)
        assert waiting == len(tasks), (
            f"{waiting} backends, for {len(tasks)} requests, waited together on the lock: "
            "the requests did not all overlap",
            results,
        )
        return results
    finally:
        await observer.close()
        await holder.close()


# The row locks the races meet at (app.quantity_locks): a hub's, which each of its movements and
# each accept of a match on one of its lots takes first; a listing's, which each accept of a
# match on it and each change of it take.
HOLD_HUB = "SELECT 1 FROM sites WHERE id = $1 FOR NO KEY UPDATE"
HOLD_OFFER = "SELECT 1 FROM offers WHERE id = $1 FOR NO KEY UPDATE"
HOLD_REQUEST = "SELECT 1 FROM material_requests WHERE id = $1 FOR NO KEY UPDATE"
