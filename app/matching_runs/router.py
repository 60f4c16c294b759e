import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth import CurrentPrincipal
from app.gateway.idempotency import IdempotencyKey
from app.kit.pagination import Page, creation_key, page_links
from app.kit.problem_docs import AUTHENTICATED, JOB_QUOTA, WRITE, problems
from app.kit.request_session import Session
from app.matches.views import match_views
from app.matching_runs import service
from app.matching_runs.schemas import Run, RunCreate, RunPage, RunStatus, run_summary_view, run_view
from app.settings import AppSettings

router = APIRouter(prefix="/v1/matching/runs", tags=["matching"])
_NO_RUN = {404: "No matching run of your organization with this id."}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[IdempotencyKey],
    summary="Start a global allocation over open offers and requests (role admin)",
    description="Runs as a job on the queue: poll the `Location` until `status` is done. The "
    "allocation splits quantities across offers and requests to maximise the matched mass net "
    "of `cost_per_tonne_km`, as a min-cost flow (OR-Tools) over the candidate graph, every lot "
    "at least the offer's min lot. It proposes matches; both sides still accept them. Needs "
    "the admin role (403); an organization with as many plans and runs queued or running as "
    "it may have answers 429 with `Retry-After`.",
    responses=problems(*AUTHENTICATED, *WRITE, 403, says={429: JOB_QUOTA}),
)
async def start_run(
    data: RunCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> Run:
    run = await service.start_run(session, settings, principal, data)
    response.headers["Location"] = f"/v1/matching/runs/{run.id}"
    return run_view(run, [])


@router.get(
    "",
    summary="Your organization's matching runs, newest first",
    description="The runs your organization started, newest first, optionally of one "
    "`status`, without their proposals (GET a run for its matches); a full page has a `next` "
    "link. Runs of another organization never appear; an organization that started none "
    "answers an empty list.",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_runs(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    page: Page,
    status: Annotated[RunStatus | None, Query(description="Only runs in this status.")] = None,
) -> RunPage:
    rows = await service.list_runs(session, principal, page, status)
    return RunPage(
        items=[run_summary_view(r) for r in rows],
        links=page_links(request, page, rows, creation_key),
    )


@router.get(
    "/{run_id}",
    summary="A matching run: its status, then its proposals and totals",
    description="The run your organization started: `queued` or `running` until a worker is "
    "done with it, then `done` with its totals and the matches it proposed, or `failed` with "
    "the reason. Another organization's run answers 404.",
    responses=problems(*AUTHENTICATED, 422, says=_NO_RUN),
)
async def read_run(run_id: uuid.UUID, principal: CurrentPrincipal, session: Session) -> Run:
    run, matches = await service.get_run(session, principal, run_id)
    return run_view(run, await match_views(session, matches))
