"""The routing engine alone: each engine on tiny instances with a known optimum and with each
constraint binding in turn, the reasons for unassigned shipments whatever the engine, the
portfolio's choice, the re-check of plans, what the engines report as they search, and the
benchmark readers."""

import math
import multiprocessing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.routing import run_instance
from logistics import solve
from logistics.check import plan_problems
from logistics.engines import ortools
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
from logistics.objective import best_plan, rank
from tests.engine_reports import heard_while

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
ALWAYS = Window(0, 10**7)
SECONDS = 1.0
ENGINES = ["pyvrp", "ortools"]


def line_matrices(xs: list[float], profiles: tuple[str, ...] = ("default",)) -> dict[str, Matrices]:
    """Points on a line, 1 unit = 1000 metres or seconds."""
    d = np.array([[round(abs(a - b) * 1000) for b in xs] for a in xs], dtype=np.int64)
    return {p: Matrices(d, d.copy()) for p in profiles}


def van(vid: str = "v", capacity: int = 10, **kwargs: object) -> Vehicle:
    return Vehicle(vid, 0, 0, (capacity,), kwargs.pop("shift", ALWAYS), **kwargs)  # type: ignore[arg-type]


def by(engine: str, problem: Problem, seconds: float = SECONDS) -> Solution:
    """One engine alone, in this process, and its plan re-checked."""
    solution = solve(problem, seconds, engines=[engine], processes=1)
    assert solution.engine == engine
    assert plan_problems(problem, solution) == []
    return solution


@pytest.mark.parametrize("engine", ENGINES)
def test_a_known_optimum_one_vehicle_out_and_back(engine: str) -> None:
    # Depot at 0, customers at 1..4 on a line: the optimum is out to 4 and back, 8 units.
    problem = Problem(
        [van()],
        [Shipment(str(i), Visit(i, ALWAYS), (1,)) for i in range(1, 5)],
        line_matrices([0, 1, 2, 3, 4]),
    )
    solution = by(engine, problem)
    assert len(solution.routes) == 1 and solution.routes[0].distance == 8000
    assert solution.unassigned == [] and solution.objective == 8000


@pytest.mark.parametrize("engine", ENGINES)
def test_a_known_optimum_of_two_routes_by_cost(engine: str) -> None:
    # Customers at -3 and +3: one van out and back each way costs 12 units of distance plus
    # 2 fixed costs of 1; one van both ways costs the same 12 plus 1: one route.
    problem = Problem(
        [van("a", fixed_cost=1), van("b", fixed_cost=1)],
        [Shipment("w", Visit(1, ALWAYS), (1,)), Shipment("e", Visit(2, ALWAYS), (1,))],
        line_matrices([0, -3, 3]),
        objective="cost",
    )
    solution = by(engine, problem)
    assert len(solution.routes) == 1 and solution.objective == 12_001


@pytest.mark.parametrize("engine", ENGINES)
def test_capacity_binds(engine: str) -> None:
    problem = Problem(
        [van("a", 5), van("b", 5)],
        [Shipment(str(i), Visit(i, ALWAYS), (3,)) for i in (1, 2)],
        line_matrices([0, 1, 2]),
    )
    solution = by(engine, problem)
    assert len(solution.routes) == 2
    assert all(max(s.load[0] for s in r.stops) <= 5 for r in solution.routes)


@pytest.mark.parametrize("engine", ENGINES)
def test_windows_bind_and_waiting_is_reported(engine: str) -> None:
    # Customer 2 closes early, so it comes first although it is farther: after the service
    # at 1 the van would reach it too late.
    shipments = [
        Shipment("near", Visit(1, Window(0, 10**7), 1000), (1,)),
        Shipment("far", Visit(2, Window(0, 2500)), (1,)),
    ]
    stops = by(engine, Problem([van()], shipments, line_matrices([0, 1, 2]))).routes[0].stops
    assert [s.shipment_id for s in stops[1:-1]] == ["far", "near"]
    assert stops[1].start <= 2500
    late_opening = [Shipment("x", Visit(1, Window(5000, 6000)), (1,))]
    route = by(engine, Problem([van()], late_opening, line_matrices([0, 1]))).routes[0]
    # It leaves the depot as late as the opening allows instead of waiting at the door.
    assert route.stops[0].departure == 4000
    assert route.stops[1].arrival == route.stops[1].start == 5000


