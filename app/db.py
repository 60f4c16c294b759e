"""The async engines, the session factory and the request's session (one transaction per
request)."""

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sqlalchemy import Executable, Row, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.kit.least_privilege import refuse_privileged_role
from app.settings import Settings


def create_engine(settings: Settings, *, url: str | None = None) -> AsyncEngine:
    """The service's engine, on `settings.database_url`; refuses a privileged role. The loaders
    of `app.cli` pass the owner's `url`, which may change the schema."""
    if url is not None:
        return _engine(settings, url, pool_pre_ping=True)
    return _service_engine(settings, pool_pre_ping=True)


def create_autocommit_engine(settings: Settings) -> AsyncEngine:
    """An engine for statements that each stand alone and commit at once (the rate limit's
    count), in one round trip: no transaction to begin and commit around them, and no ping
    when a connection is taken from the pool. A connection found dead on use instead
    invalidates the pool, and `run_alone` runs its statement once more on a fresh one."""
    return _service_engine(settings, isolation_level="AUTOCOMMIT")


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


async def run_alone(engine: AsyncEngine, statement: Executable) -> Row[Any]:
    """The one row that `statement` answers, run on an engine of `create_autocommit_engine`."""
    try:
        return await _one_row(engine, statement)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    # The connection had died in the pool (the database restarted): the pool was invalidated
    # with it, so this connection is a new one.
    return await _one_row(engine, statement)


async def _one_row(engine: AsyncEngine, statement: Executable) -> Row[Any]:
    async with engine.connect() as connection:
        return (await connection.execute(statement)).one()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# Where the idempotency middleware puts the session of a request it records: the request runs
# in it, and the middleware commits it with the record (app/kit/idempotency.py).
SCOPE_SESSION = "boucle.session"


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed when the route has answered without an error,
    before the response is sent (`app.dependencies.Session` makes it function-scoped), so that a
    commit that fails answers an error and never a 2xx; rolled back on any error. Services add,
    flush and raise; they never commit. What must stay written although the request fails goes
    through `app.kit.transactions.write_despite_failure`.

    A request whose Idempotency-Key the middleware claimed runs in the middleware's session,
    which the middleware commits together with the stored response."""
    recorded: AsyncSession | None = request.scope.get(SCOPE_SESSION)
    if recorded is not None:
        try:
            yield recorded
        except BaseException:
            await recorded.rollback()
            raise
        return
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
