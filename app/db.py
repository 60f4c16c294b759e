"""The one async engine and session factory."""

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sqlalchemy import event
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
    engine = create_async_engine(
        url or settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
    )
    if url is None:
        event.listen(engine.sync_engine, "connect", _refuse_privileged_role)
    return engine


def _refuse_privileged_role(dbapi_connection: Any, _: Any) -> None:
    dbapi_connection.run_async(lambda raw: refuse_privileged_role(raw, "BOUCLE_DATABASE_URL"))


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request. Services commit their own transaction; anything left open
    (an error half-way) is rolled back here, so nothing is ever half written."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        yield session
