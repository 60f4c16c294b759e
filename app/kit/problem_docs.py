"""The problems in the OpenAPI document: the schema of a problem, what each status means where
an operation says no more, and the answers each operation declares."""

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from app.kit.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE


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
