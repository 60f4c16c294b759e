"""The request's session: one transaction per request, committed before the response is sent and
rolled back on any error; a request that means to read (GET, HEAD) reads without one until
it needs one."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncSession,
    async_sessionmaker,
)

# Requests that mean to read: their session begins no transaction on the server (no BEGIN nor
# COMMIT round trip) until a statement needs one (app.db.ReadsFirstSession).
READ_METHODS = frozenset({"GET", "HEAD"})

# Where the idempotency middleware puts the session of a request it records: the request runs
# in it, and the middleware commits it with the record (app/gateway/idempotency.py).
SCOPE_SESSION = "boucle.session"


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed when the route has answered without an error,
    before the response is sent (`Session` below makes it function-scoped), so that a commit
    that fails answers an error and never a 2xx; rolled back on any error. Services add,
    flush and raise; they never commit. What must stay written although the request fails goes
    through `app.kit.transactions.write_despite_failure`.

    A request whose Idempotency-Key the middleware claimed runs in the middleware's session,
    which the middleware commits together with the stored response. A GET or HEAD runs in a
    session of `app.state.read_sessionmaker`, which reads without a transaction and begins
    one at its first write."""
    recorded: AsyncSession | None = request.scope.get(SCOPE_SESSION)
    if recorded is not None:
        try:
            yield recorded
        except BaseException:
            await recorded.rollback()
            raise
        return
    sessionmaker: async_sessionmaker[AsyncSession] = (
        request.app.state.read_sessionmaker
        if request.method in READ_METHODS
        else request.app.state.sessionmaker
    )
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""The request's session. Function-scoped: FastAPI runs the end of `get_session` (its commit)
when the route returns, before the response is sent, and throws the route's errors into it; a
request-scoped dependency would commit after the client has its answer."""
