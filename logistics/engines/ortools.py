"""OR-Tools routing, configured for shared rounds: pickup-and-delivery pairs on one vehicle,
one capacity dimension per load measure, a time dimension with windows, service and waiting,
range as a distance dimension, transit costs registered as matrices (no Python callback per
arc), and every shipment optional with a penalty, so that one that cannot be served comes
back unassigned with its reason instead of failing the plan.

The search is one of OR-Tools' local-search metaheuristics (guided local search by default)
or its iterated local search with SISR ruin-and-recreate. With the hierarchical objective it
runs in three phases: a first plan, then rounds that each take a route away, the smallest
first, and ask the search to place its shipments in the others (a vehicle fewer), then the
rest of the time on distance alone with the vehicles left. `PORTFOLIO` holds searches that
reach different plans, for `logistics.portfolio` to run beside the other engines."""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import (
    pywrapcp,
    routing_enums_pb2,
    routing_ils_pb2,
    routing_parameters_pb2,
)

from logistics.model import (
    NO_PLAN_IN_TIME,
    NO_ROOM,
    Objective,
    Problem,
    Route,
    Shipment,
    Solution,
    Unassigned,
    Vehicle,
    Visit,
    Window,
)
from logistics.objective import objective_value, total_distance
from logistics.progress import ImprovementReporter
from logistics.schedule import Step, route_along

# Iterated local search with SISR ruin-and-recreate (Christiaens and Vanden Berghe,
# "Slack Induction by String Removals", Transportation Science 2020), beside OR-Tools' own
# local-search metaheuristics.
ITERATED_LOCAL_SEARCH = "ITERATED_LOCAL_SEARCH"

# On Solomon, a reduction round whose first slice left out at most 3 % of the shipments
# often succeeded in the next; none that left out more than that did.
FAR_MISS_SHARE = 0.05


@dataclass(frozen=True)
class SolverOptions:
    """The defaults are what plans a day of pickups and deliveries by bikes and vans on the
    road network best: on the `make run` demo day, guided local search throughout gave
    129.5 km, guided then iterated local search 133.3 km, iterated throughout 141.8 km."""

    time_limit_s: float = 10.0
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    # The last phase's search, on distance with the vehicles left.
    polish_metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    # Share of the time for the first plan, and at most for each vehicle-reduction round.
    first_phase_share: float = 0.3
    reduction_round_share: float = 0.2
    # A reduction round searches a first slice of this share; unless that serves every
    # shipment with a vehicle fewer, one more search from its plan takes the rest of the round.
    reduction_slice_share: float = 0.2
    # Share of the time kept for the last phase, on distance with the vehicles left.
    polish_share: float = 0.3
    # The last phase starts over from the first-solution strategy on the vehicles left,
    # instead of from the rounds' plan (the better of the two is kept), then finishes with
    # guided local search. Iterated local search moves away from a good start and rarely finds
    # its way back in a few seconds.
    polish_from_first_solution: bool = False
    # When it starts over, the share of the last phase left at its end for guided local search
    # from the better plan: on a fleet the rounds only just reached, starting over may not
    # serve every shipment in time, and the rounds' plan then still gets shortened.
    finish_share: float = 0.3
    # After a failed reduction round, try to take away another route instead of going on to
    # the last phase.
    retry_failed_rounds: bool = True
    # A reduction round whose first slice leaves out more than FAR_MISS_SHARE of the
    # shipments gives up at once, and no other route is tried either.
    give_up_far_misses: bool = False
    log_search: bool = False


@dataclass(frozen=True)
class _Node:
    location: int
    window: tuple[int, int]
    service: int
    demand: tuple[int, ...]
    shipment: Shipment | None
    kind: str


