"""OR-Tools routing, configured for shared rounds: pickup-and-delivery pairs on one vehicle,
one capacity dimension per load measure, a time dimension with windows, service and waiting,
range as a distance dimension, transit costs registered as matrices (no Python callback per
arc), and every shipment optional with a penalty, so that one that cannot be served comes
back unassigned with its reason instead of failing the plan."""

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from logistics.model import Problem, Route, Shipment, Solution, Stop, Unassigned, Visit, Window
from logistics.precheck import unservable_reason


@dataclass(frozen=True)
class SolverOptions:
    time_limit_s: float = 10.0
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    log_search: bool = False


@dataclass(frozen=True)
class _Node:
    location: int
    window: tuple[int, int]
    service: int
    demand: tuple[int, ...]
    shipment: Shipment | None
    kind: str


def _nodes(problem: Problem, shipments: list[Shipment], paired: bool) -> list[_Node]:
    dims = len(problem.vehicles[0].capacity)
    zero = (0,) * dims
    nodes: list[_Node] = []
    for v in problem.vehicles:
        nodes.append(_Node(v.start, (v.shift.start, v.shift.end), 0, zero, None, "start"))
        nodes.append(_Node(v.end, (v.shift.start, v.shift.end), 0, zero, None, "end"))
    for s in shipments:
        if paired:
            pickup = s.pickup or Visit(problem.vehicles[0].start, _widest(problem), 0)
            nodes.append(
                _Node(
                    pickup.location,
                    (pickup.window.start, pickup.window.end),
                    pickup.service,
                    s.load,
                    s,
                    "pickup",
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


def _widest(problem: Problem) -> Window:
    return Window(
        min(v.shift.start for v in problem.vehicles), max(v.shift.end for v in problem.vehicles)
    )


def solve(problem: Problem, options: SolverOptions = SolverOptions()) -> Solution:
    started = time.monotonic()
    unassigned: list[Unassigned] = []
    servable: list[Shipment] = []
    for shipment in problem.shipments:
        reason = unservable_reason(problem, shipment)
        if reason is None:
            servable.append(shipment)
        else:
            unassigned.append(Unassigned(shipment.id, *reason))
    paired = any(s.pickup is not None for s in servable)
    nodes = _nodes(problem, servable, paired)
    n_vehicles = len(problem.vehicles)
    manager = pywrapcp.RoutingIndexManager(
        len(nodes),
        n_vehicles,
        [2 * v for v in range(n_vehicles)],
        [2 * v + 1 for v in range(n_vehicles)],
    )
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()

    locations = np.array([n.location for n in nodes])
    service = np.array([n.service for n in nodes], dtype=np.int64)
    distance: dict[str, npt.NDArray[np.int64]] = {}
    duration: dict[str, npt.NDArray[np.int64]] = {}
    for profile, m in problem.matrices.items():
        distance[profile] = m.distance[np.ix_(locations, locations)].astype(np.int64)
        # Time to leave a node for the next: its service, then the travel.
        duration[profile] = (
            m.duration[np.ix_(locations, locations)].astype(np.int64) + service[:, None]
        )

    distance_cb = {p: routing.RegisterTransitMatrix(d.tolist()) for p, d in distance.items()}
    time_cb = {p: routing.RegisterTransitMatrix(d.tolist()) for p, d in duration.items()}

    # Costs.
    for v, vehicle in enumerate(problem.vehicles):
        if problem.objective == "cost":
            cost = np.rint(
                vehicle.cost_per_distance * distance[vehicle.profile]
                + vehicle.cost_per_time * duration[vehicle.profile]
            ).astype(np.int64)
            routing.SetArcCostEvaluatorOfVehicle(routing.RegisterTransitMatrix(cost.tolist()), v)
            routing.SetFixedCostOfVehicle(vehicle.fixed_cost, v)
        else:
            routing.SetArcCostEvaluatorOfVehicle(distance_cb[vehicle.profile], v)
    longest_route = int(sum(int(d.max()) for d in distance.values()) * len(nodes))
    if problem.objective == "vehicles_then_distance":
        # One more vehicle always costs more than any distance it could save.
        routing.SetFixedCostOfAllVehicles(longest_route + 1)
    vehicle_cost = max([routing.GetFixedCostOfVehicle(v) for v in range(n_vehicles)] + [0])
    penalty = 10 * (longest_route + vehicle_cost + 1)

    # Capacities, one dimension per load measure.
    for k in range(len(problem.vehicles[0].capacity)):
        demand_cb = routing.RegisterUnaryTransitVector([int(n.demand[k]) for n in nodes])
        routing.AddDimensionWithVehicleCapacity(
            demand_cb, 0, [int(v.capacity[k]) for v in problem.vehicles], True, f"load{k}"
        )

    # Time: windows, service and waiting.
    horizon = max(v.shift.end for v in problem.vehicles)
    routing.AddDimensionWithVehicleTransits(
        [time_cb[v.profile] for v in problem.vehicles], horizon, horizon, False, "time"
    )
    time_dim = routing.GetDimensionOrDie("time")
    for i, node in enumerate(nodes[2 * n_vehicles :], start=2 * n_vehicles):
        time_dim.CumulVar(manager.NodeToIndex(i)).SetRange(*node.window)
    for v, vehicle in enumerate(problem.vehicles):
        time_dim.CumulVar(routing.Start(v)).SetRange(vehicle.shift.start, vehicle.shift.end)
        time_dim.CumulVar(routing.End(v)).SetRange(vehicle.shift.start, vehicle.shift.end)
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(v)))
        if problem.objective == "cost" and vehicle.cost_per_time:
            time_dim.SetSpanCostCoefficientForVehicle(0, v)

    # Range.
    if any(v.range is not None for v in problem.vehicles):
        routing.AddDimensionWithVehicleTransitAndCapacity(
            [distance_cb[v.profile] for v in problem.vehicles],
            0,
            [int(v.range) if v.range is not None else longest_route for v in problem.vehicles],
            True,
            "distance",
        )

    # Shipments: pairs on one vehicle, pickup first; each optional with a penalty.
    first_shipment_node = 2 * n_vehicles
    step = 2 if paired else 1
    for s_index in range(len(servable)):
        delivery_node = first_shipment_node + step * s_index + (1 if paired else 0)
        delivery = manager.NodeToIndex(delivery_node)
        if paired:
            pickup = manager.NodeToIndex(delivery_node - 1)
            routing.AddPickupAndDelivery(pickup, delivery)
            solver.Add(routing.VehicleVar(pickup) == routing.VehicleVar(delivery))
            solver.Add(time_dim.CumulVar(pickup) <= time_dim.CumulVar(delivery))
            routing.AddDisjunction([pickup, delivery], penalty, 2)
        else:
            routing.AddDisjunction([delivery], penalty)

    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, options.first_solution
    )
    parameters.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, options.metaheuristic
    )
    parameters.time_limit.FromMilliseconds(int(options.time_limit_s * 1000))
    parameters.log_search = options.log_search
    assignment = routing.SolveWithParameters(parameters)
    elapsed = time.monotonic() - started
    if assignment is None:
        unassigned += [
            Unassigned(s.id, "no_room", "The solver found no plan in time.") for s in servable
        ]
        return Solution([], unassigned, 0, "no_solution", {"seconds": elapsed})

    routes = _routes(problem, routing, manager, assignment, nodes, distance, duration, paired)
    served = {sid for r in routes for sid in r.shipment_ids}
    unassigned += [
        Unassigned(s.id, "no_room", "No vehicle had the capacity or the time left to fit it in.")
        for s in servable
        if s.id not in served
    ]
    return Solution(routes, unassigned, assignment.ObjectiveValue(), "solved", {"seconds": elapsed})


