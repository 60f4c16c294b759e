"""Global matching runs: the candidate graph of `app.candidates.repository`, allocated by
`matching.allocation`, stored as proposed matches. A run proposes; it never reserves, and it
leaves out the pairs that have a match proposed or accepted already, by hand or by a run."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.candidates.repository import candidate_graph
from app.jobs.child_process import call_in_child_process
from app.jobs.queue import PLANS_QUEUE, JobKind
from app.jobs.quota import reserve_job_slot
from app.jobs.tracked import TrackedJob, run_tracked
from app.kit.owned import OwnedRows
from app.kit.pagination import PageParams, newest_first
from app.kit.principal import Principal
from app.matches.service import announce, is_second_proposal, new_match
from app.matching_runs.proposals import Proposal, propose_from_candidate_graph
from app.matching_runs.schemas import RunCreate, RunStatus
from app.materials.service import check_request_material
from app.models import Match, MatchingRun
from app.settings import Settings
from matching.allocation import Allocation, Prices, summarise

RUN_MATCHING = JobKind("matching:run_matching", PLANS_QUEUE)
RUN_JOB = TrackedJob(RUN_MATCHING, MatchingRun, "run_id", "matching run")
RUNS = OwnedRows(MatchingRun, "matching run", order=newest_first)


async def start_run(
    session: AsyncSession, settings: Settings, principal: Principal, data: RunCreate
) -> MatchingRun:
    principal.require_role("admin")
    material = (
        None if data.material is None else await check_request_material(session, data.material)
    )
    await reserve_job_slot(session, settings, principal.organization_id)
    run = MatchingRun(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        material=material,
        area=None if data.near is None else {"near": list(data.near), "radius_km": data.radius_km},
        cost_per_tonne_km=data.cost_per_tonne_km,
        status=RunStatus.queued.value,
    )
    await RUN_JOB.queue(session, run)
    return run


async def get_run(
    session: AsyncSession, principal: Principal, run_id: uuid.UUID
) -> tuple[MatchingRun, list[Match]]:
    run = await RUNS.readable(session, principal, run_id)
    matches = (
        await session.scalars(
            select(Match).where(Match.run_id == run_id).order_by(Match.created_at, Match.id)
        )
    ).all()
    return run, list(matches)


async def list_runs(
    session: AsyncSession, principal: Principal, page: PageParams, status: RunStatus | None
) -> list[MatchingRun]:
    """The runs the principal's organization started, newest first."""
    filters = [] if status is None else [MatchingRun.status == status.value]
    return await RUNS.page(session, principal, page, *filters)


async def execute_run(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    run_id: uuid.UUID,
    attempt: int,
) -> None:
    """The job: allocate and store the proposals, or record why it failed."""

    async def allocate(session: AsyncSession, run: MatchingRun) -> None:
        run.totals = await _allocate(session, settings, run)

    await run_tracked(sessionmaker, RUN_JOB, run_id, attempt, settings.job_max_attempts, allocate)


def _area_parameters(run: MatchingRun) -> dict[str, Any]:
    if run.area is None:
        return {"lon": None, "lat": None, "radius_m": None}
    lon, lat = run.area["near"]
    radius = run.area.get("radius_km")
    return {"lon": lon, "lat": lat, "radius_m": None if radius is None else radius * 1000}


async def _allocate(session: AsyncSession, settings: Settings, run: MatchingRun) -> dict[str, Any]:
    columns, rows = await candidate_graph(session, run.material, **_area_parameters(run))
    active = select(Match.offer_id, Match.request_id).where(
        Match.status.in_(("proposed", "accepted"))
    )
    taken = {
        (str(offer_id), str(request_id)) for offer_id, request_id in await session.execute(active)
    }
    prices = Prices(cost_per_tkm=run.cost_per_tonne_km)
    # Scored and allocated in a process of its own, like the route plans' searches.
    planned = await call_in_child_process(
        propose_from_candidate_graph,
        columns,
        rows,
        taken,
        prices,
        memory_limit_mb=settings.planner_memory_limit_mb,
    )
    stored: list[Allocation] = []
    co2_kg = 0.0
    for proposal in planned.proposals:
        if await _store_proposal(session, run, proposal):
            stored.append(proposal.allocation)
            co2_kg += proposal.candidate.co2_kg
    # The totals are those of the proposals stored.
    result = summarise(stored, prices)
    return {
        "matches": len(result.allocations),
        "matched_kg": round(result.matched_kg, 1),
        "tonne_km": round(result.tonne_km, 3),
        "transport_km": round(sum(a.distance_km for a in result.allocations), 3),
        "co2_kg": round(co2_kg, 3),
        "net_value": round(result.net_value, 4),
        "candidate_graph": {
            "offers": planned.offers,
            "requests": planned.requests,
            "arcs": planned.arcs,
        },
        "pairs_too_small": planned.pairs_too_small,
    }


async def _store_proposal(session: AsyncSession, run: MatchingRun, proposal: Proposal) -> bool:
    """Stores the proposal and tells both sides, unless its pair was proposed by hand while
    the run allocated (the pair's waiting proposal stands, and the run's is left out)."""
    candidate = proposal.candidate
    match = new_match(candidate, proposal.quantity, proposed_by="run")
    match.run_id = run.id
    try:
        async with session.begin_nested():
            session.add(match)
    except IntegrityError as exc:
        if not is_second_proposal(exc):
            raise
        return False
    sides = {
        uuid.UUID(candidate.pair.offer_organization_id),
        uuid.UUID(candidate.pair.request_organization_id),
    }
    await announce(session, match, "match.proposed", sides)
    return True
