"""The problem's objective measured on a plan's routes, the same for every engine (each engine
scores plans in units of its own), and the order in which plans are ranked."""

from collections.abc import Sequence

from logistics.model import Problem, Route, Solution


def route_cost(problem: Problem, route: Route) -> float:
    """What a vehicle costs for its route: fixed, per distance and per time unit."""
    vehicle = next(v for v in problem.vehicles if v.id == route.vehicle_id)
    return (
        vehicle.fixed_cost
        + vehicle.cost_per_distance * route.distance
        + vehicle.cost_per_time * route.duration
    )


def total_distance(routes: Sequence[Route]) -> int:
    return sum(route.distance for route in routes)


def objective_value(problem: Problem, solution: Solution) -> float:
    """The cost of the plan under the objective `cost`, its distance otherwise (under
    `vehicles_then_distance` the vehicles come first: see `rank`)."""
    if problem.objective == "cost":
        return sum(route_cost(problem, r) for r in solution.routes)
    return float(total_distance(solution.routes))


def rank(problem: Problem, solution: Solution) -> tuple[int, int, float]:
    """Fewest unassigned, then fewest vehicles when the objective ranks them first, then the
    objective's value: the smaller the better."""
    vehicles = len(solution.routes) if problem.objective == "vehicles_then_distance" else 0
    return len(solution.unassigned), vehicles, objective_value(problem, solution)


def best_plan(problem: Problem, solutions: Sequence[Solution]) -> Solution:
    return min(solutions, key=lambda s: rank(problem, s))
