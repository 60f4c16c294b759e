"""PyVRP (iterated local search, Wouda, Lan and Kool) as an engine: the whole model mapped
onto its `ProblemData`.

- Shipments with a pickup are PyVRP shipments (picked up and delivered by one vehicle);
  those without are clients whose load leaves the depot on the vehicle.
- Every location of the problem is a PyVRP location once as a depot and once as a place
  visited, so that the vehicle's stop time is added on arriving at a new place to visit and
  not on returning to a depot: one duration matrix per travel profile and stop time.
- Identical vehicles are one vehicle type with as many available.
- A shipment only some profiles may carry takes one unit of an extra load dimension of its
  own kind, in which only those profiles have room.
- A first plan that serves every shipment is searched for; then, under
  `vehicles_then_distance`, rounds take vehicles away (`_fewest_vehicles`); then the search
  goes on from the plan of the fewest vehicles on its objective, keeping to those vehicles.
- When no plan serves every shipment by then, every shipment is optional with a prize
  larger than serving it can cost, so that those the vehicles cannot all fit come back
  unassigned instead of an infeasible plan."""

import math
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyvrp
from pyvrp import (
    IteratedLocalSearchCallbacks,
    IteratedLocalSearchParams,
    PenaltyParams,
    SolveParams,
)
from pyvrp.stop import FirstFeasible, MaxRuntime, MultipleCriteria

from logistics.model import (
    NO_PLAN_IN_TIME,
    NO_ROOM,
    Problem,
    Shipment,
    Solution,
    Unassigned,
    Vehicle,
)
from logistics.objective import objective_value
from logistics.progress import ImprovementReporter
from logistics.schedule import Step, route_along, steps_of

# Costs of the objective `cost` are floats per unit; PyVRP's are integers.
COST_SCALE = 10


@dataclass(frozen=True)
class PyVRPOptions:
    seed: int = 0
    # Share of the time for a first plan that serves every shipment; without one by then,
    # the rest of the time goes to a search in which every shipment is optional.
    first_plan_share: float = 0.3
    # Share of the time until which vehicles are taken away, under `vehicles_then_distance`.
    fleet_share: float = 0.5


@dataclass(frozen=True)
class _Translation:
    data: pyvrp.ProblemData
    # The problem's vehicles of each vehicle type, the shipments of each PyVRP client and
    # PyVRP shipment.
    vehicles_of_type: list[list[Vehicle]]
    clients: list[Shipment]
    shipments: list[Shipment]


@dataclass(frozen=True)
class _Fleet:
    """Some of the vehicles: how many of each vehicle type of the translation."""

    counts: tuple[int, ...]

    def data(self, translation: _Translation) -> pyvrp.ProblemData:
        types = translation.data.vehicle_types()
        return translation.data.replace(
            vehicle_types=[types[t].replace(num_available=c) for t, c in self.kept()]
        )

    def kept(self) -> list[tuple[int, int]]:
        """(vehicle type of the translation, how many) for the types it has any of."""
        return [(t, c) for t, c in enumerate(self.counts) if c > 0]

    def type_of(self, route: pyvrp.Route) -> int:
        return self.kept()[route.vehicle_type()][0]

    def used_by(self, plan: pyvrp.Solution) -> "_Fleet":
        counts = [0] * len(self.counts)
        for route in plan.routes():
            counts[self.type_of(route)] += 1
        return _Fleet(tuple(counts))

    def without_one(self, of_type: int) -> "_Fleet":
        return _Fleet(tuple(c - (t == of_type) for t, c in enumerate(self.counts)))


