"""Route plans: the fleet and the shipments are frozen into the plan's inputs; the job
measures the travel matrices, plans the day in a process of its own
(`translation.plan_routes`) and stores the result."""

import time as clock_time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.fleet.service import FLEET_ROLES, build_vehicle, get_vehicle
from app.jobs.child_process import call_in_child_process
from app.jobs.cores import processes_per_plan
from app.jobs.queue import PLANS_QUEUE, JobKind
from app.jobs.quota import reserve_job_slot
from app.jobs.tracked import JobFailure, TrackedJob, run_tracked
from app.kit.field_checks import FieldChecks
from app.kit.owned import OwnedRows
from app.kit.pagination import PageParams, newest_first
from app.kit.principal import Principal
from app.kit.problems import Conflict, FieldError, ValidationFailed
from app.kit.statement_deadline import DeadlinePassed, statement_deadline
from app.models import RoutePlan, Site
from app.roads.routing import road_matrices
from app.route_plans.bounds import check_plan_profiles, check_plan_size
from app.route_plans.inputs import (
    BASELINE_VAN,
    is_bike,
    lonlat,
    plan_points,
    plan_shipment,
    plan_vehicle,
    straight_line_matrices,
    vehicle_profile,
)
from app.route_plans.plan_inputs import PlanInputs, PlanTransferHub, PlanVehicle
from app.route_plans.progress import ProgressWriter
from app.route_plans.road_geometries import add_road_geometries
from app.route_plans.schemas import PlanPhase, PlanStatus, RoutePlanCreate
from app.route_plans.translation import plan_routes
from app.settings import Settings
from app.shipments.service import build_shipment, get_shipment
from app.sites.service import place_of
from app.webhooks.outbox import emit
from logistics.matrices import straight_line

SOLVE_ROUTE_PLAN = JobKind("logistics:solve_route_plan", PLANS_QUEUE)
PLAN_JOB = TrackedJob(SOLVE_ROUTE_PLAN, RoutePlan, "plan_id", "planner", cancellable=True)
PLANS = OwnedRows(RoutePlan, "route plan", order=newest_first)
# Road matrices get the plan's time limit, at least this long, and the search what they left
# of it, at least half.
ROAD_MATRICES_MIN_TIMEOUT_S = 10.0


async def start_plan(
    session: AsyncSession, settings: Settings, principal: Principal, data: RoutePlanCreate
) -> RoutePlan:
    principal.require_role(*FLEET_ROLES)
    check_plan_size(settings, data)
    checks = FieldChecks()
    vehicles = [
        plan_vehicle(await get_vehicle(session, principal, i), str(i)) for i in data.vehicle_ids
    ]
    for k, inline_vehicle in enumerate(data.vehicles, start=1):
        row = await checks.check(
            build_vehicle(session, settings, principal, inline_vehicle), f"vehicles.{k - 1}"
        )
        if row is not None:
            vehicles.append(plan_vehicle(row, f"inline-{k}"))
    shipments = [
        plan_shipment(await get_shipment(session, principal, i), str(i)) for i in data.shipment_ids
    ]
    for k, inline_shipment in enumerate(data.shipments, start=1):
        shipment = await checks.check(
            build_shipment(session, settings, principal, inline_shipment), f"shipments.{k - 1}"
        )
        if shipment is not None:
            shipments.append(plan_shipment(shipment, inline_shipment.reference or f"inline-{k}"))
    if not data.vehicle_ids and not data.vehicles:
        checks.errors.append(FieldError("vehicles", "not_empty", "Give vehicle_ids or vehicles."))
    if not data.shipment_ids and not data.shipments:
        checks.errors.append(
            FieldError("shipments", "not_empty", "Give shipment_ids or shipments.")
        )
    checks.raise_failures()
    check_plan_profiles(settings, {vehicle_profile(v).name for v in vehicles})
    hubs = await _plan_hubs(session, settings, principal, data, vehicles)
    await reserve_job_slot(session, settings, principal.organization_id)
    plan = RoutePlan(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        date=data.date,
        status=PlanStatus.queued.value,
        matrix=data.matrix,
        objective=data.objective,
        time_limit_s=data.time_limit_s,
        mode=data.mode,
        inputs=PlanInputs(
            version=2,
            mode=data.mode,
            vehicles=tuple(vehicles),
            shipments=tuple(shipments),
            hubs=tuple(hubs),
        ).model_dump(mode="json"),
    )
    await PLAN_JOB.queue(session, plan)
    return plan


async def _plan_hubs(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    data: RoutePlanCreate,
    vehicles: list[PlanVehicle],
) -> list[PlanTransferHub]:
    """The transfer hubs of a two-tier plan, which needs them and vehicles of both tiers."""
    if data.mode == "direct":
        if data.hubs:
            raise ValidationFailed.field(
                "hubs", "only_for_two_tier", "Hubs are for mode two_tier; leave them out."
            )
        return []
    if not data.hubs:
        raise ValidationFailed.field(
            "hubs", "required_for_two_tier", "A two_tier plan names at least one hub."
        )
    checks = FieldChecks()
    if {is_bike(v) for v in vehicles} != {True, False}:
        checks.errors.append(
            FieldError(
                "vehicles",
                "both_tiers",
                "A two_tier plan needs vans (or trucks) and cargo bikes (or trikes).",
            )
        )
    locations = [
        await checks.check(
            place_of(session, settings, principal, hub.site_id, hub.location), f"hubs.{k}"
        )
        for k, hub in enumerate(data.hubs)
    ]
    checks.raise_failures()
    hubs = []
    for k, (hub, location) in enumerate(zip(data.hubs, locations, strict=True), start=1):
        name = hub.name
        if name is None and hub.site_id is not None:
            name = (await session.get_one(Site, hub.site_id)).name
        hubs.append(
            PlanTransferHub(
                id=str(hub.site_id) if hub.site_id else f"hub-{k}",
                name=name or f"hub {k}",
                location=lonlat(location),
                zone_radius_km=hub.zone_radius_km,
                handling_min=hub.handling_min,
            )
        )
    return hubs


