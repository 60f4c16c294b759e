"""Whether a plan keeps every rule of its problem, re-checked from its stops whatever engine
made it: a plan that breaks one is never answered."""

import itertools

from logistics.model import Problem, Route, Shipment, Solution, Stop, Vehicle


def plan_problems(problem: Problem, solution: Solution) -> list[str]:
    """Every rule the plan breaks, in words; empty when it keeps them all."""
    vehicles = {v.id: v for v in problem.vehicles}
    shipments = {s.id: s for s in problem.shipments}
    found: list[str] = []
    used: set[str] = set()
    served: dict[str, int] = {}
    for route in solution.routes:
        vehicle = vehicles.get(route.vehicle_id)
        if vehicle is None or route.vehicle_id in used:
            found.append(
                f"route of {route.vehicle_id}: not a vehicle of the problem, or used twice"
            )
            continue
        used.add(route.vehicle_id)
        found += route_problems(problem, shipments, vehicle, route)
        for shipment_id in route.shipment_ids:
            served[shipment_id] = served.get(shipment_id, 0) + 1
    unassigned = {u.shipment_id for u in solution.unassigned}
    for shipment_id in shipments:
        times = served.get(shipment_id, 0) + (shipment_id in unassigned)
        if times != 1:
            found.append(f"shipment {shipment_id}: served or left out {times} times, not once")
    found += [f"shipment {s}: not in the problem" for s in served.keys() - shipments.keys()]
    return found


def route_problems(
    problem: Problem, shipments: dict[str, Shipment], vehicle: Vehicle, route: Route
) -> list[str]:
    stops = route.stops
    where = f"route of {vehicle.id}"
    if stops[0].kind != "start" or stops[-1].kind != "end" or len(stops) < 3:
        return [f"{where}: does not go from its start through stops to its end"]
    found = []
    if (stops[0].location, stops[-1].location) != (vehicle.start, vehicle.end):
        found.append(f"{where}: does not start and end at the vehicle's depots")
    if stops[0].departure < vehicle.shift.start or stops[-1].arrival > vehicle.shift.end:
        found.append(f"{where}: outside the shift {vehicle.shift}")
    if vehicle.range is not None and route.distance > vehicle.range:
        found.append(f"{where}: {route.distance} is farther than its range {vehicle.range}")
    for stop in stops:
        if any(q > c or q < 0 for q, c in zip(stop.load, vehicle.capacity, strict=True)):
            found.append(f"{where}: load {stop.load} beyond the capacity {vehicle.capacity}")
    m = problem.matrices[vehicle.profile]
    picked: set[str] = set()
    delivered: set[str] = set()
    for before, stop in itertools.pairwise(stops):
        leg = int(m.distance[before.location, stop.location])
        if stop.distance - before.distance != leg:
            found.append(f"{where}: the distance to stop {stop.shipment_id} is not the road's")
        reached = before.departure + int(m.duration[before.location, stop.location])
        if stop.arrival < reached:
            found.append(f"{where}: reaches {stop.location} before it can get there")
        if stop.kind in ("start", "end") or stop.shipment_id is None:
            continue
        shipment = shipments.get(stop.shipment_id)
        if shipment is None:
            continue
        if shipment.profiles is not None and vehicle.profile not in shipment.profiles:
            found.append(f"{where}: carries {shipment.id}, which its profile may not")
        found += _visit_problems(where, vehicle, before, stop, shipment, picked, delivered)
    for shipment_id in picked - delivered:
        found.append(f"{where}: picks up {shipment_id} and never delivers it")
    return found


def _visit_problems(
    where: str,
    vehicle: Vehicle,
    before: Stop,
    stop: Stop,
    shipment: Shipment,
    picked: set[str],
    delivered: set[str],
) -> list[str]:
    found = []
    if stop.kind == "pickup":
        if shipment.pickup is not None and stop.location != shipment.pickup.location:
            found.append(f"{where}: picks up {shipment.id} elsewhere than its pickup")
        if shipment.id in picked:
            found.append(f"{where}: picks up {shipment.id} twice")
        picked.add(shipment.id)
        visit = shipment.pickup
    else:
        if stop.location != shipment.delivery.location:
            found.append(f"{where}: delivers {shipment.id} elsewhere than its delivery")
        if shipment.pickup is not None and shipment.id not in picked:
            found.append(f"{where}: delivers {shipment.id} before picking it up")
        delivered.add(shipment.id)
        visit = shipment.delivery
    stop_time = vehicle.stop_time if stop.location != before.location else 0
    if stop.start < stop.arrival + stop_time:
        found.append(f"{where}: serves {shipment.id} before it has stopped")
    if visit is not None:
        if not visit.window.start <= stop.start <= visit.window.end:
            found.append(f"{where}: serves {shipment.id} at {stop.start}, outside {visit.window}")
        if stop.departure < stop.start + visit.service:
            found.append(f"{where}: leaves {shipment.id} before its service is done")
    return found