class _Model:
    """One OR-Tools model of the problem for a given fleet."""

    def __init__(
        self,
        problem: Problem,
        vehicles: list[Vehicle],
        shipments: list[Shipment],
        reporter: ImprovementReporter,
        objective: Objective | None = None,
    ) -> None:
        self.problem, self.vehicles, self.shipments = problem, vehicles, shipments
        self.reporter = reporter
        self.objective = objective or problem.objective
        self.paired = any(s.pickup is not None for s in shipments)
        self.nodes = self._nodes()
        n_vehicles = len(vehicles)
        self.manager = pywrapcp.RoutingIndexManager(
            len(self.nodes),
            n_vehicles,
            [2 * v for v in range(n_vehicles)],
            [2 * v + 1 for v in range(n_vehicles)],
        )
        self.routing = pywrapcp.RoutingModel(self.manager)
        # A first-solution hint must outlive the search that follows it.
        self._hint: pywrapcp.Assignment | None = None
        self._build()
        self._reported_cost = float("inf")
        self.routing.AddAtSolutionCallback(self._report)

    def copy(self) -> "_Model":
        return _Model(self.problem, self.vehicles, self.shipments, self.reporter, self.objective)

    def _report(self) -> None:
        # Called at each plan the search finds, with the model's variables bound to it.
        cost = self.routing.CostVar().Value()
        if cost < self._reported_cost:
            self._reported_cost = cost
            node_routes = self._node_routes(lambda var: var.Value())
            self.reporter.found(partial(self._plan_of, node_routes))
        else:
            self.reporter.tick()

    def _nodes(self) -> list[_Node]:
        zero = (0,) * len(self.vehicles[0].capacity)
        nodes: list[_Node] = []
        for v in self.vehicles:
            nodes.append(_Node(v.start, (v.shift.start, v.shift.end), 0, zero, None, "start"))
            nodes.append(_Node(v.end, (v.shift.start, v.shift.end), 0, zero, None, "end"))
        widest = Window(
            min(v.shift.start for v in self.vehicles), max(v.shift.end for v in self.vehicles)
        )
        for s in self.shipments:
            if self.paired:
                # A shipment without a pickup is picked up at the (first) depot.
                p = s.pickup or Visit(self.vehicles[0].start, widest, 0)
                nodes.append(
                    _Node(
                        p.location, (p.window.start, p.window.end), p.service, s.load, s, "pickup"
                    )
                )
                load = tuple(-q for q in s.load)
            else:
                # Only depot-loaded deliveries: the capacity dimension counts what was delivered.
                load = s.load
            d = s.delivery
            nodes.append(
                _Node(d.location, (d.window.start, d.window.end), d.service, load, s, "delivery")
            )
        return nodes

    def _build(self) -> None:
        problem, routing, manager, nodes = self.problem, self.routing, self.manager, self.nodes
        solver = routing.solver()
        n_vehicles = len(self.vehicles)
        locations = np.array([n.location for n in nodes])
        service = np.array([n.service for n in nodes], dtype=np.int64)
        visit = np.array([n.shipment is not None for n in nodes], dtype=np.int64)
        self.distance: dict[str, npt.NDArray[np.int64]] = {}
        for profile, m in problem.matrices.items():
            self.distance[profile] = m.distance[np.ix_(locations, locations)].astype(np.int64)
        # Time to go from a node to the next: its service, the travel, and on reaching a new
        # place the vehicle's stop time (parking once serves every shipment handled there).
        # One matrix per profile and stop time.
        self.travel: dict[str, npt.NDArray[np.int64]] = {
            p: m.duration[np.ix_(locations, locations)].astype(np.int64)
            for p, m in problem.matrices.items()
        }
        new_place = visit[None, :] * (locations[:, None] != locations[None, :])
        self.duration: dict[tuple[str, int], npt.NDArray[np.int64]] = {}
        for vehicle in self.vehicles:
            key = _timing(vehicle)
            if key not in self.duration:
                self.duration[key] = (
                    self.travel[vehicle.profile] + service[:, None] + vehicle.stop_time * new_place
                )
        distance_cb = {
            p: routing.RegisterTransitMatrix(d.tolist()) for p, d in self.distance.items()
        }
        time_cb = {k: routing.RegisterTransitMatrix(d.tolist()) for k, d in self.duration.items()}

        for v, vehicle in enumerate(self.vehicles):
            if self.objective == "cost":
                cost = np.rint(
                    vehicle.cost_per_distance * self.distance[vehicle.profile]
                    + vehicle.cost_per_time * self.duration[_timing(vehicle)]
                ).astype(np.int64)
                routing.SetArcCostEvaluatorOfVehicle(
                    routing.RegisterTransitMatrix(cost.tolist()), v
                )
                routing.SetFixedCostOfVehicle(vehicle.fixed_cost, v)
            else:
                routing.SetArcCostEvaluatorOfVehicle(distance_cb[vehicle.profile], v)
        longest_route = int(sum(int(d.max()) for d in self.distance.values()) * len(nodes))
        if self.objective == "vehicles_then_distance":
            # One more vehicle always costs more than any distance it could save.
            routing.SetFixedCostOfAllVehicles(longest_route + 1)
        vehicle_cost = max(routing.GetFixedCostOfVehicle(v) for v in range(n_vehicles))
        penalty = 10 * (longest_route + vehicle_cost + 1) * max(1, n_vehicles)

        for k in range(len(self.vehicles[0].capacity)):
            demand_cb = routing.RegisterUnaryTransitVector([int(n.demand[k]) for n in nodes])
            routing.AddDimensionWithVehicleCapacity(
                demand_cb, 0, [int(v.capacity[k]) for v in self.vehicles], True, f"load{k}"
            )

        horizon = max(v.shift.end for v in self.vehicles)
        routing.AddDimensionWithVehicleTransits(
            [time_cb[_timing(v)] for v in self.vehicles], horizon, horizon, False, "time"
        )
        self.time = routing.GetDimensionOrDie("time")
        for i in range(2 * n_vehicles, len(nodes)):
            self.time.CumulVar(manager.NodeToIndex(i)).SetRange(*nodes[i].window)
        for v, vehicle in enumerate(self.vehicles):
            self.time.CumulVar(routing.Start(v)).SetRange(vehicle.shift.start, vehicle.shift.end)
            self.time.CumulVar(routing.End(v)).SetRange(vehicle.shift.start, vehicle.shift.end)
            routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(routing.End(v)))

        if any(v.range is not None for v in self.vehicles):
            routing.AddDimensionWithVehicleTransitAndCapacity(
                [distance_cb[v.profile] for v in self.vehicles],
                0,
                [int(v.range) if v.range is not None else longest_route for v in self.vehicles],
                True,
                "distance",
            )

        for s_index, shipment in enumerate(self.shipments):
            if self.paired:
                pickup = manager.NodeToIndex(2 * n_vehicles + 2 * s_index)
                delivery = manager.NodeToIndex(2 * n_vehicles + 2 * s_index + 1)
                routing.AddPickupAndDelivery(pickup, delivery)
                solver.Add(routing.VehicleVar(pickup) == routing.VehicleVar(delivery))
                solver.Add(self.time.CumulVar(pickup) <= self.time.CumulVar(delivery))
                routing.AddDisjunction([pickup, delivery], penalty, 2)
                indices = [pickup, delivery]
            else:
                indices = [manager.NodeToIndex(2 * n_vehicles + s_index)]
                routing.AddDisjunction(indices, penalty)
            if shipment.profiles is not None:
                allowed = [
                    v
                    for v, vehicle in enumerate(self.vehicles)
                    if vehicle.profile in shipment.profiles
                ]
                for index in indices:
                    # -1 is the vehicle of an unperformed node.
                    routing.VehicleVar(index).SetValues([-1, *allowed])

    def search(
        self,
        options: SolverOptions,
        seconds: float,
        initial: list[list[int]] | None = None,
        metaheuristic: str | None = None,
    ) -> pywrapcp.Assignment | None:
        """Searches from the first-solution strategy, or from `initial` routes (node lists;
        shipments left out of them are inserted or left unperformed)."""
        parameters = pywrapcp.DefaultRoutingSearchParameters()
        parameters.first_solution_strategy = getattr(
            routing_enums_pb2.FirstSolutionStrategy, options.first_solution
        )
        parameters.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
        parameters.log_search = options.log_search
        metaheuristic = metaheuristic or options.metaheuristic
        if metaheuristic == ITERATED_LOCAL_SEARCH:
            # OR-Tools 9.15's iterated local search never returns when there are fewer
            # visits than vehicles (every such case of a stress test hung, no other did).
            if len(self.nodes) - 2 * len(self.vehicles) >= len(self.vehicles):
                return self._iterated_local_search(parameters, options, initial)
            metaheuristic = "GUIDED_LOCAL_SEARCH"
        parameters.local_search_metaheuristic = getattr(
            routing_enums_pb2.LocalSearchMetaheuristic, metaheuristic
        )
        if initial is None:
            return self.routing.SolveWithParameters(parameters)
        self.routing.CloseModelWithParameters(parameters)
        start = self._assignment(initial)
        if start is None:
            return self.routing.SolveWithParameters(parameters)
        return self.routing.SolveFromAssignmentWithParameters(start, parameters)

    def _iterated_local_search(
        self,
        parameters: routing_parameters_pb2.RoutingSearchParameters,
        options: SolverOptions,
        initial: list[list[int]] | None,
    ) -> pywrapcp.Assignment | None:
        # Each perturbation ruins strings of visits and reinserts them; a greedy descent
        # improves the result, which simulated annealing accepts or not.
        parameters.use_iterated_local_search = True
        parameters.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
        )
        ils = parameters.iterated_local_search_parameters
        ruin = ils.ruin_recreate_parameters.ruin_strategies.add().sisr
        # The paper's values; 5 or 20 visits removed on average did worse on Solomon.
        ruin.max_removed_sequence_size = 10
        ruin.avg_num_removed_visits = 10
        ruin.bypass_factor = 0.01
        # Of the insertions tried for the recreate, the one that weighs the whole cost did best.
        ils.ruin_recreate_parameters.recreate_strategy.heuristic = (
            routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_COST_INSERTION
        )
        ils.improve_perturbed_solution = True
        annealing = ils.reference_solution_acceptance_strategy.simulated_annealing
        annealing.cooling_schedule_strategy = routing_ils_pb2.CoolingScheduleStrategy.EXPONENTIAL
        annealing.automatic_temperatures = True
        ils.best_solution_acceptance_strategy.greedy_descent.SetInParent()
        if initial is not None:
            # The only way in for a start: local cheapest insertion follows a hint. The hint
            # is dropped at the first solution, or every recreate would rebuild the start.
            parameters.first_solution_strategy = (
                routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION
            )
            self.routing.CloseModelWithParameters(parameters)
            self._hint = self._assignment(initial)
            if self._hint is not None:
                self.routing.SetFirstSolutionHint(self._hint)
                self.routing.AddAtSolutionCallback(self._drop_hint)
        return self.routing.SolveWithIteratedLocalSearch(parameters)

    def _drop_hint(self) -> None:
        if self._hint is not None:
            self.routing.SetFirstSolutionHint(None)
            self._hint = None

    def _assignment(self, routes: list[list[int]]) -> pywrapcp.Assignment | None:
        as_indices = [[self.manager.NodeToIndex(node) for node in route] for route in routes]
        return self.routing.ReadAssignmentFromRoutes(as_indices, True)

    def node_routes(self, assignment: pywrapcp.Assignment) -> list[list[int]]:
        """Each vehicle's visited nodes, starts and ends excluded (empty for an idle one)."""
        return self._node_routes(assignment.Value)

    def _node_routes(self, value: Callable[[pywrapcp.IntVar], int]) -> list[list[int]]:
        routes = []
        for v in range(len(self.vehicles)):
            index, route = value(self.routing.NextVar(self.routing.Start(v))), []
            while not self.routing.IsEnd(index):
                route.append(self.manager.IndexToNode(index))
                index = value(self.routing.NextVar(index))
            routes.append(route)
        return routes

    def served(self, assignment: pywrapcp.Assignment) -> set[str]:
        return {
            shipment.id
            for route in self.node_routes(assignment)
            for node in route
            if (shipment := self.nodes[node].shipment) is not None
        }

    def routes(self, assignment: pywrapcp.Assignment) -> list[Route]:
        return self._routes_along(self.node_routes(assignment))

    def _plan_of(self, node_routes: list[list[int]]) -> Solution:
        routes = self._routes_along(node_routes)
        served = {shipment_id for route in routes for shipment_id in route.shipment_ids}
        unassigned = [
            Unassigned(s.id, "no_room", NO_ROOM) for s in self.shipments if s.id not in served
        ]
        return Solution(routes, unassigned, 0.0, "solved")

    def _routes_along(self, node_routes: list[list[int]]) -> list[Route]:
        routes = []
        for vehicle, node_route in zip(self.vehicles, node_routes, strict=True):
            if node_route:
                steps = [self._step(node) for node in node_route]
                routes.append(route_along(self.problem, vehicle, steps))
        return routes

    def _step(self, node: int) -> Step:
        n = self.nodes[node]
        assert n.shipment is not None and n.kind in ("pickup", "delivery")
        kind: Literal["pickup", "delivery"] = "pickup" if n.kind == "pickup" else "delivery"
        return Step(kind, n.shipment, Visit(n.location, Window(*n.window), n.service))


