"""Hears of every change of an API key or organization as it commits: PostgreSQL notifies
`CHANNEL` from triggers on their tables (migration 0027), and an API process listens on a
connection of its own for as long as it runs, so that the keys its rate limit keeps
(`app.gateway.grants`) are forgotten at once. While that connection is down, nothing is kept:
every request asks the database, as without reserves."""

import asyncio
import logging

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.gateway.grants import Grants
from app.kit.least_privilege import PrivilegedDatabaseRole

CHANNEL = "boucle_principals"
# How long a process waits before listening again after its connection was lost or refused.
RETRY_SECONDS = 1.0

log = logging.getLogger(__name__)


async def listen_for_principal_changes(engine: AsyncEngine, grants: Grants) -> None:
    """Listens on a connection of `engine` (one of its own, out of the requests' pool) until
    cancelled, again after each loss."""
    while True:
        try:
            await _listen_once(engine, grants)
        except PrivilegedDatabaseRole:
            # Logged as the connection was refused; the requests are refused alike.
            return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, DBAPIError) as exc:
            log.warning("not listening to key changes (%s): every request asks the database", exc)
        await asyncio.sleep(RETRY_SECONDS)


async def _listen_once(engine: AsyncEngine, grants: Grants) -> None:
    async with engine.connect() as connection:
        raw: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
        lost = asyncio.Event()
        raw.add_termination_listener(lambda _: lost.set())
        await raw.add_listener(CHANNEL, lambda *_: grants.forget_all())
        # What was kept before this connection listened may be stale.
        grants.forget_all()
        grants.listening = True
        try:
            await lost.wait()
        finally:
            grants.listening = False
            grants.forget_all()