def solve(
    problem: Problem,
    time_limit_s: float,
    options: PyVRPOptions = PyVRPOptions(),
    reporter: ImprovementReporter | None = None,
) -> Solution:
    started = time.monotonic()
    deadline = started + time_limit_s
    if not problem.shipments:
        return Solution([], [], 0.0, "solved", {"seconds": 0.0})
    reporter = reporter or ImprovementReporter(problem, "pyvrp")
    translation = _translate(problem, required=True)
    fleet = _Fleet(tuple(len(vs) for vs in translation.vehicles_of_type))
    first = _first_complete_plan(
        translation,
        fleet,
        started + time_limit_s * options.first_plan_share,
        options.seed,
        reporter,
    )
    initial = None
    if first is None:
        # Some shipments do not fit in all together: the best plan leaves them out.
        translation = _translate(problem, required=False)
        at_least = 10.0 * _prize(problem)
    else:
        fleet, initial = first
        at_least = 0.0
        if problem.objective == "vehicles_then_distance":
            fleet, initial = _fewest_vehicles(
                translation,
                fleet,
                initial,
                started + time_limit_s * options.fleet_share,
                options.seed,
                reporter,
            )
    data = fleet.data(translation)
    reporting = _Reporting(translation, fleet, reporter)
    result = pyvrp.solve(
        data,
        stop=MaxRuntime(max(0.05, deadline - time.monotonic())),
        seed=options.seed,
        collect_stats=False,
        display=False,
        params=_params(translation.data, _history_length(translation.data), reporting, at_least),
        initial_solution=initial,
    )
    stats = {"seconds": time.monotonic() - started, "iterations": float(result.num_iterations)}
    if not result.best.is_feasible():
        unassigned = [Unassigned(s.id, "no_room", NO_PLAN_IN_TIME) for s in problem.shipments]
        return Solution([], unassigned, 0.0, "no_solution", stats)
    solution = _solution(problem, translation, fleet, result.best, stats)
    return replace(solution, objective=objective_value(problem, solution))


class _Reporting(IteratedLocalSearchCallbacks):
    """Hands each new best plan of a PyVRP search on to the reporter."""

    def __init__(
        self, translation: _Translation, fleet: _Fleet, reporter: ImprovementReporter
    ) -> None:
        self.translation, self.fleet, self.reporter = translation, fleet, reporter

    def on_best(self, best: pyvrp.Solution) -> None:
        if best.is_feasible():
            problem = self.reporter.problem
            self.reporter.found(partial(_solution, problem, self.translation, self.fleet, best, {}))

    def on_iteration(
        self,
        current: pyvrp.Solution,
        candidate: pyvrp.Solution,
        best: pyvrp.Solution,
        cost_evaluator: pyvrp.CostEvaluator,
    ) -> None:
        self.reporter.tick()


def _search_until_feasible(
    translation: _Translation,
    fleet: _Fleet,
    deadline: float,
    seed: int,
    reporter: ImprovementReporter,
) -> pyvrp.Solution | None:
    data = fleet.data(translation)
    left = MaxRuntime(max(0.0, deadline - time.monotonic()))
    result = pyvrp.solve(
        data,
        stop=MultipleCriteria([FirstFeasible(), left]),
        seed=seed,
        collect_stats=False,
        display=False,
        params=_params(data, ROUND_HISTORY, _Reporting(translation, fleet, reporter)),
    )
    if not result.best.is_feasible():
        return None
    # A search that stops at its first plan may end before any callback: the plan found is
    # reported here, so that a plan with PyVRP alone says how it is getting on.
    reporter.found(partial(_solution, reporter.problem, translation, fleet, result.best, {}))
    return result.best


# How many of its last plans the iterated local search measures a candidate against (late
# acceptance): PyVRP's default, 300, up to 120 visits; 37 at 200 visits, and as a power of the
# visits between and beyond, never below 20. In 10 s on the Homberger 200 instances, PyVRP
# alone went from 3.61 % over the best-known distances (300) to 2.17 % (37) and 2.35 % (20);
# on Solomon's 100 visits, 20 instead of 300 went from 0.56 to 1.04 %, and on the `make demo`
# mixes (about 105 visits) the cube of 100 / visits, 267 plans, cost 2 to 5 % more km
# (bench/README.md).
FULL_HISTORY, FULL_HISTORY_VISITS = 300, 120
SHORT_HISTORY, SHORT_HISTORY_VISITS = 37, 200
HISTORY_FLOOR = 20
# The searches for a first plan that serves everything, with all the vehicles or one fewer,
# keep a shorter history: on the 56 Solomon instances, PyVRP alone took 406 vehicles with 50
# (R104 and R112 with 9 each), 408 with 300, and 0.553 against 0.524 % of distance.
ROUND_HISTORY = 50


