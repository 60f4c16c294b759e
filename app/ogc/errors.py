"""The open data's errors as the API's: problem+json, a 4xx for whatever the query got wrong
(a bbox that is not numbers, a filter that names no property of the collection, a geometry
column it has not), 503 while the database is away, and a plain 500, logged, for the rest.
tipg's own handlers answer the exception's text, with a 500 for most of these."""

import logging

import asyncpg
import cql2
from fastapi import FastAPI, Request
from tipg.errors import (
    DEFAULT_STATUS_CODES,
    MissingDatetimeColumn,
    MissingGeometryColumn,
    TiPgError,
)

from app.kit.error_handlers import install_error_handlers
from app.kit.problems import BadRequest, ProblemResponse, problem_of_status, problem_response

log = logging.getLogger(__name__)

# tipg's errors, but a geometry or datetime column the query names and the view has not: tipg
# takes that for a view without one, a 500, where it is the query's mistake.
_TIPG_STATUS: dict[type[Exception], int] = {
    **{kind: code for kind, code in DEFAULT_STATUS_CODES.items() if issubclass(kind, TiPgError)},
    MissingGeometryColumn: 404,
    MissingDatetimeColumn: 404,
}
_TIPG_DETAIL: dict[type[Exception], str] = {
    MissingGeometryColumn: "This collection has no such geometry column (`geom-column`).",
    MissingDatetimeColumn: "This collection has no such datetime column (`datetime-column`).",
}

# The query's own mistakes, and what each says.
_QUERY_ERRORS: dict[type[Exception], str] = {
    cql2.ValidationError: "The filter is not a valid CQL2 expression",
    ValueError: "A parameter is not what it should be",
    # A filter or a sort on a property the view does not have, or a function it does not know.
    asyncpg.SyntaxOrAccessError: "The query names what this collection does not have",
    # A value out of range: a zoom past the tile matrix, a date PostgreSQL cannot read.
    asyncpg.DataError: "A value of the query is out of range",
    # PostGIS refusing a geometry of the query, in the words of an internal error.
    asyncpg.InternalServerError: "The query cannot be answered as it is asked",
    # The open data's statement timeout (app.database_roles).
    asyncpg.QueryCanceledError: "The query asks for more than the open data gives at once: "
    "ask for fewer features (`limit`, `bbox`, a narrower `filter`)",
}


def install_open_data_errors(app: FastAPI) -> None:
    install_error_handlers(app)

    async def on_query_error(request: Request, exc: Exception) -> ProblemResponse:
        # The database's own words stay in the log: they name its objects, settings and data.
        what = next(text for kind, text in _QUERY_ERRORS.items() if isinstance(exc, kind))
        log.info("open data query refused on %s: %r", request.url, exc)
        return problem_response(BadRequest(f"{what}."), request)

    async def on_tipg_error(request: Request, exc: Exception) -> ProblemResponse:
        detail = str(exc) or _TIPG_DETAIL.get(type(exc), "The query cannot be answered.")
        return problem_response(problem_of_status(_TIPG_STATUS[type(exc)], detail), request)

    for kind in _QUERY_ERRORS:
        app.add_exception_handler(kind, on_query_error)
    for kind in _TIPG_STATUS:
        app.add_exception_handler(kind, on_tipg_error)
