"""Readers of public benchmark instances, apart from the solver: Solomon and Gehring &
Homberger VRPTW (one text format) and Li & Lim PDPTW. Euclidean distances are scaled by
SCALE to integers: costs rounded, travel times rounded up, so that a plan feasible in
integers is feasible in double precision."""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from logistics.model import Matrices, Problem, Shipment, Vehicle, Visit, Window

SCALE = 1000


@dataclass(frozen=True)
class Instance:
    name: str
    problem: Problem
    # Node coordinates as in the file (node 0 is the depot), demands, windows and service,
    # for checking a solution in double precision.
    xy: list[tuple[float, float]]
    demand: list[float]
    ready: list[float]
    due: list[float]
    service: list[float]
    capacity: float
    speed: float = 1.0


def _matrices(xy: list[tuple[float, float]], speed: float = 1.0) -> Matrices:
    points = np.array(xy, dtype=float)
    euclid = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    return Matrices(
        distance=np.rint(euclid * SCALE).astype(np.int64),
        duration=np.ceil(euclid / speed * SCALE - 1e-6).astype(np.int64),
    )


def _window(ready: float, due: float) -> Window:
    return Window(math.ceil(ready * SCALE), math.floor(due * SCALE))


def read_solomon(path: Path) -> Instance:
    """Solomon (100 customers) and Gehring & Homberger (200 and more) share this format."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    name = lines[0][0]
    fleet, capacity = next(
        (int(a), float(b)) for a, b, *_ in (ln for ln in lines if len(ln) == 2 and ln[0].isdigit())
    )
    rows = [[float(x) for x in ln] for ln in lines if len(ln) == 7 and ln[0].isdigit()]
    xy = [(r[1], r[2]) for r in rows]
    demand, ready, due, service = ([r[i] for r in rows] for i in (3, 4, 5, 6))
    horizon = _window(ready[0], due[0])
    vehicles = [Vehicle(f"v{k + 1}", 0, 0, (int(capacity),), horizon) for k in range(fleet)]
    shipments = [
        Shipment(
            str(i),
            Visit(i, _window(ready[i], due[i]), round(service[i] * SCALE)),
            (int(demand[i]),),
        )
        for i in range(1, len(rows))
    ]
    problem = Problem(vehicles, shipments, {"default": _matrices(xy)})
    return Instance(name, problem, xy, demand, ready, due, service, capacity)


def read_li_lim(path: Path) -> Instance:
    """Li & Lim PDPTW: `K Q speed`, then `id x y demand ready due service pickup delivery`
    per task, task 0 the depot; a pickup has demand > 0 and names its delivery. The files in
    circulation put 0 in the speed field, for the convention of unit speed (travel time =
    distance): read so."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    fleet, capacity = int(lines[0][0]), float(lines[0][1])
    speed = float(lines[0][2]) if len(lines[0]) > 2 and float(lines[0][2]) > 0 else 1.0
    rows = {int(r[0]): [float(x) for x in r[1:]] for r in lines[1:]}
    ids = sorted(rows)
    xy = [(rows[i][0], rows[i][1]) for i in ids]
    demand, ready, due, service = ([rows[i][k] for i in ids] for k in (2, 3, 4, 5))
    horizon = _window(ready[0], due[0])
    vehicles = [Vehicle(f"v{k + 1}", 0, 0, (int(capacity),), horizon) for k in range(fleet)]
    shipments = []
    for i in ids[1:]:
        _, _, q, r, d, s, _, delivery = rows[i]
        if q > 0:
            j = int(delivery)
            shipments.append(
                Shipment(
                    str(i),
                    delivery=Visit(j, _window(ready[j], due[j]), round(service[j] * SCALE)),
                    load=(int(q),),
                    pickup=Visit(i, _window(r, d), round(s * SCALE)),
                )
            )
    problem = Problem(vehicles, shipments, {"default": _matrices(xy, speed)})
    return Instance(path.stem, problem, xy, demand, ready, due, service, capacity, speed)


def check_routes(
    instance: Instance, routes: list[list[int]], *, paired: bool = False
) -> tuple[bool, float, str]:
    """Re-checks a solution in double precision: every customer once, capacity, windows and
    the return to the depot; answers (feasible, distance, the first problem found)."""
    customers = set(range(1, len(instance.xy)))
    seen = [node for route in routes for node in route]
    if sorted(seen) != sorted(customers):
        return False, math.nan, "customers are not each visited exactly once"
    if paired:
        position = {node: (r, k) for r, route in enumerate(routes) for k, node in enumerate(route)}
        for shipment in instance.problem.shipments:
            assert shipment.pickup is not None
            (rp, kp), (rd, kd) = (
                position[shipment.pickup.location],
                position[shipment.delivery.location],
            )
            if rp != rd or kp > kd:
                return (
                    False,
                    math.nan,
                    f"shipment {shipment.id} is not picked up before its delivery on one route",
                )
    total = 0.0
    for route in routes:
        clock, here = instance.ready[0], 0
        load = 0.0 if paired else sum(instance.demand[n] for n in route)
        if load > instance.capacity + 1e-9:
            return False, math.nan, f"route {route} exceeds the capacity"
        for node in [*route, 0]:
            leg = math.dist(instance.xy[here], instance.xy[node])
            total += leg
            clock = max(clock + leg / instance.speed, instance.ready[node])
            if clock > instance.due[node] + 1e-9:
                return (
                    False,
                    math.nan,
                    f"node {node} reached at {clock:.3f} after its due time {instance.due[node]}",
                )
            clock += instance.service[node]
            if paired:
                load += instance.demand[node]
                if load > instance.capacity + 1e-9:
                    return False, math.nan, f"route {route} exceeds the capacity at node {node}"
            here = node
    return True, total, ""