def _history_length(data: pyvrp.ProblemData) -> int:
    visits = data.num_clients + 2 * data.num_shipments
    if visits <= FULL_HISTORY_VISITS:
        return FULL_HISTORY
    power = math.log(FULL_HISTORY / SHORT_HISTORY) / math.log(
        SHORT_HISTORY_VISITS / FULL_HISTORY_VISITS
    )
    return max(HISTORY_FLOOR, round(FULL_HISTORY * (FULL_HISTORY_VISITS / visits) ** power))


def _params(
    data: pyvrp.ProblemData,
    history_length: int,
    reporting: _Reporting,
    at_least: float = 0.0,
) -> SolveParams:
    """PyVRP's defaults but for the history, with penalties that grow as far above the costs
    as its defaults do above unit costs. Under the objective `cost` a second of a van costs
    some thousand units: at the default ceiling, a second late or a bike's leg on a van cost
    less than driving, and the search hardly finds a plan that keeps to the windows and the
    tiers."""
    largest = max(max(t.unit_distance_cost, t.unit_duration_cost, 1) for t in data.vehicle_types())
    ceiling = max(PenaltyParams().max_penalty * largest, at_least)
    return SolveParams(
        ils=IteratedLocalSearchParams(history_length=history_length, callbacks=reporting),
        penalty=PenaltyParams(max_penalty=ceiling),
    )


def _first_complete_plan(
    translation: _Translation,
    fleet: _Fleet,
    deadline: float,
    seed: int,
    reporter: ImprovementReporter,
) -> tuple[_Fleet, pyvrp.Solution] | None:
    """A plan serving every shipment, with the fleet it uses; None when none was found by
    the deadline."""
    plan = _search_until_feasible(translation, fleet, deadline, seed, reporter)
    if plan is None:
        return None
    return _on_fleet(translation, fleet, plan)


def _on_fleet(
    translation: _Translation, fleet: _Fleet, plan: pyvrp.Solution
) -> tuple[_Fleet, pyvrp.Solution]:
    """The plan on a fleet of just the vehicles it uses, which the search on distance then
    keeps to."""
    used = fleet.used_by(plan)
    data = used.data(translation)
    position = {t: k for k, (t, _) in enumerate(used.kept())}
    routes = [
        pyvrp.Route(
            data,
            [pyvrp.Activity(a.type, a.idx) for a in route if not a.is_depot()],
            position[fleet.type_of(route)],
        )
        for route in plan.routes()
    ]
    return used, pyvrp.Solution(data, routes)


def _fewest_vehicles(
    translation: _Translation,
    fleet: _Fleet,
    plan: pyvrp.Solution,
    deadline: float,
    seed: int,
    reporter: ImprovementReporter,
) -> tuple[_Fleet, pyvrp.Solution]:
    """Fleet minimisation on top of `pyvrp.solve`: rounds that each take away a vehicle of
    the type of the smallest route and search, from scratch, for a plan that serves every
    shipment with the others, until one finds none by the deadline. From scratch did better
    than from the plan without that route: on 6 of the hardest Solomon instances, 47
    vehicles against 50 in 10 s."""
    fewest_possible = _capacity_bound(translation)
    while time.monotonic() < deadline and plan.num_routes() > fewest_possible:
        smallest = min(plan.routes(), key=len)
        fewer = fleet.without_one(fleet.type_of(smallest))
        found = _search_until_feasible(translation, fewer, deadline, seed, reporter)
        if found is None:
            break
        fleet, plan = _on_fleet(translation, fewer, found)
    return fleet, plan


