"""Global matching runs: the candidate graph of `matching.candidates`, allocated by
`matching.allocation`, stored as proposed matches. A run proposes; it never reserves."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import Principal
from app.candidates.service import pair_from_row
from app.errors import NotFound
from app.jobs import defer_in_transaction
from app.matches.service import announce, new_match
from app.matching_runs.schemas import RunCreate, RunStatus
from app.materials.service import check_request_material
from app.models import Match, MatchingRun
from matching.allocation import Arc, Demand, Prices, Supply, allocate_offers_to_requests
from matching.candidates import CANDIDATE_GRAPH
from matching.scoring import DETOUR_FACTOR, Candidate, remaining_mass_kg, score_candidate

RUN_MATCHING = "matching:run_matching"


async def start_run(session: AsyncSession, principal: Principal, data: RunCreate) -> MatchingRun:
    principal.require_role("admin")
    run = MatchingRun(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        material=None
        if data.material is None
        else await check_request_material(session, data.material),
        area=None if data.near is None else {"near": list(data.near), "radius_km": data.radius_km},
        cost_per_tonne_km=data.cost_per_tonne_km,
        status=RunStatus.queued.value,
    )
    session.add(run)
    await session.flush()
    await defer_in_transaction(session, RUN_MATCHING, {"run_id": str(run.id)})
    await session.commit()
    return run


async def get_run(
    session: AsyncSession, principal: Principal, run_id: uuid.UUID
) -> tuple[MatchingRun, list[Match]]:
    run = await session.get(MatchingRun, run_id)
    if run is None or run.organization_id != principal.organization_id:
        raise NotFound(f"No matching run {run_id}.")
    matches = (
        await session.scalars(
            select(Match).where(Match.run_id == run_id).order_by(Match.created_at, Match.id)
        )
    ).all()
    return run, list(matches)


async def execute_run(sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID) -> None:
    """The job: allocate and store the proposals, or record why it failed."""
    async with sessionmaker() as session:
        run = await session.get(MatchingRun, run_id)
        if run is None or run.status not in (RunStatus.queued.value, RunStatus.running.value):
            return
        run.status, run.started_at = RunStatus.running.value, datetime.now(UTC)
        await session.commit()
        try:
            run.totals = await _allocate(session, run)
            run.status, run.finished_at = RunStatus.done.value, datetime.now(UTC)
            await session.commit()
        except Exception as exc:
            await session.rollback()
            failed = await session.get_one(MatchingRun, run_id)
            failed.status, failed.error, failed.finished_at = (
                RunStatus.failed.value,
                repr(exc)[:500],
                datetime.now(UTC),
            )
            await session.commit()
            raise


def _area_parameters(run: MatchingRun) -> dict[str, Any]:
    if run.area is None:
        return {"lon": None, "lat": None, "radius_m": None}
    lon, lat = run.area["near"]
    radius = run.area.get("radius_km")
    return {"lon": lon, "lat": lat, "radius_m": None if radius is None else radius * 1000}


async def _allocate(session: AsyncSession, run: MatchingRun) -> dict[str, Any]:
    rows = (
        (
            await session.execute(
                text(CANDIDATE_GRAPH), {"family": run.material, **_area_parameters(run)}
            )
        )
        .mappings()
        .all()
    )
    active = select(Match.offer_id, Match.request_id).where(
        Match.status.in_(("proposed", "accepted"))
    )
    taken = {(offer_id, request_id) for offer_id, request_id in await session.execute(active)}
    # The flow works in kilograms: pairs whose mass is unknown are left to be matched by hand.
    candidates: dict[tuple[str, str], Candidate] = {}
    for row in rows:
        candidate = score_candidate(pair_from_row(row))
        if (
            candidate is None
            or candidate.mass_kg is None
            or (row["offer_id"], row["request_id"]) in taken
        ):
            continue
        candidates[(candidate.pair.offer_id, candidate.pair.request_id)] = candidate
    supplies: dict[str, Supply] = {}
    demands: dict[str, Demand] = {}
    for candidate in candidates.values():
        p = candidate.pair
        offer_mass = (
            remaining_mass_kg(p.offer_quantity, p.offer_remaining, p.offer_unit, p.offer_mass_kg)
            or 0.0
        )
        lot = 0.0 if p.offer_min_lot is None else offer_mass * p.offer_min_lot / p.offer_remaining
        supplies[p.offer_id] = Supply(p.offer_id, offer_mass, lot)
        request_mass = remaining_mass_kg(
            p.request_quantity, p.request_remaining, p.request_unit, p.request_mass_kg
        )
        demands[p.request_id] = Demand(p.request_id, request_mass or 0.0)
    arcs = [Arc(o, r, c.pair.distance_m / 1000 * DETOUR_FACTOR) for (o, r), c in candidates.items()]
    result = allocate_offers_to_requests(
        list(supplies.values()),
        list(demands.values()),
        arcs,
        Prices(cost_per_tkm=run.cost_per_tonne_km),
    )
    co2_kg = 0.0
    for allocation in result.allocations:
        candidate = candidates[(allocation.supply_id, allocation.demand_id)]
        quantity = (
            candidate.pair.request_remaining
            * allocation.mass_kg
            / demands[allocation.demand_id].mass_kg
        )
        match = new_match(candidate, quantity, proposed_by="run")
        match.run_id = run.id
        session.add(match)
        await session.flush()
        sides = {
            uuid.UUID(candidate.pair.offer_organization_id),
            uuid.UUID(candidate.pair.request_organization_id),
        }
        await announce(session, match, "match.proposed", sides)
        co2_kg += candidate.co2_kg
    return {
        "matches": len(result.allocations),
        "matched_kg": round(result.matched_kg, 1),
        "tonne_km": round(result.tonne_km, 3),
        "transport_km": round(sum(a.distance_km for a in result.allocations), 3),
        "co2_kg": round(co2_kg, 3),
        "net_value": round(result.net_value, 4),
        "candidate_graph": {"offers": len(supplies), "requests": len(demands), "arcs": len(arcs)},
    }
