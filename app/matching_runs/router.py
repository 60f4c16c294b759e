import uuid

from fastapi import APIRouter, Response, status

from app.auth import CurrentPrincipal
from app.dependencies import AppSettings, Session
from app.errors import JOB_QUOTA_RESPONSES, PROBLEM_RESPONSES
from app.kit.idempotency import IdempotencyKey
from app.matches.schemas import match_view
from app.matching_runs import service
from app.matching_runs.schemas import Run, RunCreate
from app.models import Match, MatchingRun

router = APIRouter(prefix="/v1/matching/runs", tags=["matching"], responses=PROBLEM_RESPONSES)


def _run(run: MatchingRun, matches: list[Match]) -> Run:
    data = {name: getattr(run, name) for name in Run.model_fields if hasattr(run, name)}
    return Run.model_validate({**data, "matches": [match_view(m) for m in matches]})


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[IdempotencyKey],
    responses=JOB_QUOTA_RESPONSES,
    summary="Start a global allocation over open offers and requests (role admin)",
    description="Runs as a job on the queue: poll the `Location` until `status` is done. The "
    "allocation splits quantities across offers and requests to maximise the matched mass net "
    "of `cost_per_tonne_km`, as a min-cost flow (OR-Tools) over the candidate graph, every lot "
    "at least the offer's min lot. It proposes matches; both sides still accept them.",
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
    return _run(run, [])


@router.get("/{run_id}", summary="A matching run: its status, then its proposals and totals")
async def read_run(run_id: uuid.UUID, principal: CurrentPrincipal, session: Session) -> Run:
    run, matches = await service.get_run(session, principal, run_id)
    return _run(run, matches)
