"""The async engines of the settings, and the session factory. The request's session, one
transaction per request, is `app.kit.request_session`."""

import asyncio
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

import asyncpg
from sqlalchemy import Engine, Executable, NullPool, TextClause, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

from app.kit.database_errors import is_database_unavailable
from app.kit.least_privilege import refuse_privileged_role
from app.settings import Settings

# What needs a transaction around it, in a statement written as text: a write, a row lock, a
# lock or a setting that lasts until the transaction ends.
_NEEDS_A_TRANSACTION = re.compile(
    r"^\s*(WITH\b.*\b)?(INSERT|UPDATE|DELETE|MERGE)\b|\bFOR (NO KEY )?UPDATE\b"
    r"|\bFOR (KEY )?SHARE\b|\bSET LOCAL\b|_xact_lock|\bset_config\(",
    re.IGNORECASE | re.DOTALL,
)


def create_engine(settings: Settings, *, url: str | None = None) -> AsyncEngine:
    """The workers' engine, on `settings.database_url`; refuses a privileged role. The loaders
    of `app.cli` pass the owner's `url`, which may change the schema. It pings each connection
    it takes from the pool: a job, unlike a request, has no first statement to run again."""
    if url is not None:
        return _engine(settings, url, pool_pre_ping=True)
    return _service_engine(settings, pool_pre_ping=True)


def create_api_engine(settings: Settings) -> AsyncEngine:
    """The API's engine, on `settings.database_url`; refuses a privileged role. No ping when a
    connection is taken from the pool (three round trips, BEGIN, `;` and ROLLBACK, on every
    request): a connection found dead on use invalidates the whole pool instead, and the first
    statement of a request (the key's lookup or the rate limit's count, by `run_alone`) runs
    once more on a fresh connection. `autocommit` and the read sessions share its pool, so
    that the request's session draws fresh connections after that too."""
    return _service_engine(settings)


def create_listening_engine(settings: Settings) -> AsyncEngine:
    """An engine for a connection held as long as the process runs (LISTEN's,
    `app.kit.notifications`), out of the requests' pool; refuses a privileged role."""
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    event.listen(engine.sync_engine, "connect", _refuse_privileged_role)
    return engine


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for statements that each stand alone and commit at once (the rate limit's
    count, the key's lookup, its `last_used_at`, a GET's reads), in one round trip: no
    transaction to begin and commit around them. The same pool as `engine`'s."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


