"""What an API process keeps and must forget as the database changes, told by PostgreSQL's
notifications: triggers notify a channel as each change commits (migration 0027), and the
process listens to every channel on one connection of its own for as long as it runs. While
that connection is down, nothing kept this way may be trusted: `listening` says so, and each
loss, and each new connection, makes everything be forgotten."""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.kit.least_privilege import PrivilegedDatabaseRole

# An API key revoked, an organization renamed or given other roles (`app.gateway.grants`).
PRINCIPALS = "boucle_principals"
# A month of statistics published, the reference data loaded again (`app.stats.kept`).
PUBLICATIONS = "boucle_publications"
# How long a process waits before listening again after its connection was lost or refused.
RETRY_SECONDS = 1.0

log = logging.getLogger(__name__)


class Notifications:
    """The channels a process listens to, and what each notification makes it forget."""

    def __init__(self) -> None:
        self.listening = False
        self._forget: defaultdict[str, list[Callable[[], None]]] = defaultdict(list)

    def on(self, channel: str, forget: Callable[[], None]) -> None:
        self._forget[channel].append(forget)

    def heard(self, channel: str) -> None:
        for forget in self._forget[channel]:
            forget()

    def forget_everything(self) -> None:
        for channel in list(self._forget):
            self.heard(channel)


async def listen(engine: AsyncEngine, notifications: Notifications) -> None:
    """Listens on a connection of `engine` (one of its own, out of the requests' pool) until
    cancelled, again after each loss."""
    while True:
        try:
            await _listen_once(engine, notifications)
        except PrivilegedDatabaseRole:
            # Logged as the connection was refused; the requests are refused alike.
            return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, DBAPIError) as exc:
            log.warning("not listening to the database's changes (%s): nothing is kept", exc)
        await asyncio.sleep(RETRY_SECONDS)


async def _listen_once(engine: AsyncEngine, notifications: Notifications) -> None:
    async with engine.connect() as connection:
        raw: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
        lost = asyncio.Event()
        raw.add_termination_listener(lambda _: lost.set())
        for channel in (PRINCIPALS, PUBLICATIONS):
            await raw.add_listener(channel, lambda _c, _p, heard, _m: notifications.heard(heard))
        # What was kept before this connection listened may be stale.
        notifications.forget_everything()
        notifications.listening = True
        try:
            await lost.wait()
        finally:
            notifications.listening = False
            notifications.forget_everything()
