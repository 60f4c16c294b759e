"""The engine's answer to a route plan in the plan's terms (ids, [lon, lat], local times, kg,
m3, km, EUR), with its figures against the baseline van; and `plan_routes`, the whole plan
of a day from the frozen inputs and the matrices, which the job runs in a process of its
own: `PlanInputs` in, `RoutePlanResult` out, the one place where the engines' answer becomes
the result."""

from datetime import date
from typing import Any

from app.route_plans.plan_inputs import PlanInputs
from app.route_plans.problem import COST_SCALE, PlanProblem, plan_problem
from app.route_plans.result_schema import (
    Baseline,
    EngineAnswer,
    HubTransfer,
    Kpis,
    KpisByTier,
    PlanKpis,
    PlannedRoute,
    PlannedStop,
    RoutePlanResult,
    Saving,
    SolverRun,
    UnassignedShipment,
)
from logistics import model, solve
from logistics.kpis import PlanFigures, RouteFigures, plan_figures
from logistics.model import Matrices, Solution
from logistics.progress import Sink
from logistics.schedule import plan_along
from logistics.two_tier import (
    Tier,
    Transfer,
    TwoTierSolution,
    leg_id,
    solve_two_tier,
    split_leg_id,
)

BASELINE = "each assigned shipment carried alone by a diesel van from its pickup to its delivery"


def plan_routes(
    day: date,
    inputs: PlanInputs,
    objective: str,
    time_limit_s: float,
    matrices: dict[str, Matrices],
    baseline: Matrices,
    matrix: str,
    processes: int | None = None,
    initial_routes: dict[str, list[list[str]]] | None = None,
    report: Sink | None = None,
) -> RoutePlanResult:
    """The plan of one day, from the frozen inputs and the matrices of every vehicle profile
    and of the baseline van (rows in `plan_points` order), searched in `processes` processes
    at once (every core by default). `report` hears of the engines' better plans as they
    go. A direct plan with `initial_routes` (each vehicle's stops, `[kind, shipment id]`) never
    leaves out more than they do."""
    planned = plan_problem(day, inputs, objective, matrices)
    answer: Solution | TwoTierSolution
    if planned.mode == "two_tier":
        bikes = frozenset(
            v.profile for v in planned.problem.vehicles if planned.tier_of(v.id) == "last_mile"
        )
        answer = solve_two_tier(
            planned.problem, planned.hubs, bikes, time_limit_s, report, processes=processes
        )
    else:
        initial = (
            None
            if initial_routes is None
            else plan_along(
                planned.problem,
                {v: [(kind, sid) for kind, sid in stops] for v, stops in initial_routes.items()},
            )
        )
        answer = solve(
            planned.problem, time_limit_s, processes=processes, report=report, initial=initial
        )
    return plan_result(planned, answer, baseline, matrix)


def plan_result(
    planned: PlanProblem, answer: Solution | TwoTierSolution, baseline: Matrices, matrix: str
) -> RoutePlanResult:
    """The engine's answer in the plan's terms, with its figures against the baseline van
    (matrices in `plan_points` order). A plan that serves nothing has no routes, zero
    figures, and every shipment in `unassigned`."""
    two_tier, solution = (
        (answer, answer.solution) if isinstance(answer, TwoTierSolution) else (None, answer)
    )
    via_hub = two_tier.via_hub if two_tier is not None else {}
    left_out = {u.shipment_id for u in solution.unassigned}
    shipments = planned.problem.shipments
    mass_g = {s.id: s.load[0] for s in shipments}
    mass_g |= {leg_id(s, tier): mass_g[s] for s in via_hub for tier in ("trunk", "last_mile")}
    co2_per_km = {i: v.co2_g_per_km / 1000 for i, v in planned.vehicles.items()}
    legs = {
        s.id: (s.pickup.location, s.delivery.location)
        for s in shipments
        if s.pickup and s.id not in left_out
    }
    figures = plan_figures(solution.routes, co2_per_km, mass_g, legs, baseline)
    routes = [
        _route(planned, route, fig, two_tier is not None)
        for route, fig in zip(solution.routes, figures.routes, strict=True)
    ]
    co2_by_shipment: dict[str, float] = {}
    for key, co2 in figures.co2_kg_by_shipment.items():
        shipment_id, _ = split_leg_id(key)
        co2_by_shipment[shipment_id] = round(co2_by_shipment.get(shipment_id, 0.0) + co2, 4)
    result = RoutePlanResult(
        matrix=matrix,
        mode=planned.mode,
        routes=routes,
        unassigned=[
            UnassignedShipment(shipment_id=u.shipment_id, reason=u.reason, detail=u.detail)
            for u in solution.unassigned
        ],
        kpis=PlanKpis(**_kpis(figures)),
        co2_kg_by_shipment=co2_by_shipment,
        baseline=Baseline(
            description=BASELINE,
            km=round(figures.baseline_km, 3),
            co2_kg=round(figures.baseline_co2_kg, 3),
        ),
        saving=Saving(**figures.saving),
        solver=_solver(planned.problem.objective, solution, two_tier),
    )
    if two_tier is not None:

        def tier_kpis(tier: Tier) -> Kpis:
            chosen = [r for r in solution.routes if planned.tier_of(r.vehicle_id) == tier]
            return Kpis(**_kpis(plan_figures(chosen, co2_per_km, mass_g, {}, baseline)))

        result.kpis.by_tier = KpisByTier(trunk=tier_kpis("trunk"), last_mile=tier_kpis("last_mile"))
        result.via_hub = via_hub
        result.transfers = [_transfer(planned, t) for t in two_tier.transfers]
        result.compared_costs_eur = {
            plan: round(cost / COST_SCALE, 2) for plan, cost in two_tier.compared.items()
        }
    return result