def solve(
    problem: Problem,
    options: SolverOptions = SolverOptions(),
    reporter: ImprovementReporter | None = None,
) -> Solution:
    started = time.monotonic()
    deadline = started + options.time_limit_s
    unassigned: list[Unassigned] = []
    servable = problem.shipments
    if not servable:
        return Solution([], [], 0.0, "solved", {"seconds": 0.0})
    reporter = reporter or ImprovementReporter(problem, "ortools")

    reduce_vehicles = problem.objective == "vehicles_then_distance"
    first_budget = options.time_limit_s * (options.first_phase_share if reduce_vehicles else 1.0)
    model = _Model(problem, problem.vehicles, servable, reporter)
    assignment = model.search(options, first_budget)
    if assignment is None:
        unassigned += [Unassigned(s.id, "no_room", NO_PLAN_IN_TIME) for s in servable]
        return Solution([], unassigned, 0.0, "no_solution", {"seconds": time.monotonic() - started})
    served = model.served(assignment)
    rounds = 0

    failed: set[str] = set()
    while (
        reduce_vehicles
        and deadline - time.monotonic() > options.time_limit_s * options.polish_share
    ):
        # Take away the vehicle of the smallest route and see whether the others absorb it.
        node_routes = model.node_routes(assignment)
        used = [v for v, r in enumerate(node_routes) if r]
        if len(used) <= 1:
            break
        tried = [v for v in used if _route_key(model, node_routes[v]) not in failed]
        if not tried or (failed and not options.retry_failed_rounds):
            break
        smallest = min(tried, key=lambda v: len(node_routes[v]))
        keep = [v for v in used if v != smallest]
        fleet = [model.vehicles[v] for v in keep]
        candidate = _Model(problem, fleet, servable, reporter)
        budget = min(
            options.time_limit_s * options.reduction_round_share,
            deadline - time.monotonic() - options.time_limit_s * options.polish_share * 0.66,
        )
        initial = [_renumber(node_routes[v], model, candidate) for v in keep]
        absorbed, left_out = _search_until_served(candidate, options, budget, initial, served)
        rounds += 1
        if absorbed is None:
            if options.give_up_far_misses and _far_miss(left_out, served):
                # Far from absorbing it: the fleet is as small as this search will make it.
                break
            # Another route may be easier to absorb.
            failed.add(_route_key(model, node_routes[smallest]))
            continue
        model, assignment = absorbed
        served = model.served(assignment)
        failed.clear()

    if reduce_vehicles:
        finish = options.polish_metaheuristic
        if options.polish_from_first_solution:
            restart_s = (deadline - time.monotonic()) * (1 - options.finish_share)
            model, assignment = _shorten(
                model, assignment, options, restart_s, options.polish_metaheuristic, restart=True
            )
            finish = "GUIDED_LOCAL_SEARCH"
        model, assignment = _shorten(
            model, assignment, options, deadline - time.monotonic(), finish, restart=False
        )

    routes = model.routes(assignment)
    unassigned += [Unassigned(s.id, "no_room", NO_ROOM) for s in servable if s.id not in served]
    stats = {"seconds": time.monotonic() - started, "reduction_rounds": rounds}
    solution = Solution(routes, unassigned, 0.0, "solved", stats)
    return replace(solution, objective=objective_value(problem, solution))


