"""A route plan's inputs in the routing engine's terms: the frozen vehicles, shipments and
hubs (`PlanInputs`) and the travel matrices become a `logistics` problem in integers (metres,
seconds from the day's midnight in Brussels, grams, litres, 1/10,000 of a euro), kept with
what turns its answer back (`app.route_plans.translation`)."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from app.kit.local_time import BRUSSELS
from app.route_plans.inputs import is_bike, plan_points, vehicle_profile
from app.route_plans.plan_inputs import LonLat, PlanInputs, PlanTransferHub, PlanVehicle, PlanVisit
from logistics import model
from logistics.matrices import haversine_m
from logistics.model import Matrices
from logistics.two_tier import Tier, TransferHub

# Costs enter the solver as integers in 1/10,000 of a euro.
COST_SCALE = 10_000


@dataclass(frozen=True)
class PlanProblem:
    """The problem of a plan's day, with what turns its answer back into the plan's terms."""

    problem: model.Problem
    # The plan's places in matrix order: a location index is a position here.
    points: list[LonLat]
    # Times in the problem are seconds from it.
    midnight: datetime
    mode: Literal["direct", "two_tier"]
    # The frozen vehicles and hubs by id; the hubs as transfer hubs for a two-tier plan.
    vehicles: dict[str, PlanVehicle]
    hub_inputs: dict[str, PlanTransferHub]
    hubs: list[TransferHub]

    def clock(self, seconds: int) -> datetime:
        return self.midnight + timedelta(seconds=seconds)

    def tier_of(self, vehicle_id: str) -> Tier:
        return "last_mile" if is_bike(self.vehicles[vehicle_id]) else "trunk"


def plan_problem(
    day: date, inputs: PlanInputs, objective: str, matrices: dict[str, Matrices]
) -> PlanProblem:
    """The problem, from the inputs and the matrices of every vehicle profile (rows in
    `plan_points` order)."""
    midnight = datetime.combine(day, time(0), tzinfo=BRUSSELS)
    points = plan_points(inputs)
    index = {p: i for i, p in enumerate(points)}

    def seconds(moment: datetime) -> int:
        return int((moment - midnight).total_seconds())

    def shift_time(value: time) -> int:
        return seconds(datetime.combine(day, value, tzinfo=BRUSSELS))

    def visit(end: PlanVisit) -> model.Visit:
        window = model.Window(max(0, seconds(end.window_from)), max(0, seconds(end.window_until)))
        return model.Visit(index[end.location], window, end.service_s)

    vehicles = [
        model.Vehicle(
            id=v.id,
            start=index[v.start],
            end=index[v.end],
            capacity=(round(v.capacity_kg * 1000), round(v.capacity_m3 * 1000)),
            shift=model.Window(shift_time(v.shift_start), shift_time(v.shift_end)),
            profile=vehicle_profile(v).name,
            range=None if v.range_km is None else round(v.range_km * 1000),
            fixed_cost=round(v.fixed_cost * COST_SCALE),
            cost_per_distance=v.cost_per_km / 1000 * COST_SCALE,
            cost_per_time=v.cost_per_hour / 3600 * COST_SCALE,
            stop_time=v.stop_time_s,
        )
        for v in inputs.vehicles
    ]
    shipments = [
        model.Shipment(
            id=s.id,
            pickup=visit(s.pickup),
            delivery=visit(s.delivery),
            load=(round(s.load_kg * 1000), round(s.load_m3 * 1000)),
        )
        for s in inputs.shipments
    ]
    hubs = [
        TransferHub(
            id=h.id,
            location=index[h.location],
            handling=round(h.handling_min * 60),
            zone=frozenset(
                i
                for i, p in enumerate(points)
                if haversine_m([p, h.location])[0, 1] <= h.zone_radius_km * 1000
            ),
        )
        for h in inputs.hubs
    ]
    return PlanProblem(
        problem=model.Problem(vehicles, shipments, matrices, objective),  # type: ignore[arg-type]
        points=points,
        midnight=midnight,
        mode=inputs.mode,
        vehicles={v.id: v for v in inputs.vehicles},
        hub_inputs={h.id: h for h in inputs.hubs},
        hubs=hubs,
    )
