"""The one error hierarchy, rendered as RFC 9457 problem+json."""

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.allowed_methods import allowed_methods
from app.kit.database_errors import RAISED_WHEN_UNAVAILABLE, is_database_unavailable

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://boucle.brussels/problems/"

log = logging.getLogger(__name__)


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


class FieldErrorDoc(BaseModel):
    """One failing field of a request."""

    field: str = Field(
        description="Where the value is: a dotted path into the body (`quantity.value`, "
        "`vehicles.0.start`), or the name of a query, header or path parameter.",
        examples=["quantity.value"],
    )
    location: str = Field(description="body, query, header or path.", examples=["body"])
    rule: str = Field(
        description="The rule it broke, stable for programs: `greater_than`, `extra_forbidden`, "
        "`own_site`, `within_service_area`, ...",
        examples=["greater_than"],
    )
    message: str = Field(description="The rule in a sentence for people.")


class ProblemDoc(BaseModel):
    """An RFC 9457 problem. Extra members carry details, such as `errors` for validation."""

    type: str = Field(
        description="A URI naming the kind of problem.",
        examples=[PROBLEM_TYPE_BASE + "validation-error"],
    )
    title: str = Field(description="The HTTP status in words.", examples=["Unprocessable Entity"])
    status: int = Field(description="The HTTP status code.", examples=[422])
    detail: str = Field(
        description="What went wrong, in a sentence for people.",
        examples=["quantity.value: Input should be greater than 0"],
    )
    instance: str = Field(description="The path that answered it.", examples=["/v1/offers"])
    errors: list[FieldErrorDoc] | None = Field(
        default=None, description="Validation only: one entry per failing field."
    )


def _problem(description: str) -> dict[str, Any]:
    # FastAPI files the model under the route's media type; `with_problem_media_type` moves it.
    return {"description": description, "model": ProblemDoc}


_PROBLEM_REF = "#/components/schemas/ProblemDoc"