# Two searches that reach different plans, for a machine with two cores, both on iterated
# local search throughout, in reduction rounds that give up on a far miss, and both
# starting the last phase over from their first-solution strategy: on the long routes of
# series 2, where the distance gap lies, that came closest to the best-known. The two differ
# where it pays on the Solomon set (one depot, one vehicle type, windows) at 10 s each
# (bench/README.md):
# - parallel cheapest insertion, a short first phase, and on to distance after the first
#   failed round;
# - sequential cheapest insertion, whose iterated local search ends elsewhere (from the same
#   plans of series 2, 3.9 % against 4.2 % mean gap, 2.9 % for the better of the two per
#   instance), a longer first phase, rounds of up to half the time, another route tried
#   after a near miss, and the rounds go on until 12 % of the time is left: it wins the
#   vehicles the first misses.
# Both finish with guided local search from the better plan, which shortens the plans of a
# fleet won late, where starting over may not serve every shipment in time.
PORTFOLIO = (
    SolverOptions(
        metaheuristic=ITERATED_LOCAL_SEARCH,
        polish_metaheuristic=ITERATED_LOCAL_SEARCH,
        first_phase_share=0.15,
        reduction_round_share=0.25,
        reduction_slice_share=0.08,
        polish_from_first_solution=True,
        retry_failed_rounds=False,
        give_up_far_misses=True,
    ),
    SolverOptions(
        first_solution="SEQUENTIAL_CHEAPEST_INSERTION",
        metaheuristic=ITERATED_LOCAL_SEARCH,
        polish_metaheuristic=ITERATED_LOCAL_SEARCH,
        first_phase_share=0.25,
        reduction_round_share=0.5,
        reduction_slice_share=0.08,
        polish_share=0.12,
        polish_from_first_solution=True,
        give_up_far_misses=True,
    ),
)


