"""The async engines of the settings, and the session factory. The request's session, one
transaction per request, is `app.kit.request_session`."""

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Executable, Row, event
from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.kit.least_privilege import refuse_privileged_role
from app.settings import Settings

# The execution option of `reads_only`'s engine, which its statements carry.
_READS_ONLY = "boucle_reads_only"
# What needs a transaction around it: a write, a row lock, a lock or a setting that lasts
# until the transaction ends.
_NEEDS_A_TRANSACTION = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|MERGE)\b|\bFOR (NO KEY )?UPDATE\b|\bFOR (KEY )?SHARE\b"
    r"|\bSET LOCAL\b|_xact_lock|\bset_config\(",
    re.IGNORECASE,
)


class WriteInReadSession(RuntimeError):
    """A write through a session of `reads_only`, where it would not be one transaction."""


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
    once more on a fresh connection. `autocommit` and `reads_only` share its pool, so that
    the request's session draws fresh connections after that too."""
    engine = _service_engine(settings)
    event.listen(engine.sync_engine, "before_cursor_execute", _refuse_writes_in_reads)
    return engine


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for statements that each stand alone and commit at once (the rate limit's
    count, the key's lookup, its `last_used_at`), in one round trip: no transaction to begin
    and commit around them. The same pool as `engine`'s."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def reads_only(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for the session of a request that only reads (GET, HEAD): each statement
    commits alone, so that the request costs no BEGIN nor COMMIT round trip. Under READ
    COMMITTED every statement of a transaction reads a snapshot of its own anyway: reading
    without one changes nothing that a read sees. A write through it raises
    `WriteInReadSession`, and so does a lock or a local setting, which would end with their
    statement."""
    return engine.execution_options(isolation_level="AUTOCOMMIT", **{_READS_ONLY: True})


def _refuse_writes_in_reads(
    _: Connection,
    __: Any,
    statement: str,
    ___: Any,
    context: ExecutionContext,
    ____: bool,
) -> None:
    if not context.execution_options.get(_READS_ONLY):
        return
    writes = context.isinsert or context.isupdate or context.isdelete  # type: ignore[attr-defined]
    if writes or _NEEDS_A_TRANSACTION.search(statement):
        raise WriteInReadSession(
            "A GET or HEAD request's session only reads, each statement on its own: this "
            f"statement would need the request's transaction: {statement[:200]}"
        )


def _service_engine(settings: Settings, **options: Any) -> AsyncEngine:
    engine = _engine(settings, settings.database_url, **options)
    event.listen(engine.sync_engine, "connect", _refuse_privileged_role)
    return engine


def _engine(settings: Settings, url: str, **options: Any) -> AsyncEngine:
    return create_async_engine(
        url, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size, **options
    )


def _refuse_privileged_role(dbapi_connection: Any, _: Any) -> None:
    dbapi_connection.run_async(lambda raw: refuse_privileged_role(raw, "BOUCLE_DATABASE_URL"))


async def run_alone(engine: AsyncEngine, statement: Executable) -> Sequence[Row[Any]]:
    """The rows that `statement` answers, run on `autocommit(engine)` as the first statement
    of a request: a connection that had died in the pool (the database restarted, or ended
    the connection) invalidates the pool, and the statement runs once more on a new one. Only
    for statements that may run twice (a lookup, a count of the request, a guarded update):
    the first may have been carried out before its connection failed."""
    try:
        return await _rows(engine, statement)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return await _rows(engine, statement)


async def _rows(engine: AsyncEngine, statement: Executable) -> Sequence[Row[Any]]:
    async with engine.connect() as connection:
        return (await connection.execute(statement)).all()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
