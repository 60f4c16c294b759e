"""Where a new shipment fits best into routes already planned, without moving anything else:
the cheapest insertion of its pickup and its delivery that keeps every rule of the problem
(capacity, windows, shift, range), what a delivery quote needs in a fraction of a second where a
search takes a plan's whole time limit. A plan made of such insertions is where the cut-off's
search starts.

For each vehicle, the stops of its route are timed once (`route_along`), and from the end back
each stop's latest start that keeps the rest of the route on time; a pickup and a delivery put
between two stops then only need the stops between them timed again, forward, and the first
stop after the delivery compared with its latest start. The route chosen is timed and checked
again in full (`logistics.check`), so a route this answers always keeps the rules."""

from collections.abc import Mapping
from dataclasses import dataclass

from logistics.check import route_problems
from logistics.model import Problem, Shipment, Vehicle, Visit
from logistics.schedule import Step, route_along


@dataclass(frozen=True)
class Insertion:
    vehicle_id: str
    # The vehicle's steps with the shipment's pickup and delivery among them.
    steps: list[Step]
    # How much longer the vehicle's route is with the shipment.
    added_distance: int


def cheapest_insertion(
    problem: Problem, routes: Mapping[str, list[Step]], shipment: Shipment
) -> Insertion | None:
    """The insertion of `shipment` (which has a pickup) into one of `routes` (each vehicle's
    steps; a vehicle without any rides empty) that adds the least distance, none when no
    vehicle of `problem` can take it without breaking a rule."""
    if shipment.pickup is None:
        raise ValueError(f"shipment {shipment.id} has no pickup to insert")
    best: Insertion | None = None
    for vehicle in problem.vehicles:
        if shipment.profiles is not None and vehicle.profile not in shipment.profiles:
            continue
        found = _cheapest_in_route(problem, vehicle, routes.get(vehicle.id, []), shipment)
        if found is not None and (best is None or found.added_distance < best.added_distance):
            best = found
    return best


def _cheapest_in_route(
    problem: Problem, vehicle: Vehicle, steps: list[Step], shipment: Shipment
) -> Insertion | None:
    assert shipment.pickup is not None
    pickup, delivery, load = shipment.pickup, shipment.delivery, shipment.load
    capacity = vehicle.capacity
    if any(q > c for q, c in zip(load, capacity, strict=True)):
        return None
    m = problem.matrices[vehicle.profile]
    distance, duration = m.distance, m.duration
    stops = route_along(problem, vehicle, steps).stops
    last = len(stops) - 1
    where = [stop.location for stop in stops]
    loads = [stop.load for stop in stops]
    # Each stop's window and service: the start's and the end's are the shift.
    visits = [Visit(vehicle.start, vehicle.shift)] + [step.visit for step in steps]
    opens = [visit.window.start for visit in visits] + [vehicle.shift.start]
    closes = [visit.window.end for visit in visits] + [vehicle.shift.end]
    service = [visit.service for visit in visits] + [0]
    # The start leaves at the shift's start at the earliest (`route_along` may leave it later).
    departs = [vehicle.shift.start] + [stop.departure for stop in stops[1:]]

    def travel(here: int, there: int, to_end: bool = False) -> int:
        """From leaving `here` to being ready to serve at `there`: the trip and the stop."""
        stop = 0 if to_end or here == there else vehicle.stop_time
        return int(duration[here, there]) + stop

    # The latest each stop may start and the rest of the route still keep its windows.
    latest = [0] * len(stops)
    latest[last] = vehicle.shift.end
    for k in range(last - 1, -1, -1):
        ahead = latest[k + 1] - travel(where[k], where[k + 1], k + 1 == last) - service[k]
        latest[k] = min(closes[k], ahead)

    def on_time_after(departure: int, here: int, k: int) -> bool:
        """Whether leaving `here` at `departure` for stop `k` keeps the route on time."""
        ready = departure + travel(here, where[k], k == last)
        return max(ready, opens[k]) <= latest[k]

    def serve(ready: int, visit: Visit) -> int | None:
        """When a visit ready at `ready` is done, none when past its window."""
        begins = max(ready, visit.window.start)
        return None if begins > visit.window.end else begins + visit.service

    def fits(extra: tuple[int, ...], k: int) -> bool:
        return all(a + b <= c for a, b, c in zip(loads[k], extra, capacity, strict=True))

    def leg(a: int, b: int) -> int:
        return int(distance[a, b])

    travelled = stops[last].distance
    reach = vehicle.range
    best: tuple[int, int, int] | None = None  # added distance, pickup after k, delivery after k
    p, d = pickup.location, delivery.location
    for i in range(last):
        if not fits(load, i):
            continue
        picked = serve(departs[i] + travel(where[i], p), pickup)
        if picked is None:
            continue
        detour = leg(where[i], p) - leg(where[i], where[i + 1])
        # The delivery right after the pickup.
        done = serve(picked + travel(p, d), delivery)
        if done is not None and on_time_after(done, d, i + 1):
            added = detour + leg(p, d) + leg(d, where[i + 1])
            if (reach is None or travelled + added <= reach) and (best is None or added < best[0]):
                best = (added, i, i)
        # The delivery after a later stop: the stops between carry the load too.
        departure, here = picked, p
        added_pickup = detour + leg(p, where[i + 1])
        for j in range(i + 1, last):
            ready = departure + travel(here, where[j])
            begins = max(ready, opens[j])
            if begins > latest[j] or not fits(load, j):
                break
            departure, here = begins + service[j], where[j]
            done = serve(departure + travel(here, d), delivery)
            if done is None or not on_time_after(done, d, j + 1):
                continue
            added = added_pickup + leg(here, d) + leg(d, where[j + 1]) - leg(here, where[j + 1])
            if (reach is None or travelled + added <= reach) and (best is None or added < best[0]):
                best = (added, i, j)
    if best is None:
        return None
    added, i, j = best
    pickup_step, delivery_step = (
        Step("pickup", shipment, pickup),
        Step("delivery", shipment, delivery),
    )
    new_steps = [*steps[:i], pickup_step, *steps[i:j], delivery_step, *steps[j:]]
    route = route_along(problem, vehicle, new_steps)
    shipments = {step.shipment.id: step.shipment for step in new_steps}
    # The full check, as every plan gets: a route that breaks a rule is never answered.
    if route_problems(problem, shipments, vehicle, route):
        return None
    return Insertion(vehicle.id, new_steps, route.distance - travelled)