def _shorten(
    model: _Model,
    assignment: pywrapcp.Assignment,
    options: SolverOptions,
    seconds: float,
    metaheuristic: str,
    restart: bool,
) -> tuple[_Model, pywrapcp.Assignment]:
    """Searches on distance alone with the vehicles in use, from the plan or over from the
    first-solution strategy, and answers the new plan when it serves the same shipments in
    fewer km, the plan given otherwise."""
    if seconds <= 0.05:
        return model, assignment
    # Without the vehicles' fixed cost, which guided local search would otherwise spend its
    # penalties on (the arcs out of the depot carry it), the search works on distance.
    node_routes = model.node_routes(assignment)
    used = [v for v, r in enumerate(node_routes) if r]
    shorter = _Model(
        model.problem,
        [model.vehicles[v] for v in used],
        model.shipments,
        model.reporter,
        "distance",
    )
    start = None if restart else [_renumber(node_routes[v], model, shorter) for v in used]
    found = shorter.search(options, seconds, start, metaheuristic)
    # Iterated local search does not count the plan it starts from as its best, so it may
    # answer a longer one.
    if (
        found is not None
        and shorter.served(found) == model.served(assignment)
        and total_distance(shorter.routes(found)) < total_distance(model.routes(assignment))
    ):
        return shorter, found
    return model, assignment