@pytest.mark.parametrize("engine", ENGINES)
def test_pickup_comes_before_delivery_on_the_same_vehicle(engine: str) -> None:
    # Pick up at 3, deliver at 1: the vehicle must go out to 3 first.
    shipment = Shipment("pd", delivery=Visit(1, ALWAYS), load=(4,), pickup=Visit(3, ALWAYS))
    [route] = by(engine, Problem([van(), van("w")], [shipment], line_matrices([0, 1, 2, 3]))).routes
    kinds = [(s.kind, s.location, s.load[0]) for s in route.stops]
    assert kinds == [("start", 0, 0), ("pickup", 3, 4), ("delivery", 1, 0), ("end", 0, 0)]
    assert route.distance == 6000


@pytest.mark.parametrize("engine", ENGINES)
def test_range_binds(engine: str) -> None:
    # Two far customers in opposite directions: a 25 km range cannot do both in one round.
    problem = Problem(
        [van("a", range=25_000), van("b", range=25_000)],
        [Shipment("w", Visit(1, ALWAYS), (1,)), Shipment("e", Visit(2, ALWAYS), (1,))],
        line_matrices([0, -10, 10]),
    )
    solution = by(engine, problem)
    assert len(solution.routes) == 2 and all(r.distance <= 25_000 for r in solution.routes)


@pytest.mark.parametrize("engine", ENGINES)
def test_only_the_allowed_profiles_carry_a_shipment(engine: str) -> None:
    # The bike is closer to both, but "crate" may only go by van.
    problem = Problem(
        [
            Vehicle("bike", 1, 1, (10,), ALWAYS, "bike"),
            Vehicle("van", 0, 0, (10,), ALWAYS, "van"),
        ],
        [
            Shipment("crate", Visit(2, ALWAYS), (1,), profiles=frozenset({"van"})),
            Shipment("parcel", Visit(2, ALWAYS), (1,), profiles=frozenset({"bike"})),
        ],
        line_matrices([0, 10, 11], ("bike", "van")),
        objective="distance",
    )
    solution = by(engine, problem)
    carriers = {sid: r.vehicle_id for r in solution.routes for sid in r.shipment_ids}
    assert carriers == {"crate": "van", "parcel": "bike"}


@pytest.mark.parametrize("engine", ENGINES)
def test_stop_time_binds(engine: str) -> None:
    # Two doors at one place and one elsewhere, each to be served by 3500: without stop time
    # all three fit; with 1000 per new place, only the two at one place do, as parking once
    # serves both.
    shipments = [
        Shipment("a", Visit(1, Window(0, 3500)), (1,)),
        Shipment("b", Visit(1, Window(0, 3500)), (1,)),
        Shipment("c", Visit(2, Window(0, 3500)), (1,)),
    ]
    matrices = line_matrices([0, 1, 2])
    assert by(engine, Problem([van()], shipments, matrices)).unassigned == []
    slow = by(engine, Problem([van(stop_time=1000)], shipments, matrices))
    assert [u.shipment_id for u in slow.unassigned] == ["c"]
    first, second = slow.routes[0].stops[1:3]
    assert first.start == first.arrival + 1000 and second.start == second.arrival


def test_shipments_that_cannot_be_served_come_back_with_their_reason_whatever_the_engine() -> None:
    problem = Problem(
        [van("bike", capacity=100, range=30_000, shift=Window(0, 50_000))],
        [
            Shipment("ok", Visit(1, ALWAYS), (10,)),
            Shipment("piano", Visit(1, ALWAYS), (500,)),
            Shipment("faraway", Visit(2, ALWAYS), (10,)),
            Shipment("too-early", Visit(1, Window(0, 500)), (10,)),
            Shipment("one", Visit(1, ALWAYS), (60,)),
            Shipment("two", Visit(1, ALWAYS), (60,)),
        ],
        line_matrices([0, 1, 40]),
    )
    answers = {engine: by(engine, problem) for engine in ENGINES}
    for solution in answers.values():
        reasons = {u.shipment_id: u.reason for u in solution.unassigned}
        left_out = "one" if "one" in reasons else "two"
        assert reasons == {
            "piano": "too_heavy",
            "faraway": "out_of_range",
            "too-early": "window_unreachable",
            left_out: "no_room",
        }
        assert len(solution.routes) == 1


