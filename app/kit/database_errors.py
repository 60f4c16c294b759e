"""What an error says about the database: that it could not be reached (a restart, a
fail-over, a dropped connection), as opposed to a query that failed on its own merits."""

import asyncpg
import psycopg
import psycopg_pool
from procrastinate.exceptions import ConnectorException
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# asyncpg's classes for a server that is gone, going or not there yet (SQLSTATE 08, 57P).
_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    # Every connection of the pool busy for as long as a request may wait for one: the database
    # is out of reach for this request as surely as if it were down.
    PoolTimeout,
    ConnectorException,
)


# What a request can raise when the database is away: the API answers these with a handler of
# their own (503 when it is unavailability, else the plain 500).
RAISED_WHEN_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    DBAPIError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    PoolTimeout,
)


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or what caused it, is the database being out of reach."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OperationalError | InterfaceError):
            current = current.orig or current.__cause__
            continue
        if isinstance(current, _UNAVAILABLE) and not isinstance(
            current, asyncpg.QueryCanceledError
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def violated_constraint(exc: BaseException) -> str | None:
    """The name of the constraint or unique index that `exc` (an IntegrityError, or what
    wraps one) says a write broke, or None when it names none."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, asyncpg.IntegrityConstraintViolationError):
            return current.constraint_name
        if isinstance(current, DBAPIError):
            orig = current.orig
            current = orig if isinstance(orig, BaseException) else current.__cause__
            continue
        current = current.__cause__ or current.__context__
    return None
