"""The handlers that answer every error as a problem: the hierarchy's own, the validation of a
request, Starlette's HTTP errors, a database out of reach and any other exception."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.kit.allowed_methods import allowed_methods
from app.kit.database_errors import RAISED_WHEN_UNAVAILABLE, is_database_unavailable
from app.kit.problems import (
    BadRequest,
    Problem,
    ProblemResponse,
    ValidationFailed,
    database_unavailable_response,
    field_errors,
    problem_of_status,
    problem_response,
)
from app.kit.unexpected_errors import unexpected_error_response

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, Problem)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return problem_response(exc, request, {**headers, **exc.headers})

    async def on_validation(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, RequestValidationError)
        errors = field_errors(exc.errors())
        not_json = next((e for e in errors if e["rule"] == "json_invalid"), None)
        if not_json is not None:
            return problem_response(
                BadRequest(f"The body is not JSON: {not_json['message']}"), request
            )
        return problem_response(ValidationFailed(errors), request)

    async def on_http(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        detail = str(exc.detail)
        if exc.status_code == 405:
            methods = allowed_methods(request.app, request.url.path)
            headers["Allow"] = ", ".join(methods)
            detail = f"{request.url.path} answers {', '.join(methods)}, not {request.method}."
        problem = problem_of_status(exc.status_code, detail)
        return problem_response(problem, request, headers)

    async def on_unexpected(request: Request, exc: Exception) -> ProblemResponse:
        return unexpected_error_response(request, exc)

    async def on_database_error(request: Request, exc: Exception) -> ProblemResponse:
        if is_database_unavailable(exc):
            log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
            return database_unavailable_response(request)
        return await on_unexpected(request, exc)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for raised in RAISED_WHEN_UNAVAILABLE:
        app.add_exception_handler(raised, on_database_error)
    # What the middleware of main.py raise themselves; the rest UnexpectedErrorMiddleware takes.
    app.add_exception_handler(Exception, on_unexpected)
