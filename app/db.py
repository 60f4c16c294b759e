"""The async engines of the settings, and the session factory. The request's session, one
transaction per request, is `app.kit.request_session`."""

from typing import Any

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
