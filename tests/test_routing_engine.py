"""The routing engine alone: tiny instances with a known optimum, each constraint binding in
turn, reasons for unassigned shipments, and the benchmark readers and checker."""

import math
import multiprocessing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from logistics.bench import run_instance
from logistics.instances import check_routes, read_li_lim, read_solomon
from logistics.model import (
    Matrices,
    Problem,
    Route,
    Shipment,
    Solution,
    Stop,
    Unassigned,
    Vehicle,
    Visit,
    Window,
)
from logistics.solver import (
    ITERATED_LOCAL_SEARCH,
    PORTFOLIO,
    SolverOptions,
    best_plan,
    solve,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
ALWAYS = Window(0, 10**7)
FAST = SolverOptions(time_limit_s=1)


def line_matrices(xs: list[float]) -> dict[str, Matrices]:
    """Points on a line, 1 unit = 1000 metres or seconds."""
    d = np.array([[round(abs(a - b) * 1000) for b in xs] for a in xs], dtype=np.int64)
    return {"default": Matrices(d, d.copy())}


def van(vid: str = "v", capacity: int = 10, **kwargs: object) -> Vehicle:
    return Vehicle(vid, 0, 0, (capacity,), kwargs.pop("shift", ALWAYS), **kwargs)  # type: ignore[arg-type]


def test_a_known_optimum_one_vehicle_out_and_back() -> None:
    # Depot at 0, customers at 1..4 on a line: the optimum is out to 4 and back, 8 units.
    problem = Problem(
        [van()],
        [Shipment(str(i), Visit(i, ALWAYS), (1,)) for i in range(1, 5)],
        line_matrices([0, 1, 2, 3, 4]),
    )
    solution = solve(problem, FAST)
    assert len(solution.routes) == 1 and solution.routes[0].distance == 8000
    assert solution.unassigned == []


def test_a_fleet_larger_than_the_visits_is_planned_in_time() -> None:
    # Iterated local search would never return here; the solver must not use it.
    options = replace(PORTFOLIO[0], time_limit_s=1)
    assert options.metaheuristic == ITERATED_LOCAL_SEARCH
    problem = Problem(
        [van(f"v{k}") for k in range(3)],
        [Shipment("1", Visit(1, ALWAYS), (1,))],
        line_matrices([0, 1]),
        objective="cost",
    )
    worker = multiprocessing.get_context("fork").Process(target=solve, args=(problem, options))
    worker.start()
    worker.join(timeout=30)
    hung = worker.is_alive()
    worker.kill()
    assert not hung and worker.exitcode == 0
    assert solve(problem, options).routes[0].distance == 2000


def test_a_round_far_from_absorbing_a_route_leaves_the_time_to_the_last_phase() -> None:
    # Each van is full with one shipment: no route can be absorbed, and a round that left a
    # quarter of the shipments out says so at once, so no other route is tried.
    problem = Problem(
        [van(f"v{k}") for k in range(4)],
        [Shipment(str(i), Visit(i, ALWAYS), (10,)) for i in range(1, 5)],
        line_matrices([0, 1, 2, 3, 4]),
    )
    retrying = replace(PORTFOLIO[1], time_limit_s=2, give_up_far_misses=False)
    assert retrying.retry_failed_rounds
    assert solve(problem, retrying).stats["reduction_rounds"] > 1
    giving_up = replace(retrying, give_up_far_misses=True)
    solution = solve(problem, giving_up)
    assert solution.stats["reduction_rounds"] == 1
    assert len(solution.routes) == 4 and solution.unassigned == []


def test_capacity_binds() -> None:
    problem = Problem(
        [van("a", 5), van("b", 5)],
        [Shipment(str(i), Visit(i, ALWAYS), (3,)) for i in (1, 2)],
        line_matrices([0, 1, 2]),
    )
    solution = solve(problem, FAST)
    assert len(solution.routes) == 2
    assert all(max(s.load[0] for s in r.stops) <= 5 for r in solution.routes)


def test_windows_bind_and_waiting_is_reported() -> None:
    # Customer 2 closes early, so it comes first although it is farther.
    shipments = [
        Shipment("near", Visit(1, Window(0, 10**7)), (1,)),
        Shipment("far", Visit(2, Window(0, 2500)), (1,)),
    ]
    solution = solve(Problem([van()], shipments, line_matrices([0, 1, 2])), FAST)
    stops = solution.routes[0].stops
    assert [s.shipment_id for s in stops[1:-1]] == ["far", "near"]
    assert stops[1].start <= 2500
    late_opening = [Shipment("x", Visit(1, Window(5000, 6000)), (1,))]
    waited = (
        solve(Problem([van(shift=Window(0, 10**7))], late_opening, line_matrices([0, 1])), FAST)
        .routes[0]
        .stops[1]
    )
    assert waited.start == 5000 and waited.departure == 5000 and waited.arrival <= waited.start


def test_pickup_comes_before_delivery_on_the_same_vehicle() -> None:
    # Pick up at 3, deliver at 1: the vehicle must go out to 3 first.
    shipment = Shipment("pd", delivery=Visit(1, ALWAYS), load=(4,), pickup=Visit(3, ALWAYS))
    solution = solve(Problem([van(), van("w")], [shipment], line_matrices([0, 1, 2, 3])), FAST)
    [route] = solution.routes
    kinds = [(s.kind, s.location, s.load[0]) for s in route.stops]
    assert kinds == [("start", 0, 0), ("pickup", 3, 4), ("delivery", 1, 0), ("end", 0, 0)]
    assert route.distance == 6000


def test_range_binds() -> None:
    # Two far customers in opposite directions: a 25 km range cannot do both in one round.
    problem = Problem(
        [van("a", range=25_000), van("b", range=25_000)],
        [Shipment("w", Visit(1, ALWAYS), (1,)), Shipment("e", Visit(2, ALWAYS), (1,))],
        line_matrices([0, -10, 10]),
    )
    solution = solve(problem, FAST)
    assert len(solution.routes) == 2 and all(r.distance <= 25_000 for r in solution.routes)


def test_shipments_that_cannot_be_served_come_back_with_their_reason() -> None:
    problem = Problem(
        [van("bike", capacity=100, range=30_000, shift=Window(0, 50_000))],
        [
            Shipment("ok", Visit(1, ALWAYS), (10,)),
            Shipment("piano", Visit(1, ALWAYS), (500,)),
            Shipment("faraway", Visit(2, ALWAYS), (10,)),
            Shipment("too-early", Visit(1, Window(0, 500)), (10,)),
        ],
        line_matrices([0, 1, 40]),
    )
    solution = solve(problem, FAST)
    reasons = {u.shipment_id: u.reason for u in solution.unassigned}
    assert reasons == {
        "piano": "too_heavy",
        "faraway": "out_of_range",
        "too-early": "window_unreachable",
    }
    assert [r.shipment_ids for r in solution.routes] == [["ok"]]


def test_two_shipments_that_do_not_fit_together_leave_one_with_no_room() -> None:
    problem = Problem(
        [van(capacity=10)],
        [Shipment("a", Visit(1, ALWAYS), (8,)), Shipment("b", Visit(1, ALWAYS), (8,))],
        line_matrices([0, 1]),
    )
    solution = solve(problem, FAST)
    assert len(solution.routes[0].shipment_ids) == 1
    assert [u.reason for u in solution.unassigned] == ["no_room"]


def test_li_lim_reader_and_the_double_precision_check(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "2 10 1",
            "0 0 0 0 0 1000 0 0 0",
            "1 10 0 5 0 1000 1 0 2",
            "2 20 0 -5 0 1000 1 1 0",
            "3 0 10 3 0 1000 1 0 4",
            "4 0 20 -3 0 1000 1 3 0",
        ]
    )
    path = tmp_path / "tiny.txt"
    path.write_text(text)
    instance = read_li_lim(path)
    assert [
        (s.pickup.location if s.pickup else None, s.delivery.location, s.load)
        for s in instance.problem.shipments
    ] == [(1, 2, (5,)), (3, 4, (3,))]
    result = run_instance(instance, 1, paired=True)
    assert result["feasible"] and result["vehicles"] == 1
    assert result["distance"] == pytest.approx(20 + math.dist((20, 0), (0, 10)) + 10 + 20, abs=0.01)
    assert check_routes(instance, [[2, 1, 3, 4]], paired=True)[0] is False


