"""A route's stops timed from the order of its visits alone, the same whichever engine chose
that order: each stop as early as the travel, the vehicle's stop time and the windows allow,
and the start as late as the first stop allows, rather than waiting at the depot."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from logistics.model import Problem, Route, Shipment, Solution, Stop, Unassigned, Vehicle, Visit


@dataclass(frozen=True)
class Step:
    kind: Literal["pickup", "delivery"]
    shipment: Shipment
    # Where and when; a shipment without a pickup may be given one at a depot by an engine.
    visit: Visit


def steps_of(order: list[tuple[Literal["pickup", "delivery"], Shipment]]) -> list[Step]:
    """The steps of shipments visited at their own pickup and delivery."""
    steps = []
    for kind, shipment in order:
        visit = shipment.delivery if kind == "delivery" else shipment.pickup
        assert visit is not None, f"shipment {shipment.id} has no pickup"
        steps.append(Step(kind, shipment, visit))
    return steps


def route_along(problem: Problem, vehicle: Vehicle, steps: list[Step]) -> Route:
    """The route of `vehicle` through `steps`. What has no pickup step is on board from the
    start. Times are not checked against the windows here (see `logistics.check`)."""
    matrices = problem.matrices[vehicle.profile]
    picked = {s.shipment.id for s in steps if s.kind == "pickup"}
    load = [0] * len(vehicle.capacity)
    for step in steps:
        if step.kind == "delivery" and step.shipment.id not in picked:
            load = [a + b for a, b in zip(load, step.shipment.load, strict=True)]
    start = vehicle.shift.start
    stops = [Stop("start", vehicle.start, None, start, start, start, tuple(load), 0)]
    here, departure, travelled = vehicle.start, start, 0
    first_wait = 0
    for step in steps:
        where = step.visit.location
        arrival = departure + int(matrices.duration[here, where])
        # Finding a place to stop once serves every shipment handled there.
        ready = arrival + (vehicle.stop_time if where != here else 0)
        begins = max(ready, step.visit.window.start)
        if len(stops) == 1:
            first_wait = begins - ready
        sign = 1 if step.kind == "pickup" else -1
        load = [a + sign * b for a, b in zip(load, step.shipment.load, strict=True)]
        travelled += int(matrices.distance[here, where])
        departure = begins + step.visit.service
        stops.append(
            Stop(
                step.kind,
                where,
                step.shipment.id,
                arrival,
                begins,
                departure,
                tuple(load),
                travelled,
            )
        )
        here = where
    arrival = departure + int(matrices.duration[here, vehicle.end])
    travelled += int(matrices.distance[here, vehicle.end])
    stops.append(Stop("end", vehicle.end, None, arrival, arrival, arrival, tuple(load), travelled))
    if first_wait > 0:
        # Leave the start as late as the first stop allows, rather than wait there.
        stops[0] = replace(
            stops[0],
            arrival=start + first_wait,
            start=start + first_wait,
            departure=start + first_wait,
        )
        stops[1] = replace(stops[1], arrival=stops[1].arrival + first_wait)
    return Route(vehicle.id, stops)


def plan_along(problem: Problem, orders: Mapping[str, Sequence[tuple[str, str]]]) -> Solution:
    """The plan whose vehicles visit, each in its order, the (`pickup` or `delivery`, shipment
    id) of `orders`; the shipments of the problem it visits nowhere, or only with a vehicle
    the problem no longer has, are left out. Its rules are not checked here (see
    `logistics.check`)."""
    shipments = {s.id: s for s in problem.shipments}
    vehicles = {v.id: v for v in problem.vehicles}
    orders = {v: order for v, order in orders.items() if v in vehicles and order}
    routes = []
    for vehicle_id, order in orders.items():
        steps = steps_of(
            [("pickup" if kind == "pickup" else "delivery", shipments[sid]) for kind, sid in order]
        )
        routes.append(route_along(problem, vehicles[vehicle_id], steps))
    served = {sid for order in orders.values() for _, sid in order}
    left_out = [
        Unassigned(s.id, "no_room", "The plan it started from left it out.")
        for s in problem.shipments
        if s.id not in served
    ]
    return Solution(routes, left_out, float(sum(r.distance for r in routes)), "solved")