def with_schemas(document: dict[str, Any], models: Sequence[type[BaseModel]]) -> dict[str, Any]:
    """The document with the schemas of answers that no route returns as its model (a
    GeoJSON alternative named by `$ref`), beside those FastAPI collects."""
    _, definitions = models_json_schema(
        [(model, "serialization") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    return document


def with_problem_media_type(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with each problem answer under `application/problem+json`, the
    media type it is sent with (FastAPI files it under the route's own: JSON, GeoJSON),
    referring to the one `ProblemDoc` schema."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                content = answer.get("content", {})
                problem = next(
                    (
                        v
                        for v in content.values()
                        if v.get("schema", {}).get("$ref") == _PROBLEM_REF
                    ),
                    None,
                )
                if status[0] in "45" and problem is not None:
                    answer["content"] = {PROBLEM_MEDIA_TYPE: problem}
    return document


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
# The fields of the IETF draft "RateLimit header fields for HTTP", on every answer under /v1
# and /ogc.
_RATE_LIMIT = {
    "RateLimit": {
        "description": 'What is left of the rate limit: `"key";r=0;t=17`, no request left '
        "for your key (`address` without one) in the 17 s until its window ends.",
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": 'The rate limit: `"key";q=1200;w=60`, 1200 requests per 60 s.',
        "schema": {"type": "string"},
    },
}

# What each problem status means when an operation does not say more.
PROBLEM_MEANINGS: dict[int, str] = {
    400: "The body cannot be read: it is not JSON, or not text in UTF-8",
    401: "No API key, or an unknown or revoked one",
    403: "Your organization has not the role this needs",
    404: "No such resource, or not yours to see",
    409: "Conflicts with the current state, or an Idempotency-Key reused with another body",
    412: "If-Match names a version that is no longer current: read it again",
    413: "The body is too large",
    422: "A field or parameter breaks a rule: `errors` names each, with the rule",
    429: "Past the rate limit of your API key (without one, of your address): try again "
    "after `Retry-After` seconds. Every answer's `RateLimit` says what is left",
    503: "The database is out of reach for a moment (a restart, a fail-over): nothing was "
    "changed; try again after `Retry-After` seconds",
}


def problems(*statuses: int, says: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The problems one operation may answer, for the OpenAPI document: each status with what
    it means there (`says`) or in general (PROBLEM_MEANINGS)."""
    answers: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, *(says or {})}):
        answer = _problem((says or {}).get(status) or PROBLEM_MEANINGS[status])
        if status == 429:
            answer["headers"] = {**_RETRY_AFTER, **_RATE_LIMIT}
        if status == 503:
            answer["headers"] = _RETRY_AFTER
        answers[status] = answer
    return answers


# What every operation a key authenticates may answer, and what a write adds: a body that
# cannot be read or is too large, an Idempotency-Key reused.
AUTHENTICATED = (401, 429, 503)
WRITE = (400, 409, 413, 422)
# What 429 means where a job is queued.
JOB_QUOTA = (
    "Your organization already has as many plans and matching runs queued or running as it "
    "may have at once, or your API key is past its rate limit: try again after `Retry-After` "
    "seconds"
)

# Every status at once: what the routers declared before each operation said its own.
PROBLEM_RESPONSES = problems(400, 401, 403, 404, 409, 412, 413, 422, 503)
JOB_QUOTA_RESPONSES = problems(429, says={429: JOB_QUOTA})


class FieldError(dict[str, str]):
    """One failing field: where it is, which rule it broke and a sentence for humans."""

    def __init__(self, field: str, rule: str, message: str, location: str = "body") -> None:
        super().__init__(field=field, location=location, rule=rule, message=message)


class Problem(Exception):
    status: int = 500
    slug: str = "internal-error"

    def __init__(
        self, detail: str, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str) -> dict[str, Any]:
        return {
            "type": PROBLEM_TYPE_BASE + self.slug,
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            **self.extensions,
        }


class BadRequest(Problem):
    status, slug = 400, "bad-request"


class Unauthorized(Problem):
    status, slug = 401, "unauthorized"


class Forbidden(Problem):
    status, slug = 403, "forbidden"


class NotFound(Problem):
    status, slug = 404, "not-found"


class Conflict(Problem):
    status, slug = 409, "conflict"


class PreconditionFailed(Problem):
    status, slug = 412, "precondition-failed"


class PayloadTooLarge(Problem):
    status, slug = 413, "payload-too-large"


class TooManyRequests(Problem):
    status, slug = 429, "too-many-requests"

    def __init__(self, detail: str, retry_after_s: int, **extensions: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))}, **extensions)


class ValidationFailed(Problem):
    status, slug = 422, "validation-error"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(detail, errors=list(errors))

    @classmethod
    def from_pydantic(cls, exc: PydanticValidationError) -> "ValidationFailed":
        return cls(field_errors(exc.errors(), location="body"))

    @classmethod
    def field(
        cls, field: str, rule: str, message: str, location: str = "body"
    ) -> "ValidationFailed":
        return cls([FieldError(field, rule, message, location)])


class ServiceUnavailable(Problem):
    status, slug = 503, "service-unavailable"


# While the database restarts or fails over; nothing was written.
DATABASE_UNAVAILABLE = ServiceUnavailable(
    "The database is out of reach for a moment; nothing was changed. Try again shortly.",
    headers={"Retry-After": "5"},
)


def field_errors(errors: Sequence[Any], location: str | None = None) -> list[FieldError]:
    """Pydantic's errors as field errors. Request errors carry their location (body, query,
    header) first in `loc`; model errors raised in a service have none and get `location`."""
    result = []
    for err in errors:
        loc = tuple(err["loc"])
        if location is None:
            where, path = (str(loc[0]) if loc else "body"), list(loc[1:])
        else:
            where, path = location, list(loc)
        # Pydantic names the union member a value failed in; users only care about the field.
        path = [p for p in path if not (isinstance(p, str) and ("[" in p or p[:1].isupper()))]
        # A body that is not JSON fails as a whole; pydantic names the character position.
        if err["type"] == "json_invalid":
            path = []
        field = ".".join(str(p) for p in path) or where
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "This body has no such field: check its name against the document."
        result.append(FieldError(field, str(err["type"]), message, where))
    return result


def problem_of_status(status: int, detail: str) -> Problem:
    """A problem for a status that another library chose (Starlette's, tipg's)."""
    problem = Problem(detail)
    problem.status = status
    problem.slug = HTTPStatus(status).phrase.lower().replace(" ", "-")
    return problem


def problem_response(
    problem: Problem, request: Request, headers: dict[str, str] | None = None
) -> ProblemResponse:
    return ProblemResponse(
        problem.body(request.url.path), status_code=problem.status, headers=headers
    )


def database_unavailable_response(request: Request) -> ProblemResponse:
    return problem_response(DATABASE_UNAVAILABLE, request, DATABASE_UNAVAILABLE.headers)


def unexpected_error_response(request: Request, exc: Exception) -> ProblemResponse:
    """The 500 problem for an exception no handler took, logged with its traceback."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(Problem("The server hit an unexpected error."), request)


class UnexpectedErrorMiddleware:
    """Answers an exception that no handler took with the 500 problem, and keeps it from the
    server. Starlette's last resort (ServerErrorMiddleware) answers too, but then raises the
    exception on to the server, which closes the connection: a client's keep-alive connection
    would die with each 500. Installed innermost, so that the middleware around it see the 500
    as any other answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise  # half an answer is out: only closing the connection ends it
            await unexpected_error_response(Request(scope), exc)(scope, receive, send)


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