def _route(
    planned: PlanProblem, route: model.Route, figures: RouteFigures, two_tier: bool
) -> PlannedRoute:
    vehicle = planned.vehicles[route.vehicle_id]
    stops = []
    for stop in route.stops:
        shipment_id, leg = split_leg_id(stop.shipment_id) if stop.shipment_id else (None, None)
        stops.append(
            PlannedStop(
                kind=stop.kind,
                shipment_id=shipment_id,
                location=planned.points[stop.location],
                arrival=planned.clock(stop.arrival),
                start=planned.clock(stop.start),
                departure=planned.clock(stop.departure),
                load_kg=stop.load[0] / 1000,
                load_m3=stop.load[1] / 1000,
                km=round(stop.distance / 1000, 3),
                leg=(leg or "door_to_door") if two_tier and shipment_id is not None else None,
            )
        )
    return PlannedRoute(
        vehicle_id=route.vehicle_id,
        vehicle_name=vehicle.name,
        vehicle_type=vehicle.type.value,
        km=round(figures.km, 3),
        hours=round(figures.hours, 3),
        co2_kg=round(figures.co2_kg, 3),
        tonne_km=round(figures.tonne_km, 3),
        stops=stops,
        tier=planned.tier_of(route.vehicle_id) if two_tier else None,
    )


def _kpis(figures: PlanFigures) -> dict[str, Any]:
    return {
        "km": round(figures.km, 3),
        "hours": round(figures.hours, 3),
        "vehicles": figures.vehicles,
        "co2_kg": round(figures.co2_kg, 3),
        "tonne_km": round(figures.tonne_km, 3),
    }


def _solver(objective: str, solution: Solution, two_tier: TwoTierSolution | None) -> SolverRun:
    # A two-tier plan searches and compares its plans by cost, whatever the objective.
    searched = "cost" if two_tier is not None else objective
    unit = COST_SCALE if searched == "cost" else 1000
    return SolverRun(
        seconds=round(solution.stats.get("seconds", 0), 2),
        objective=objective,
        engine=solution.engine,
        engines=[
            EngineAnswer(
                engine=run.engine,
                feasible=run.feasible,
                vehicles=run.vehicles,
                km=round(run.distance / 1000, 3),
                unassigned=run.unassigned,
                objective_value=round(run.objective / unit, 3),
            )
            for run in solution.runs
        ],
        decided_by="cost" if two_tier is not None else None,
        chosen=two_tier.chosen if two_tier is not None else None,
    )


def _transfer(planned: PlanProblem, transfer: Transfer) -> HubTransfer:
    hub = planned.hub_inputs[transfer.hub_id]
    return HubTransfer(
        shipment_id=transfer.shipment_id,
        hub_id=transfer.hub_id,
        hub_name=hub.name,
        location=hub.location,
        inbound_vehicle_id=transfer.inbound_vehicle_id,
        unloaded_at=planned.clock(transfer.inbound_ready),
        outbound_vehicle_id=transfer.outbound_vehicle_id,
        loaded_at=planned.clock(transfer.outbound_start),
    )
