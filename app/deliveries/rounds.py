"""A slot's round in the routing engine's terms: the service's vehicles riding from its hub
within the slot, the deliveries booked into it as shipments (from the shop to the customer's
door), each vehicle's stops as the bookings were inserted (`delivery_slots.plan`), and where a
new delivery fits (`logistics.insertion`). The same inputs as a route plan (`PlanInputs`), so
that the cut-off plans what the quotes measured."""

from dataclasses import dataclass
from datetime import datetime, time
from typing import Literal

from app.deliveries.slots import SlotTime
from app.kit.local_time import BRUSSELS
from app.models import Delivery, Vehicle
from app.route_plans.inputs import lonlat, plan_vehicle, straight_line_matrices
from app.route_plans.plan_inputs import LonLat, PlanInputs, PlanShipment, PlanVehicle, PlanVisit
from app.route_plans.problem import PlanProblem, plan_problem
from logistics.insertion import Insertion, cheapest_insertion
from logistics.model import Problem
from logistics.schedule import Step

# Handing the parcels over at a shop's counter, and at the customer's door.
PICKUP_SERVICE_S = 180
DROPOFF_SERVICE_S = 120
# The id of the delivery being quoted, among those booked.
ASKED = "asked"

StoredPlan = dict[str, list[list[str]]]


@dataclass(frozen=True)
class AskedDelivery:
    pickup: LonLat
    dropoff: LonLat
    deliver_from: datetime
    deliver_until: datetime
    weight_kg: float
    volume_m3: float


@dataclass(frozen=True)
class Fit:
    """Where the asked delivery goes in the round, and the round with it."""

    insertion: Insertion
    vehicle: PlanVehicle
    plan: StoredPlan


def _local(moment: datetime) -> time:
    return moment.astimezone(BRUSSELS).time()


def _round_vehicle(row: Vehicle, hub: LonLat, slot: SlotTime) -> PlanVehicle | None:
    """The vehicle as it rides this slot: from the hub and back, within its shift and the
    slot; none when its shift misses the slot."""
    vehicle = plan_vehicle(row, str(row.id))
    start = max(vehicle.shift_start, _local(slot.starts_at))
    end = min(vehicle.shift_end, _local(slot.ends_at))
    if start >= end:
        return None
    return vehicle.model_copy(
        update={"start": hub, "end": hub, "shift_start": start, "shift_end": end}
    )


def _shipment(shipment_id: str, slot: SlotTime, delivery: AskedDelivery) -> PlanShipment:
    return PlanShipment(
        id=shipment_id,
        reference=None,
        pickup=PlanVisit(
            location=delivery.pickup,
            window_from=slot.starts_at,
            window_until=delivery.deliver_until,
            service_s=PICKUP_SERVICE_S,
        ),
        delivery=PlanVisit(
            location=delivery.dropoff,
            window_from=delivery.deliver_from,
            window_until=delivery.deliver_until,
            service_s=DROPOFF_SERVICE_S,
        ),
        load_kg=delivery.weight_kg,
        load_m3=delivery.volume_m3,
    )


def asked_of(row: Delivery) -> AskedDelivery:
    return AskedDelivery(
        pickup=lonlat(row.pickup_location),
        dropoff=lonlat(row.dropoff_location),
        deliver_from=row.deliver_from,
        deliver_until=row.deliver_until,
        weight_kg=row.weight_kg,
        volume_m3=row.volume_m3,
    )


def round_inputs(
    slot: SlotTime,
    hub: LonLat,
    vehicles: list[Vehicle],
    booked: list[Delivery],
    asked: AskedDelivery | None = None,
) -> PlanInputs:
    """The slot's round as a route plan's inputs: its vehicles and its booked deliveries (with
    the asked one, as `ASKED`)."""
    riding = [v for v in (_round_vehicle(row, hub, slot) for row in vehicles) if v is not None]
    shipments = [_shipment(str(row.id), slot, asked_of(row)) for row in booked]
    if asked is not None:
        shipments.append(_shipment(ASKED, slot, asked))
    return PlanInputs(
        version=2, mode="direct", vehicles=tuple(riding), shipments=tuple(shipments), hubs=()
    )


def round_problem(slot: SlotTime, inputs: PlanInputs) -> PlanProblem:
    """The round's problem, on the straight line with Brussels' detour (as a route plan's
    `straight_line` matrix), each vehicle at its own speed."""
    day = slot.starts_at.astimezone(BRUSSELS).date()
    return plan_problem(day, inputs, "distance", straight_line_matrices(inputs))


def steps_of_plan(problem: Problem, plan: StoredPlan) -> dict[str, list[Step]]:
    """Each vehicle's steps as the plan stores them, for the vehicles of the problem."""
    shipments = {s.id: s for s in problem.shipments}
    riding = {v.id for v in problem.vehicles}
    steps: dict[str, list[Step]] = {}
    for vehicle_id, stops in plan.items():
        if vehicle_id not in riding:
            # A vehicle that no longer rides the slot: its stops wait for the cut-off's plan.
            continue
        route = []
        for kind, shipment_id in stops:
            shipment = shipments[shipment_id]
            visit = shipment.pickup if kind == "pickup" else shipment.delivery
            assert visit is not None
            route.append(Step(_kind(kind), shipment, visit))
        steps[vehicle_id] = route
    return steps


def _kind(kind: str) -> Literal["pickup", "delivery"]:
    if kind not in ("pickup", "delivery"):
        raise ValueError(f"a stop is a pickup or a delivery, not {kind!r}")
    return "pickup" if kind == "pickup" else "delivery"


def fit_asked(problem: PlanProblem, plan: StoredPlan) -> Fit | None:
    """Where the asked delivery fits best in the round as booked so far, none when nowhere
    without breaking a capacity, a window, a shift or a range."""
    asked = next(s for s in problem.problem.shipments if s.id == ASKED)
    found = cheapest_insertion(problem.problem, steps_of_plan(problem.problem, plan), asked)
    if found is None:
        return None
    stops = [[step.kind, step.shipment.id] for step in found.steps]
    return Fit(found, problem.vehicles[found.vehicle_id], {**plan, found.vehicle_id: stops})


def booked_as(plan: StoredPlan, delivery_id: str) -> StoredPlan:
    """The plan with the asked delivery named by its id, once booked."""
    return {
        vehicle: [
            [kind, delivery_id if shipment == ASKED else shipment] for kind, shipment in stops
        ]
        for vehicle, stops in plan.items()
    }


def without(plan: StoredPlan, delivery_id: str) -> StoredPlan:
    """The plan without a delivery's stops, the others in their order: on the straight line a
    route without a stop is no longer and no later."""
    return {
        vehicle: [stop for stop in stops if stop[1] != delivery_id]
        for vehicle, stops in plan.items()
    }