def _capacity_bound(translation: _Translation) -> int:
    """At least this many vehicles, for what leaves the depot on board: its load in each
    measure over the largest capacity. (What is picked up on the way may share room.)"""
    largest = [
        max(c) for c in zip(*(vs[0].capacity for vs in translation.vehicles_of_type), strict=True)
    ]
    bound = 1
    for k, room in enumerate(largest):
        loaded = sum(s.load[k] for s in translation.clients)
        bound = max(bound, -(-loaded // max(room, 1)))
    return bound


def _translate(problem: Problem, required: bool) -> _Translation:
    """The problem as PyVRP data; with every shipment `required`, or each optional with a
    prize larger than serving it can cost."""
    depot_places = sorted({p for v in problem.vehicles for p in (v.start, v.end)})
    visit_places = sorted(
        {
            visit.location
            for s in problem.shipments
            for visit in (s.pickup, s.delivery)
            if visit is not None
        }
    )
    # PyVRP location k stands for problem location `places[k]`.
    places = np.array([*depot_places, *visit_places])
    depot_of = {p: k for k, p in enumerate(depot_places)}
    visit_of = {p: len(depot_places) + k for k, p in enumerate(visit_places)}
    a_visit = np.arange(len(places)) >= len(depot_places)
    new_place = a_visit[None, :] & (places[:, None] != places[None, :])

    timings = sorted({(v.profile, v.stop_time) for v in problem.vehicles})
    profile_of = {t: k for k, t in enumerate(timings)}
    distances, durations = [], []
    for name, stop_time in timings:
        m = problem.matrices[name]
        distances.append(_submatrix(m.distance, places))
        durations.append(_submatrix(m.duration, places) + stop_time * new_place)

    restrictions = sorted(
        {s.profiles for s in problem.shipments if s.profiles is not None}, key=sorted
    )
    dimension_of = {r: len(problem.vehicles[0].capacity) + k for k, r in enumerate(restrictions)}

    def amount(shipment: Shipment) -> list[int]:
        extra = [0] * len(restrictions)
        if shipment.profiles is not None:
            extra[dimension_of[shipment.profiles] - len(shipment.load)] = 1
        return [*shipment.load, *extra]

    prize = 0 if required else _prize(problem)
    clients, client_shipments, shipments, paired = [], [], [], []
    for s in problem.shipments:
        d = s.delivery
        if s.pickup is None:
            clients.append(
                pyvrp.Client(
                    visit_of[d.location],
                    delivery=amount(s),
                    service_duration=d.service,
                    tw_early=d.window.start,
                    tw_late=d.window.end,
                    prize=prize,
                    required=required,
                    name=s.id,
                )
            )
            client_shipments.append(s)
        else:
            p = s.pickup
            shipments.append(
                pyvrp.Shipment(
                    visit_of[p.location],
                    visit_of[d.location],
                    p.window.start,
                    p.window.end,
                    p.service,
                    d.window.start,
                    d.window.end,
                    d.service,
                    amount(s),
                    prize,
                    required,
                    name=s.id,
                )
            )
            paired.append(s)

    groups: dict[tuple[object, ...], list[Vehicle]] = defaultdict(list)
    for v in problem.vehicles:
        groups[_type_key(v)].append(v)
    vehicle_types = []
    for members in groups.values():
        v = members[0]
        unit_distance, unit_duration, fixed_cost = _costs(problem, v, required)
        room = len(problem.shipments) + 1
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=len(members),
                capacity=[*v.capacity, *(room if v.profile in r else 0 for r in restrictions)],
                start_depot=depot_of[v.start],
                end_depot=depot_of[v.end],
                fixed_cost=fixed_cost,
                tw_early=v.shift.start,
                tw_late=v.shift.end,
                max_distance=v.range if v.range is not None else np.iinfo(np.int64).max,
                unit_distance_cost=unit_distance,
                unit_duration_cost=unit_duration,
                profile=profile_of[(v.profile, v.stop_time)],
                name=v.id,
            )
        )
    earliest = min(v.shift.start for v in problem.vehicles)
    latest = max(v.shift.end for v in problem.vehicles)
    data = pyvrp.ProblemData(
        locations=[pyvrp.Location(float(k), 0.0) for k in range(len(places))],
        clients=clients,
        depots=[pyvrp.Depot(depot_of[p], earliest, latest) for p in depot_places],
        vehicle_types=vehicle_types,
        # The stubs ask for an `ndarray[int]`, which no array is typed as.
        distance_matrices=distances,  # type: ignore[arg-type]
        duration_matrices=durations,
        shipments=shipments,
    )
    return _Translation(data, list(groups.values()), client_shipments, paired)