class ReadsFirstSession(Session):
    """The session of a request that means to read (GET, HEAD): its statements run each on
    its own, without a transaction (no BEGIN nor COMMIT round trip), until the first one that
    needs a transaction: a flush, an INSERT, UPDATE or DELETE, a row lock (FOR UPDATE, FOR
    SHARE), and in a statement written as text a transaction's lock or setting. That one and
    all after it run in one transaction, which the request commits as any other. Under READ
    COMMITTED each statement of a transaction reads a snapshot of its own anyway, and a plain
    read holds no row lock: the reads before it see what they would have seen in it.

    A write hidden from it (a function that writes, called in a SELECT) would commit alone:
    run such a statement in a POST, or lock first."""

    def __init__(self, *args: Any, reader: Engine, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reader = reader
        self.in_transaction_from_now = False

    def get_bind(self, mapper: Any = None, *, clause: Any = None, **kwargs: Any) -> Any:
        if not self.in_transaction_from_now and _needs_a_transaction(clause):
            self.in_transaction_from_now = True
        if self.in_transaction_from_now:
            return super().get_bind(mapper, clause=clause, **kwargs)
        return self.reader


# A statement's text is a constant of the code, run again and again: searched once. The search
# costs some 0.4 us a character (30 ms for the 74 kB of a request's candidates).
@functools.lru_cache(maxsize=1024)
def _text_needs_a_transaction(text: str) -> bool:
    return bool(_NEEDS_A_TRANSACTION.search(text))


def _needs_a_transaction(clause: Any) -> bool:
    if clause is None:  # a flush, or a connection asked for as such
        return True
    if isinstance(clause, TextClause):
        return _text_needs_a_transaction(clause.text)
    return bool(getattr(clause, "is_dml", False)) or (
        getattr(clause, "_for_update_arg", None) is not None
    )


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions of `ReadsFirstSession` on `engine`: reads on its pool in autocommit."""
    return async_sessionmaker(
        engine,
        expire_on_commit=False,
        sync_session_class=ReadsFirstSession,
        reader=autocommit(engine).sync_engine,
    )


def _service_engine(settings: Settings, **options: Any) -> AsyncEngine:
    engine = _engine(settings, settings.database_url, **options)
    event.listen(engine.sync_engine, "connect", _refuse_privileged_role)
    event.listen(engine.sync_engine, "checkout", _replace_if_closed)
    return engine


def _engine(settings: Settings, url: str, **options: Any) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size // 2,
        pool_timeout=settings.db_pool_timeout_seconds,
        **options,
    )


def _replace_if_closed(dbapi_connection: Any, *_: Any) -> None:
    """A pooled connection whose socket the database closed while it was idle (a backend
    ended, an idle timeout), as asyncpg saw it, is replaced as it is taken from the pool (the
    pool's answer to DisconnectionError), without a round trip: a request served from a
    reserve (`app.gateway.grants`) makes no statement that may run twice before its own."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError()


def _refuse_privileged_role(dbapi_connection: Any, _: Any) -> None:
    dbapi_connection.run_async(lambda raw: refuse_privileged_role(raw, "BOUCLE_DATABASE_URL"))


async def run_alone(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any] | None = None
) -> Sequence[Mapping[str, Any]]:
    """The rows that `statement` answers, run alone in autocommit as the first statement of a
    request, by the driver itself on a connection of `engine`'s pool: SQLAlchemy's Connection
    and Result around one statement cost more than the statement itself in the process (the
    count and key lookup of every request: 0.88 ms of the processor through them, 0.30 ms
    here).

    A connection that had died in the pool (the database restarted, or ended the connection) is
    dropped, and the statement runs once more through SQLAlchemy, which invalidates the whole
    pool on finding another one dead and then runs it on a new connection. Only for statements
    that may run twice (a lookup, a count of the request, a guarded update): the first may have
    been carried out before its connection failed."""
    try:
        return await _fetch(engine, statement, parameters)
    except _ConnectionFailed:
        pass
    try:
        return await _rows(engine, statement, parameters)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return await _rows(engine, statement, parameters)


class _ConnectionFailed(Exception):
    """The pooled connection `_fetch` ran on failed, not the statement (dropped since)."""


@functools.lru_cache(maxsize=64)
def _compiled(statement: Executable, dialect: Dialect) -> SQLCompiler:
    return cast(SQLCompiler, statement.compile(dialect=dialect))  # type: ignore[attr-defined]


async def _fetch(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any] | None
) -> Sequence[Mapping[str, Any]]:
    compiled = _compiled(statement, engine.dialect)
    bound = compiled.construct_params(parameters)
    values = [bound[name] for name in compiled.positiontup or ()]
    pooled = await engine.raw_connection()
    driver: asyncpg.Connection = pooled.driver_connection
    try:
        records = await driver.fetch(compiled.string, *values)
    except asyncio.CancelledError:
        # Cancelled mid-statement, the connection's protocol is in no known state.
        await greenlet_spawn(pooled.invalidate)
        raise
    except Exception as exc:
        # An error the server reported about the statement leaves the connection as it was;
        # anything else (the server ending the connection, a dropped one, a protocol in
        # disorder after it) does not.
        if isinstance(exc, asyncpg.PostgresError) and not (
            is_database_unavailable(exc) or driver.is_closed()
        ):
            raise
        await greenlet_spawn(pooled.invalidate)
        raise _ConnectionFailed() from exc
    finally:
        await greenlet_spawn(pooled.close)
    return cast(Sequence[Mapping[str, Any]], records)


async def _rows(
    engine: AsyncEngine, statement: Executable, parameters: dict[str, Any] | None
) -> Sequence[Mapping[str, Any]]:
    async with engine.connect() as connection:
        rows = (await connection.execute(statement, parameters)).mappings().all()
    return cast(Sequence[Mapping[str, Any]], rows)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
