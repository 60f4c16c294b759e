"""Why a shipment cannot be served by any vehicle at all, found before the search so that the
plan says so plainly (and the solver does not spend time on it)."""

from typing import Literal

from logistics.model import Problem, Shipment, Vehicle

Reason = tuple[Literal["too_heavy", "out_of_range", "window_unreachable"], str]


def _carries(vehicle: Vehicle, shipment: Shipment) -> bool:
    return all(q <= c for q, c in zip(shipment.load, vehicle.capacity, strict=True))


def _trip(problem: Problem, vehicle: Vehicle, shipment: Shipment) -> tuple[int, int, bool]:
    """Distance of start -> pickup -> delivery -> end alone, its end time, and whether every
    window on the way can be met."""
    m = problem.matrices[vehicle.profile]
    first = shipment.pickup.location if shipment.pickup else vehicle.start
    legs = [
        (vehicle.start, first),
        (first, shipment.delivery.location),
        (shipment.delivery.location, vehicle.end),
    ]
    distance = int(sum(int(m.distance[a, b]) for a, b in legs))
    clock = vehicle.shift.start
    on_time = True
    for (a, b), visit in zip(legs[:2], (shipment.pickup, shipment.delivery), strict=True):
        if visit is None:
            continue
        clock = max(clock + int(m.duration[a, b]), visit.window.start)
        on_time &= clock <= visit.window.end
        clock += visit.service + vehicle.stop_time
    if shipment.pickup is None:
        # The travel from the start straight to the delivery.
        d = shipment.delivery
        clock = max(
            vehicle.shift.start + int(m.duration[vehicle.start, d.location]), d.window.start
        )
        on_time = clock <= d.window.end
        clock += d.service + vehicle.stop_time
    clock += int(m.duration[shipment.delivery.location, vehicle.end])
    on_time &= clock <= vehicle.shift.end
    return distance, clock, on_time


def unservable_reason(problem: Problem, shipment: Shipment) -> Reason | None:
    allowed = [
        v for v in problem.vehicles if shipment.profiles is None or v.profile in shipment.profiles
    ]
    carriers = [v for v in allowed if _carries(v, shipment)]
    if not carriers:
        biggest = max((v.capacity for v in allowed), default=())
        return (
            "too_heavy",
            f"Its load {shipment.load} exceeds every vehicle's capacity (largest {biggest}).",
        )
    in_range = [v for v in carriers if v.range is None or _trip(problem, v, shipment)[0] <= v.range]
    if not in_range:
        return (
            "out_of_range",
            "Even carried alone it is farther than any vehicle able to carry it can drive.",
        )
    if not any(_trip(problem, v, shipment)[2] for v in in_range):
        return (
            "window_unreachable",
            "No vehicle can reach its windows within its shift, even carrying it alone.",
        )
    return None
