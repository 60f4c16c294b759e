from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from app.health import service
from app.kit.problem_docs import problems
from app.kit.problems import ServiceUnavailable
from app.kit.request_session import Session

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"] = Field(description="Always `ok`: the process answers.")


class Readiness(BaseModel):
    ready: bool = Field(description="True: the database answers and its schema is at head.")
    database: str = Field(description="`reachable`, or `unreachable or not migrated`.")
    migration: str | None = Field(
        default=None, description="The database's migration (Alembic revision)."
    )
    migration_head: str | None = Field(default=None, description="The migration this code expects.")
    error: str | None = Field(default=None, description="When unreachable: the kind of error met.")


@router.get(
    "/healthz",
    summary="Liveness: the process answers",
    description='Answers 200 `{"status": "ok"}` whenever the process serves requests; '
    "it reads nothing, so a database outage does not fail it. For a liveness probe.",
)
async def healthz() -> Liveness:
    return Liveness(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: the database answers and its migrations are at head",
    description="200 with the database's migration when it answers and its schema is at the "
    "migrations' head; otherwise 503 problem+json with the same members (`ready` false), so "
    "that a load balancer sends no traffic here meanwhile. For a readiness probe.",
    responses=problems(
        503,
        says={
            503: "Not ready: the database is out of reach, or its migrations are not at head "
            "(`ready`, `database`, `migration` and `migration_head` say which)."
        },
    ),
)
async def readyz(request: Request, session: Session) -> Any:
    state = Readiness.model_validate(
        await service.readiness(session, request.app.state.migration_head)
    )
    if state.ready:
        return state
    not_ready = ServiceUnavailable(
        "Not ready: the database is out of reach or its migrations are not at head.",
        headers={"Retry-After": "5"},
        **state.model_dump(),
    )
    # Raised, not returned: the request's transaction, which may have failed, is rolled back.
    raise not_ready