async def get_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> RoutePlan:
    return await PLANS.readable(session, principal, plan_id)


async def cancel_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> RoutePlan:
    """A queued plan is cancelled now; a running one is asked to stop, which its worker does
    within a second. A plan that is over (done, failed, cancelled) answers 409."""
    plan = await PLANS.writable(session, principal, plan_id)
    if plan.status not in (PlanStatus.queued.value, PlanStatus.running.value):
        raise Conflict(
            f"This plan is {plan.status}: only a queued or running plan can be cancelled."
        )
    now = datetime.now(UTC)
    plan.cancel_requested_at = plan.cancel_requested_at or now
    if plan.status == PlanStatus.queued.value:
        plan.status, plan.finished_at = PlanStatus.cancelled.value, now
    await session.flush()
    return plan


async def list_plans(
    session: AsyncSession, principal: Principal, page: PageParams, status: PlanStatus | None
) -> list[RoutePlan]:
    """The organization's route plans, newest first."""
    filters = [] if status is None else [RoutePlan.status == status.value]
    return await PLANS.page(session, principal, page, *filters)


# What else a plan's completion makes happen, handed in from the layers above (a delivery
# slot's plan settles its deliveries): called in the plan's transaction, its result stored.
PlanDone = Callable[[AsyncSession, RoutePlan], Awaitable[None]]


async def execute_plan(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    plan_id: uuid.UUID,
    attempt: int,
    on_done: PlanDone | None = None,
) -> None:
    """The job: matrices, the search, the figures; or why it failed."""

    progress = ProgressWriter(sessionmaker, plan_id, attempt)

    async def plan_day(session: AsyncSession, plan: RoutePlan) -> None:
        await _plan(session, settings, plan, progress)
        if on_done is not None:
            await on_done(session, plan)

    await run_tracked(sessionmaker, PLAN_JOB, plan_id, attempt, settings.job_max_attempts, plan_day)


async def _plan(
    session: AsyncSession, settings: Settings, plan: RoutePlan, progress: ProgressWriter
) -> None:
    inputs = PlanInputs.model_validate(plan.inputs)
    points = plan_points(inputs)
    profiles = {p.name: p for p in map(vehicle_profile, inputs.vehicles)}
    snapped: dict[str, list[int]] = {}
    started = clock_time.monotonic()
    if plan.matrix == "road":
        await progress.phase(PlanPhase.road_distances.value)
        allowed_s = max(plan.time_limit_s, ROAD_MATRICES_MIN_TIMEOUT_S)
        try:
            async with statement_deadline(session, allowed_s) as deadline:
                matrices, snapped = await road_matrices(
                    deadline,
                    points,
                    [*profiles.values(), BASELINE_VAN],
                    settings.planner_memory_limit_mb,
                    processes=processes_per_plan(settings),
                )
            baseline = matrices.pop(BASELINE_VAN.name)
            snapped.pop(BASELINE_VAN.name)
        except DeadlinePassed as exc:
            raise JobFailure(
                f"The road network took longer than {allowed_s:g} s to measure the distances "
                "between this plan's places; plan fewer places at once, or use the "
                "straight_line matrix."
            ) from exc
    else:
        matrices = straight_line_matrices(inputs)
        baseline = straight_line(points, BASELINE_VAN)
    search_s = max(plan.time_limit_s - (clock_time.monotonic() - started), plan.time_limit_s / 2)
    await progress.phase(PlanPhase.searching.value, search_s=round(search_s, 1))
    # In a process of its own, so that the worker's other jobs go on while the engines
    # search, and a search that eats memory is stopped alone; its engines in the plan slot's
    # share of the worker's cores.
    async with progress.writing_best_plans():
        result = await call_in_child_process(
            plan_routes,
            plan.date,
            inputs,
            plan.objective,
            search_s,
            matrices,
            baseline,
            plan.matrix,
            processes_per_plan(settings),
            plan.initial_routes,
            memory_limit_mb=settings.planner_memory_limit_mb,
            on_message=progress.found,
        )
    if plan.matrix == "road":
        await progress.phase(PlanPhase.drawing_routes.value)
        await add_road_geometries(session, result, snapped, points, inputs.vehicles)
    plan.result = result.model_dump(mode="json")
    await emit(
        session,
        {plan.organization_id},
        "route_plan.completed",
        {
            "route_plan_id": str(plan.id),
            "kpis": result.kpis.model_dump(mode="json"),
            "saving": result.saving.model_dump(mode="json"),
        },
        fact=(plan.id,),
    )
