"""The cheapest insertion (`logistics.insertion`) against every insertion tried in full: on random
rounds with tight windows, capacities, shifts, ranges and stop times, it finds the same least
added distance as timing and checking each placement of the pickup and the delivery in every
route, and none exactly when none of them keeps the rules."""

import random

import pytest

from logistics.check import plan_problems, route_problems
from logistics.insertion import cheapest_insertion
from logistics.matrices import Profile, straight_line
from logistics.model import Problem, Shipment, Vehicle, Visit, Window
from logistics.portfolio import INITIAL, solve
from logistics.schedule import Step, plan_along, route_along

HOUR = 3600


def _problem(rng: random.Random, visits: int) -> tuple[Problem, list[Shipment]]:
    """A hub, three vehicles (one a slow bike with a small box and a range) and `visits`
    shipments from shops to customers, around Brussels."""
    points = [
        (4.35 + rng.uniform(-0.03, 0.03), 50.85 + rng.uniform(-0.02, 0.02))
        for _ in range(2 * visits + 1)
    ]
    matrices = {
        "bike": straight_line(points, Profile("bike", 15)),
        "van": straight_line(points, Profile("van", 25)),
    }
    vehicles = [
        Vehicle(
            "bike-1", 0, 0, (120, 2), Window(8 * HOUR, 12 * HOUR), "bike", 25_000, stop_time=60
        ),
        Vehicle("bike-2", 0, 0, (80, 1), Window(9 * HOUR, 11 * HOUR), "bike", 12_000, stop_time=60),
        Vehicle("van-1", 0, 0, (400, 6), Window(8 * HOUR, 13 * HOUR), "van", None, stop_time=240),
    ]
    shipments = []
    for k in range(visits):
        start = rng.randrange(8 * HOUR, 11 * HOUR, 600)
        width = rng.choice((1800, 3600, 7200))
        shipments.append(
            Shipment(
                f"s{k}",
                delivery=Visit(2 * k + 2, Window(start, start + width), service=120),
                load=(rng.randint(5, 60), rng.randint(0, 1)),
                pickup=Visit(2 * k + 1, Window(8 * HOUR, start + width), service=60),
                profiles=None if rng.random() < 0.7 else frozenset({"bike"}),
            )
        )
    return Problem(vehicles, shipments, matrices), shipments


def _every_insertion(
    problem: Problem, routes: dict[str, list[Step]], shipment: Shipment
) -> int | None:
    """The least added distance over every placement that keeps the rules, tried in full."""
    assert shipment.pickup is not None
    pickup, delivery = (
        Step("pickup", shipment, shipment.pickup),
        Step("delivery", shipment, shipment.delivery),
    )
    best = None
    for vehicle in problem.vehicles:
        if shipment.profiles is not None and vehicle.profile not in shipment.profiles:
            continue
        steps = routes.get(vehicle.id, [])
        before = route_along(problem, vehicle, steps).distance
        for i in range(len(steps) + 1):
            for j in range(i, len(steps) + 1):
                trial = [*steps[:i], pickup, *steps[i:j], delivery, *steps[j:]]
                route = route_along(problem, vehicle, trial)
                shipments = {s.shipment.id: s.shipment for s in trial}
                if not route_problems(problem, shipments, vehicle, route):
                    added = route.distance - before
                    best = added if best is None else min(best, added)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_the_cheapest_insertion_is_the_least_of_every_insertion_that_keeps_the_rules(
    seed: int,
) -> None:
    rng = random.Random(seed)
    problem, shipments = _problem(rng, visits=14)
    routes: dict[str, list[Step]] = {}
    inserted = refused = 0
    for shipment in shipments:
        expected = _every_insertion(problem, routes, shipment)
        found = cheapest_insertion(problem, routes, shipment)
        if expected is None:
            assert found is None, shipment
            refused += 1
            continue
        assert found is not None, shipment
        assert found.added_distance == expected
        vehicle = next(v for v in problem.vehicles if v.id == found.vehicle_id)
        route = route_along(problem, vehicle, found.steps)
        shipments_on = {s.shipment.id: s.shipment for s in found.steps}
        assert route_problems(problem, shipments_on, vehicle, route) == []
        # Nothing else moved: the other shipments keep their order.
        before = [(s.kind, s.shipment.id) for s in routes.get(vehicle.id, [])]
        after = [(s.kind, s.shipment.id) for s in found.steps if s.shipment.id != shipment.id]
        assert after == before
        routes[found.vehicle_id] = found.steps
        inserted += 1
    # The rounds fill up: some shipments go in, and the tight ones do not.
    assert inserted >= 5, (inserted, refused)


def test_a_full_round_takes_no_more_and_says_so() -> None:
    points = [(4.35, 50.85), (4.351, 50.851), (4.352, 50.852)]
    problem = Problem(
        [Vehicle("bike", 0, 0, (100,), Window(0, 8 * HOUR), "bike")],
        [],
        {"bike": straight_line(points, Profile("bike", 15))},
    )

    def parcel(k: int, kg: int) -> Shipment:
        return Shipment(
            f"p{k}", Visit(2, Window(0, 8 * HOUR)), (kg,), Visit(1, Window(0, 8 * HOUR))
        )

    routes: dict[str, list[Step]] = {}
    for k in range(4):
        found = cheapest_insertion(problem, routes, parcel(k, 25))
        assert found is not None
        routes["bike"] = found.steps
    # Four parcels of 25 kg fill the box: a fifth goes in only where the box has room again.
    found = cheapest_insertion(problem, routes, parcel(4, 25))
    assert found is not None
    loads = [stop.load[0] for stop in route_along(problem, problem.vehicles[0], found.steps).stops]
    assert max(loads) <= 100
    # A parcel heavier than the box never fits.
    assert cheapest_insertion(problem, routes, parcel(5, 101)) is None
    with pytest.raises(ValueError):
        cheapest_insertion(problem, routes, Shipment("x", Visit(2, Window(0, 1)), (1,)))


def test_the_portfolio_never_leaves_out_more_than_the_plan_it_starts_from() -> None:
    problem, shipments = _problem(random.Random(3), visits=14)
    routes: dict[str, list[Step]] = {}
    for shipment in shipments:
        found = cheapest_insertion(problem, routes, shipment)
        if found is not None:
            routes[found.vehicle_id] = found.steps
    orders = {v: [(s.kind, s.shipment.id) for s in steps] for v, steps in routes.items()}
    initial = plan_along(problem, orders)
    assert plan_problems(problem, initial) == []
    # A search far too short to find as much by itself.
    answer = solve(problem, 0.05, processes=1, initial=initial)
    assert answer.status == "solved" and plan_problems(problem, answer) == []
    assert len(answer.unassigned) <= len(initial.unassigned)
    assert INITIAL in {run.engine for run in answer.runs}
