"""Travel matrices from the road network: pgRouting's shortest paths between the network
vertices a plan's places snap to, as the matrices of `logistics.model`. The SQL that builds
the networks and measures them is the service's (`app/route_plans/roads.py`)."""

from collections.abc import Sequence

import numpy as np

from logistics.model import Matrices


def matrices_from_costs(
    vertices: Sequence[int],
    rows: Sequence[tuple[int, int, float]],
    speed_kmh: float,
    unreachable_m: int = 10**7,
) -> Matrices:
    """A distance matrix (metres) and a duration matrix (seconds at `speed_kmh`) for points
    snapped to `vertices`; pairs with no path get `unreachable_m`."""
    position: dict[int, list[int]] = {}
    for i, v in enumerate(vertices):
        position.setdefault(v, []).append(i)
    n = len(vertices)
    distance = np.full((n, n), unreachable_m, dtype=np.int64)
    for i, vi in enumerate(vertices):
        for j, vj in enumerate(vertices):
            if vi == vj:
                distance[i, j] = 0
    for start, end, cost in rows:
        for i in position.get(start, []):
            for j in position.get(end, []):
                distance[i, j] = round(cost)
    duration = np.ceil(distance / (speed_kmh / 3.6)).astype(np.int64)
    return Matrices(distance, duration)