def _routes(
    problem: Problem,
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    assignment: pywrapcp.Assignment,
    nodes: list[_Node],
    distance: dict[str, npt.NDArray[np.int64]],
    duration: dict[str, npt.NDArray[np.int64]],
    paired: bool,
) -> list[Route]:
    time_dim = routing.GetDimensionOrDie("time")
    routes = []
    for v, vehicle in enumerate(problem.vehicles):
        index = routing.Start(v)
        if routing.IsEnd(assignment.Value(routing.NextVar(index))):
            continue
        stops: list[Stop] = []
        load = [0] * len(vehicle.capacity)
        if not paired:
            # Depot-loaded deliveries: the vehicle leaves with all it will deliver.
            load = _loaded_at_start(routing, manager, assignment, nodes, v)
        travelled = 0
        previous: int | None = None
        previous_departure = 0
        while True:
            node = manager.IndexToNode(index)
            n = nodes[node]
            # The earliest service start this route allows; later stops keep their slack.
            start = assignment.Min(time_dim.CumulVar(index))
            if previous is None:
                arrival = start
            else:
                travelled += int(distance[vehicle.profile][previous, node])
                arrival = (
                    previous_departure
                    + int(duration[vehicle.profile][previous, node])
                    - nodes[previous].service
                )
            if n.kind == "pickup" or (n.kind == "delivery" and paired):
                load = [a + b for a, b in zip(load, n.demand, strict=True)]
            elif n.kind == "delivery":
                load = [a - b for a, b in zip(load, n.demand, strict=True)]
            kind = (
                n.kind
                if n.kind in ("pickup", "delivery")
                else ("start" if previous is None else "end")
            )
            stops.append(
                Stop(
                    kind=kind,  # type: ignore[arg-type]
                    location=n.location,
                    shipment_id=n.shipment.id if n.shipment else None,
                    arrival=arrival,
                    start=start,
                    departure=start + n.service,
                    load=tuple(load),
                    distance=travelled,
                )
            )
            previous, previous_departure = node, start + n.service
            if routing.IsEnd(index):
                break
            index = assignment.Value(routing.NextVar(index))
        routes.append(Route(vehicle.id, stops))
    return routes


def _loaded_at_start(
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    assignment: pywrapcp.Assignment,
    nodes: list[_Node],
    vehicle: int,
) -> list[int]:
    total = [0] * len(nodes[0].demand)
    index = assignment.Value(routing.NextVar(routing.Start(vehicle)))
    while not routing.IsEnd(index):
        total = [
            a + b for a, b in zip(total, nodes[manager.IndexToNode(index)].demand, strict=True)
        ]
        index = assignment.Value(routing.NextVar(index))
    return total