def test_a_plan_with_nothing_servable_is_empty_with_every_reason() -> None:
    bike = van("bike", capacity=100, shift=Window(36_000, 50_000))
    problem = Problem(
        [bike],
        [
            Shipment("piano", Visit(1, ALWAYS), (500,)),
            Shipment(
                "backwards",
                delivery=Visit(1, Window(0, 100)),
                load=(1,),
                pickup=Visit(2, Window(40_000, 41_000)),
            ),
            Shipment("yesterday", Visit(1, Window(0, 20_000)), (1,)),
        ],
        line_matrices([0, 1, 2]),
    )
    solution = solve(problem, SECONDS)
    assert solution.status == "solved" and solution.routes == [] and solution.engine == ""
    assert {u.shipment_id: u.reason for u in solution.unassigned} == {
        "piano": "too_heavy",
        "backwards": "window_unreachable",
        "yesterday": "window_unreachable",
    }


def test_the_portfolio_answers_the_best_plan_and_names_its_engine() -> None:
    problem = Problem(
        [van(f"v{k}", capacity=4) for k in range(4)],
        [Shipment(str(i), Visit(i, ALWAYS), (1,)) for i in range(1, 13)],
        line_matrices([0, *range(-6, 0), *range(1, 7)]),
    )
    solution = solve(problem, 2.0, processes=2)
    assert sorted(r.engine for r in solution.runs) == ["ortools", "pyvrp"]
    assert all(r.feasible and r.unassigned == 0 for r in solution.runs)
    chosen = next(r for r in solution.runs if r.engine == solution.engine)
    assert (len(solution.routes), solution.objective) == (chosen.vehicles, chosen.objective)
    # Three full vans: the four farthest on each side, and the four in the middle (8 units).
    assert min((r.vehicles, r.objective) for r in solution.runs) == (3, 32_000)
    assert plan_problems(problem, solution) == []


def test_the_engines_report_better_plans_as_they_search_and_the_best_is_the_answer() -> None:
    instance = read_solomon(SHARED / "solomon" / "R101.txt")
    answer, heard = heard_while(
        lambda report: solve(instance.problem, 3.0, processes=2, report=report)
    )
    assert {found.engine for found in heard} == {"pyvrp", "ortools"}
    for engine in ("pyvrp", "ortools"):
        ranks = [found.rank for found in heard if found.engine == engine]
        assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == len(ranks)
    assert min(found.rank for found in heard) == rank(instance.problem, answer)
    best = min(heard, key=lambda found: found.rank)
    assert (best.vehicles, best.distance, best.unassigned) == (
        len(answer.routes),
        sum(route.distance for route in answer.routes),
        0,
    )


def test_a_broken_plan_is_caught_by_the_re_check() -> None:
    problem = Problem(
        [van(capacity=5)],
        [Shipment("a", Visit(1, Window(0, 1500)), (3,)), Shipment("b", Visit(2, ALWAYS), (3,))],
        line_matrices([0, 1, 2]),
    )
    [route] = by("ortools", replace(problem, vehicles=[van(capacity=10)])).routes
    broken = Solution([route], [], 0.0, "solved")
    found = plan_problems(problem, broken)
    assert any("beyond the capacity" in p for p in found)
    late = Route(route.vehicle_id, [route.stops[0], route.stops[2], route.stops[1], route.stops[3]])
    assert any(
        "not the road's" in p or "outside" in p
        for p in plan_problems(problem, Solution([late], [], 0.0, "solved"))
    )


def test_or_tools_with_a_fleet_larger_than_the_visits_is_planned_in_time() -> None:
    # OR-Tools' iterated local search would never return here; the engine must not use it.
    options = replace(ortools.PORTFOLIO[0], time_limit_s=1)
    assert options.metaheuristic == ortools.ITERATED_LOCAL_SEARCH
    problem = Problem(
        [van(f"v{k}") for k in range(3)],
        [Shipment("1", Visit(1, ALWAYS), (1,))],
        line_matrices([0, 1]),
        objective="cost",
    )
    worker = multiprocessing.get_context("fork").Process(
        target=ortools.solve, args=(problem, options)
    )
    worker.start()
    worker.join(timeout=30)
    hung = worker.is_alive()
    worker.kill()
    assert not hung and worker.exitcode == 0
    assert ortools.solve(problem, options).routes[0].distance == 2000