def _search_until_served(
    model: _Model,
    options: SolverOptions,
    budget: float,
    initial: list[list[int]],
    wanted: set[str],
) -> tuple[tuple[_Model, pywrapcp.Assignment] | None, int]:
    """Searches a first slice from `initial`, then, unless it served every shipment in
    `wanted` or left out so many that the round gives up, once more from its plan for the
    rest of the budget. Answers the plan that serves them all (None when there is none) and
    the fewest shipments a search left out.

    Iterated local search cannot be stopped at its first complete plan (it runs to its time
    limit), and restarting it in short slices from the best plan wins the last vehicle less
    often than one long search: from 23 plans where the slices had stalled, one search won
    7 in 4 s and 8 in 6 s."""
    deadline = time.monotonic() + budget
    slice_s = options.time_limit_s * options.reduction_slice_share
    start, left_out = initial, len(wanted)
    for first in (True, False):
        left = deadline - time.monotonic()
        if left <= 0.01:
            break
        # The first slice takes the whole budget rather than leave a scrap too short to search.
        seconds = slice_s if first and left >= 1.5 * slice_s else left
        trial = model.search(options, seconds, start)
        if trial is None:
            break
        missing = len(wanted - model.served(trial))
        if missing == 0:
            return (model, trial), 0
        left_out = min(left_out, missing)
        if not first or (options.give_up_far_misses and _far_miss(missing, wanted)):
            break
        # A routing model solves once; the second search gets its own.
        start, model = model.node_routes(trial), model.copy()
    return None, left_out


def _far_miss(missing: int, wanted: set[str]) -> bool:
    return missing > FAR_MISS_SHARE * len(wanted)


def _timing(vehicle: Vehicle) -> tuple[str, int]:
    return vehicle.profile, vehicle.stop_time


def _route_key(model: _Model, route: list[int]) -> str:
    shipments = (model.nodes[n].shipment for n in route)
    return ",".join(sorted(s.id for s in shipments if s is not None))


def _renumber(route: list[int], source: _Model, target: _Model) -> list[int]:
    """Shipment nodes keep their order after the fleet's start and end nodes; only the
    number of vehicles in front of them changes."""
    shift = 2 * (len(target.vehicles) - len(source.vehicles))
    return [node + shift for node in route]