def _submatrix(
    matrix: npt.NDArray[np.int64], places: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    return np.ascontiguousarray(matrix[np.ix_(places, places)], dtype=np.int64)


def _type_key(v: Vehicle) -> tuple[object, ...]:
    return (
        v.start,
        v.end,
        v.capacity,
        v.shift,
        v.profile,
        v.range,
        v.fixed_cost,
        v.cost_per_distance,
        v.cost_per_time,
        v.stop_time,
    )


def _longest_route(problem: Problem) -> int:
    """More than any route could drive: the longest leg, once per step and depot."""
    longest_leg = max(int(m.distance.max()) for m in problem.matrices.values())
    steps = sum(2 if s.pickup else 1 for s in problem.shipments)
    return longest_leg * (steps + 2)


def _costs(problem: Problem, v: Vehicle, required: bool) -> tuple[int, int, int]:
    """Per distance, per time unit, and fixed, in PyVRP's integers. Under
    `vehicles_then_distance` with every shipment required, the rounds of `_fewest_vehicles`
    take the vehicles away; with optional shipments, one more vehicle costs more than a whole
    route could save. (A fixed cost far above that keeps PyVRP's penalties from ever making
    an overloaded plan dearer than one more vehicle: it answers no plan at all.)"""
    if problem.objective == "cost":
        return (
            round(v.cost_per_distance * COST_SCALE),
            round(v.cost_per_time * COST_SCALE),
            v.fixed_cost * COST_SCALE,
        )
    if problem.objective == "vehicles_then_distance" and not required:
        return 1, 0, _longest_route(problem) + 1
    return 1, 0, 0


def _prize(problem: Problem) -> int:
    """More than serving any one shipment can cost: a whole route of the dearest vehicle."""
    horizon = max(v.shift.end for v in problem.vehicles) - min(
        v.shift.start for v in problem.vehicles
    )
    longest = _longest_route(problem)
    dearest = 0
    for v in problem.vehicles:
        per_distance, per_time, fixed = _costs(problem, v, required=False)
        dearest = max(dearest, per_distance * longest + per_time * horizon + fixed)
    return 2 * dearest + 1


def _solution(
    problem: Problem,
    translation: _Translation,
    fleet: _Fleet,
    best: pyvrp.Solution,
    stats: dict[str, float],
) -> Solution:
    free = [list(vs) for vs in translation.vehicles_of_type]
    served: set[str] = set()
    routes = []
    for route in best.routes():
        vehicle = free[fleet.type_of(route)].pop(0)
        order: list[tuple[Literal["pickup", "delivery"], Shipment]] = []
        for activity in route.schedule():
            if activity.is_client():
                order.append(("delivery", translation.clients[activity.idx]))
            elif activity.is_pickup():
                order.append(("pickup", translation.shipments[activity.idx]))
            elif activity.is_delivery():
                order.append(("delivery", translation.shipments[activity.idx]))
        steps: list[Step] = steps_of(order)
        served |= {step.shipment.id for step in steps}
        routes.append(route_along(problem, vehicle, steps))
    unassigned = [
        Unassigned(s.id, "no_room", NO_ROOM) for s in problem.shipments if s.id not in served
    ]
    return Solution(routes, unassigned, 0.0, "solved", stats)
