"""The one error hierarchy, rendered as RFC 9457 problem+json."""

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://boucle.brussels/problems/"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


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
