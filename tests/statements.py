"""The SQL an app runs while a test watches: its request sessions' statements (SQLAlchemy's)
and, on the same pool, what runs on the driver itself (the rate limit's count, a kept answer's
check: `app.db.run_alone`), which asyncpg's query logger reports a little later."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event


@contextmanager
def statements_of(app: FastAPI) -> Iterator[list[str]]:
    """The SQL `app` runs meanwhile (wait a little after the last request: asyncpg calls its
    query loggers soon after)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    def logged(query: Any) -> None:
        seen.append(query.query)

    def checked_out(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(logged)

    def checked_in(dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.driver_connection.remove_query_logger(logged)

    engine = app.state.engine.sync_engine
    listeners = [
        (engine, "before_cursor_execute", record),
        (engine.pool, "checkout", checked_out),
        (engine.pool, "checkin", checked_in),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        yield seen
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