def test_or_tools_round_far_from_absorbing_a_route_leaves_the_time_to_the_last_phase() -> None:
    # Each van is full with one shipment: no route can be absorbed, and a round that left a
    # quarter of the shipments out says so at once, so no other route is tried.
    problem = Problem(
        [van(f"v{k}") for k in range(4)],
        [Shipment(str(i), Visit(i, ALWAYS), (10,)) for i in range(1, 5)],
        line_matrices([0, 1, 2, 3, 4]),
    )
    retrying = replace(ortools.PORTFOLIO[1], time_limit_s=2, give_up_far_misses=False)
    assert retrying.retry_failed_rounds
    assert ortools.solve(problem, retrying).stats["reduction_rounds"] > 1
    giving_up = replace(retrying, give_up_far_misses=True)
    solution = ortools.solve(problem, giving_up)
    assert solution.stats["reduction_rounds"] == 1
    assert len(solution.routes) == 4 and solution.unassigned == []


def _li_lim(tmp_path: Path, speed: str) -> Path:
    text = "\n".join(
        [
            f"2 10 {speed}",
            "0 0 0 0 0 1000 0 0 0",
            "1 10 0 5 0 1000 1 0 2",
            "2 20 0 -5 0 1000 1 1 0",
            "3 0 10 3 0 1000 1 0 4",
            "4 0 20 -3 0 1000 1 3 0",
        ]
    )
    path = tmp_path / "tiny.txt"
    path.write_text(text)
    return path


@pytest.mark.parametrize("engine", ["portfolio", *ENGINES])
def test_li_lim_reader_and_the_double_precision_check(tmp_path: Path, engine: str) -> None:
    instance = read_li_lim(_li_lim(tmp_path, "1"))
    assert [
        (s.pickup.location if s.pickup else None, s.delivery.location, s.load)
        for s in instance.problem.shipments
    ] == [(1, 2, (5,)), (3, 4, (3,))]
    result = run_instance(instance, 1, paired=True, engine=engine)
    assert result["feasible"] and result["vehicles"] == 1
    assert result["distance"] == pytest.approx(20 + math.dist((20, 0), (0, 10)) + 10 + 20, abs=0.01)
    assert check_routes(instance, [[2, 1, 3, 4]], paired=True)[0] is False


def test_li_lim_files_with_speed_0_are_read_at_unit_speed(tmp_path: Path) -> None:
    instance = read_li_lim(_li_lim(tmp_path, "0"))
    assert instance.speed == 1.0
    assert instance.problem.matrices["default"].duration[0, 1] == 10_000


def test_solomon_c101_with_the_portfolio_near_the_best_known() -> None:
    instance = read_solomon(SHARED / "solomon" / "C101.txt")
    result = run_instance(instance, 3, paired=False)
    assert result["feasible"] and result["vehicles"] == 10
    assert result["distance"] <= 828.94 * 1.01  # best known 828.94
    assert {r["engine"] for r in result["runs"]} == {"pyvrp", "ortools"}


def test_the_best_plan_serves_most_then_uses_fewest_vehicles_then_is_shortest() -> None:
    problem = Problem([van("a"), van("b"), van("c")], [], line_matrices([0, 1, 2]))

    def plan(lengths: list[int], unassigned: int = 0) -> Solution:
        routes = [
            Route(v, [Stop("end", 0, None, 0, 0, 0, (0,), km)])
            for v, km in zip("abc", lengths, strict=False)
        ]
        missing = [Unassigned(str(i), "no_room", "") for i in range(unassigned)]
        return Solution(routes, missing, 0.0, "solved")

    one_short = plan([5], unassigned=1)
    two_long = plan([9, 9])
    three_short = plan([1, 1, 1])
    two_shorter = plan([8, 9])
    assert best_plan(problem, [one_short, two_long, three_short]) is two_long
    assert best_plan(problem, [two_long, two_shorter]) is two_shorter
    by_distance = replace(problem, objective="distance")
    assert best_plan(by_distance, [two_long, three_short]) is three_short
