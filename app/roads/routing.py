"""What a plan's job asks of the road networks (`app.roads.networks`): the distances and
durations between its places, each snapped to its nearest vertex of a network (by the
vertices' spatial index), from the network's graph in memory (`app.roads.graphs`) searched in
child processes; and, through pgRouting, its routes' lines along the streets."""

import asyncio
import itertools
import json
from collections.abc import Sequence

import numpy as np
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs.child_process import call_in_child_process
from app.kit.statement_deadline import StatementDeadline
from app.roads.graphs import ROAD_GRAPHS, RoadGraphs, assembled, distances_by_network
from app.roads.networks import known_network
from logistics.matrices import Profile
from logistics.model import Matrices


def _edges(network: str) -> str:
    """The query pgRouting reads the network's edges with (bound as `:edges`)."""
    return (
        f"SELECT id, source, target, cost, reverse_cost FROM roads.edges_{known_network(network)}"
    )


def _nearest_vertices_sql(network: str) -> TextClause:
    """One row per point of `:lons` and `:lats` (in order): the network's nearest vertex."""
    return text(f"""
SELECT p.ordinality - 1 AS point, v.id AS vertex
  FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS p(lon, lat, ordinality)
  CROSS JOIN LATERAL (
      SELECT id FROM roads.vertices_{known_network(network)}
       ORDER BY the_geom <-> ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326) LIMIT 1
  ) v
 ORDER BY 1
""")


# The shortest distance (metres) between every two of `:vertices`, by pgRouting: what the
# graphs in memory answer (`app.roads.graphs`), which the tests and bench/roads.py hold them to.
COST_MATRIX_SQL = text("""
SELECT start_vid, end_vid, agg_cost
  FROM pgr_dijkstraCostMatrix(CAST(:edges AS text), CAST(:vertices AS bigint[]), directed => true)
""")


def _legs_geometry_sql(network: str) -> TextClause:
    """The line along the roads of each (source, target) pair of the query `:legs`, as
    GeoJSON."""
    return text(f"""
SELECT l.start_vid, l.end_vid,
       ST_AsGeoJSON(ST_LineMerge(ST_Collect(e.the_geom ORDER BY l.path_seq)), 6) AS geometry
  FROM pgr_dijkstra(CAST(:edges AS text), CAST(:legs AS text), directed => true) l
  JOIN roads.edges_{known_network(network)} e ON e.id = l.edge
 GROUP BY l.start_vid, l.end_vid
""")


def _legs_query(legs: Sequence[tuple[int, int]]) -> str:
    """The pairs as the query pgRouting reads combinations with: integers only."""
    pairs = ", ".join(f"({int(a)}, {int(b)})" for a, b in legs)
    return f"SELECT * FROM (VALUES {pairs}) AS t(source, target)"


def network_of(profile: str) -> str:
    """The network a travel profile (`bike@15.0`, `van@baseline`) rides."""
    return profile.split("@")[0]


async def nearest_vertices(
    deadline: StatementDeadline, network: str, points: Sequence[tuple[float, float]]
) -> list[int]:
    """The network's vertex nearest each point (by the vertices' spatial index), in order."""
    snapped = await deadline.all(
        _nearest_vertices_sql(network),
        {"lons": [p[0] for p in points], "lats": [p[1] for p in points]},
    )
    return [int(r.vertex) for r in snapped]


async def pgrouting_distances_m(
    deadline: StatementDeadline, network: str, vertices: Sequence[int]
) -> np.ndarray:
    """pgRouting's shortest distances (metres, float) from each of `vertices` to each, `inf`
    where there is no way."""
    distinct = sorted(set(vertices))
    rows = await deadline.all(COST_MATRIX_SQL, {"edges": _edges(network), "vertices": distinct})
    position = {v: i for i, v in enumerate(distinct)}
    between = np.full((len(distinct), len(distinct)), np.inf)
    np.fill_diagonal(between, 0.0)
    for r in rows:
        between[position[r.start_vid], position[r.end_vid]] = r.agg_cost
    back = [position[v] for v in vertices]
    answer: np.ndarray = between[np.ix_(back, back)]
    return answer


def matrices_at(distances_m: np.ndarray, speed_kmh: float, unreachable_m: int = 10**7) -> Matrices:
    """A distance matrix (whole metres) and a duration matrix (seconds at `speed_kmh`) from
    shortest distances; pairs with no way get `unreachable_m`."""
    distance = np.where(np.isfinite(distances_m), np.rint(distances_m), unreachable_m).astype(
        np.int64
    )
    duration = np.ceil(distance / (speed_kmh / 3.6)).astype(np.int64)
    return Matrices(distance, duration)


async def road_matrices(
    deadline: StatementDeadline,
    points: Sequence[tuple[float, float]],
    profiles: Sequence[Profile],
    memory_limit_mb: int,
    graphs: RoadGraphs = ROAD_GRAPHS,
    processes: int = 1,
) -> tuple[dict[str, Matrices], dict[str, list[int]]]:
    """Shortest road distances between the points for each profile, by the deadline: one
    distance matrix per network (its graph in memory, searched by `processes` child
    processes side by side, each from its part of the places and limited to
    `memory_limit_mb`), times at each profile's speed; and, by profile, the network vertex
    each point was snapped to."""
    networks = sorted({network_of(p.name) for p in profiles})
    snapped = {network: await nearest_vertices(deadline, network, points) for network in networks}
    held = {network: await graphs.graph(deadline, network) for network in networks}
    searches = [
        asyncio.ensure_future(
            call_in_child_process(
                distances_by_network,
                held,
                snapped,
                part,
                processes,
                memory_limit_mb=memory_limit_mb,
            )
        )
        for part in range(processes)
    ]
    try:
        rows = await asyncio.gather(*searches)
    finally:
        # A part that failed ends the others (a cancelled call kills its child), and raises
        # as it was, for the job to report.
        for search in searches:
            search.cancel()
        await asyncio.gather(*searches, return_exceptions=True)

    def at_speeds() -> dict[str, Matrices]:
        distances = {
            network: assembled(snapped[network], [part[network] for part in rows])
            for network in networks
        }
        return {p.name: matrices_at(distances[network_of(p.name)], p.speed_kmh) for p in profiles}

    return await asyncio.to_thread(at_speeds), {
        p.name: snapped[network_of(p.name)] for p in profiles
    }


async def road_line(
    session: AsyncSession, profile: str, vertices: Sequence[int]
) -> list[tuple[float, float]]:
    """The line along the roads of `profile`'s network through the vertices in turn; empty
    where the network has no line between them."""
    legs = [(a, b) for a, b in itertools.pairwise(vertices) if a != b]
    if not legs:
        return []
    network = network_of(profile)
    rows = await session.execute(
        _legs_geometry_sql(network), {"edges": _edges(network), "legs": _legs_query(legs)}
    )
    lines = {(r.start_vid, r.end_vid): json.loads(r.geometry) for r in rows}
    coordinates: list[tuple[float, float]] = []
    for leg in legs:
        line = lines.get(leg)
        if line and line["type"] == "LineString":
            coordinates += [(c[0], c[1]) for c in line["coordinates"]]
    return coordinates