def test_solomon_c101_is_solved_feasibly_near_the_best_known() -> None:
    instance = read_solomon(SHARED / "solomon" / "C101.txt")
    result = run_instance(instance, 3, paired=False)
    assert result["feasible"] and result["vehicles"] == 10
    assert result["distance"] <= 828.94 * 1.05  # best known 828.94; 10 s reach it exactly


def test_solomon_c101_with_the_portfolio_on_two_cores() -> None:
    instance = read_solomon(SHARED / "solomon" / "C101.txt")
    result = run_instance(instance, 3, paired=False, workers=len(PORTFOLIO))
    assert result["feasible"] and result["vehicles"] == 10
    assert result["distance"] <= 828.94 * 1.05


def test_the_best_plan_serves_most_then_uses_fewest_vehicles_then_is_shortest() -> None:
    problem = Problem([van("a"), van("b")], [], line_matrices([0, 1, 2]))

    def plan(lengths: list[int], unassigned: int = 0, objective: int = 0) -> Solution:
        routes = [Route("a", [Stop("end", 0, None, 0, 0, 0, (0,), km)]) for km in lengths]
        missing = [Unassigned(str(i), "no_room", "") for i in range(unassigned)]
        return Solution(routes, missing, objective, "solved")

    one_short = plan([5], unassigned=1)
    two_long = plan([9, 9])
    three_short = plan([1, 1, 1])
    two_shorter = plan([8, 9])
    assert best_plan(problem, [one_short, two_long, three_short]) is two_long
    assert best_plan(problem, [two_long, two_shorter]) is two_shorter
    cheapest = replace(three_short, objective=10)
    by_cost = replace(problem, objective="cost")
    assert best_plan(by_cost, [replace(two_long, objective=20), cheapest]) is cheapest
