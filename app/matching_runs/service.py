"""Global matching runs: the candidate graph of `app.candidates.graph`, allocated by
`matching.allocation`, stored as proposed matches. A run proposes; it never reserves, and it
leaves out the pairs that have a match proposed or accepted already, by hand or by a run."""

import logging
import time
import uuid
from functools import partial
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.jobs.child_process import call_in_child_process
from app.jobs.queue import PLANS_QUEUE, JobKind
from app.jobs.quota import reserve_job_slot
from app.jobs.tracked import TrackedJob, run_tracked
from app.kit.owned import OwnedRows
from app.kit.pagination import PageParams, newest_first
from app.kit.principal import Principal
from app.matches.schemas import MatchStatus
from app.matches.service import match_values
from app.matches.terms import announce_each
from app.matching_runs.proposals import RunProposals, Step, propose_for_run
from app.matching_runs.schemas import RunCreate, RunStatus
from app.materials.service import check_request_material
from app.models import Match, MatchingRun
from app.settings import Settings
from matching.allocation import Allocation, Prices, summarise

RUN_MATCHING = JobKind("matching:run_matching", PLANS_QUEUE)
RUN_JOB = TrackedJob(RUN_MATCHING, MatchingRun, "run_id", "matching run")
RUNS = OwnedRows(MatchingRun, "matching run", order=newest_first)

log = logging.getLogger(__name__)


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
    prices = Prices(cost_per_tkm=run.cost_per_tonne_km)
    # Read, scored and allocated in a process of its own, like the route plans' searches: the
    # graph never crosses the worker's event loop.
    planned = await call_in_child_process(
        propose_for_run,
        settings.database_url,
        {"family": run.material, **_area_parameters(run)},
        prices,
        memory_limit_mb=settings.planner_memory_limit_mb,
        on_message=partial(_log_step, run.id),
    )
    started = time.perf_counter()
    stored, co2_kg = await _store_proposals(session, run, planned)
    _log_step(
        run.id,
        Step("writing the proposals", time.perf_counter() - started, f"{len(stored):,} stored"),
    )
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


def _log_step(run_id: uuid.UUID, step: Step) -> None:
    cpu = "" if step.cpu_seconds is None else f", {step.cpu_seconds:.3f} s of processor"
    log.info(
        "matching run %s: %s in %.3f s%s (%s)", run_id, step.name, step.seconds, cpu, step.detail
    )


async def _store_proposals(
    session: AsyncSession, run: MatchingRun, planned: RunProposals
) -> tuple[list[Allocation], float]:
    """Stores the proposals and tells both sides, a batch at a time (so that the event loop
    turns between batches), leaving out the pairs proposed by hand while the run allocated
    (the pair's waiting proposal stands, and the run's is left out). The allocations stored,
    in order, and their CO2 in kg: each batch's proposals (a few objects each) are let go as
    soon as stored, so that the garbage collector's full collections, which walk every object
    the worker holds, loop held, do not walk thousands of them at the run's end."""
    stored: list[Allocation] = []
    co2_kg = 0.0
    for batch in planned.proposals():
        rows = [
            {**match_values(p.candidate, p.quantity, proposed_by="run"), "run_id": run.id}
            for p in batch
        ]
        inserted = set(
            await session.scalars(
                insert(Match)
                .on_conflict_do_nothing(
                    index_elements=[Match.offer_id, Match.request_id],
                    # A literal, as in the index, for PostgreSQL to infer it.
                    index_where=text(f"status = '{MatchStatus.proposed.value}'"),
                )
                .returning(Match.id),
                rows,
            )
        )
        kept = [(p, row["id"]) for p, row in zip(batch, rows, strict=True) if row["id"] in inserted]
        await announce_each(
            session,
            "match.proposed",
            [
                (
                    match_id,
                    {
                        uuid.UUID(p.candidate.pair.offer_organization_id),
                        uuid.UUID(p.candidate.pair.request_organization_id),
                    },
                )
                for p, match_id in kept
            ],
        )
        stored.extend(p.allocation for p, _ in kept)
        co2_kg += sum(p.candidate.co2_kg for p, _ in kept)
    return stored, co2_kg
