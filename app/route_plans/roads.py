"""The road network of Brussels in PostGIS with pgRouting: the SQL that builds a bike and a van
network from the osm2pgrouting import (schema `roads`, run by `app.roads`), and what a plan's
job asks of them: the distances between its places and its routes along the streets.

Profiles: the van keeps off footways, cycleways, paths, steps, pedestrian streets and tracks;
the bike keeps off motorways and trunk roads. Both follow one-way streets (OSM 2013). Each
keeps the largest connected part of its network, so that every point snaps to a vertex it can
leave and reach. A network's name is part of its tables' names, so the SQL takes only the
names below."""

import itertools
import json
from collections.abc import Sequence

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.statement_deadline import StatementDeadline
from app.route_plans.inputs import vehicle_profile
from app.route_plans.plan_inputs import PlanVehicle
from app.route_plans.result_schema import LineString, RoutePlanResult
from logistics.matrices import Profile
from logistics.model import Matrices
from logistics.road import matrices_from_costs

# osm2pgrouting's mapconfig.xml tag ids.
VAN_FORBIDDEN = (113, 114, 117, 118, 119, 120, 122)
BIKE_FORBIDDEN = (101, 102, 103, 104, 105)
PROFILES = {"van": VAN_FORBIDDEN, "bike": BIKE_FORBIDDEN}


def _known(network: str) -> str:
    if network not in PROFILES:
        raise ValueError(f"no road network {network!r}; the networks are {', '.join(PROFILES)}")
    return network


def build_profile_sql(profile: str) -> list[str]:
    """The statements that build one profile's network, in order."""
    forbidden = ", ".join(str(t) for t in PROFILES[_known(profile)])
    return [
        f"DROP TABLE IF EXISTS roads.edges_{profile}, roads.vertices_{profile}",
        f"""CREATE TABLE roads.edges_{profile} AS
            SELECT gid AS id, source, target,
                   CASE WHEN cost < 0 THEN -1 ELSE length_m END AS cost,
                   CASE WHEN reverse_cost < 0 THEN -1 ELSE length_m END AS reverse_cost,
                   the_geom
              FROM roads.ways
             WHERE tag_id NOT IN ({forbidden})""",
        # Directed reachability: the largest strongly connected part.
        f"""CREATE TABLE roads.vertices_{profile} AS
            WITH parts AS (
                SELECT * FROM pgr_strongComponents(
                    'SELECT id, source, target, cost, reverse_cost FROM roads.edges_{profile}')
            ), biggest AS (
                SELECT component FROM parts GROUP BY component ORDER BY count(*) DESC LIMIT 1
            )
            SELECT v.id, v.the_geom
              FROM roads.ways_vertices_pgr v JOIN parts p ON p.node = v.id JOIN biggest b USING (component)""",
        f"""DELETE FROM roads.edges_{profile} e
             WHERE NOT EXISTS (SELECT 1 FROM roads.vertices_{profile} v WHERE v.id = e.source)
                OR NOT EXISTS (SELECT 1 FROM roads.vertices_{profile} v WHERE v.id = e.target)""",
        f"CREATE INDEX ON roads.vertices_{profile} USING gist (the_geom)",
        f"CREATE INDEX ON roads.edges_{profile} (id)",
        f"ANALYZE roads.edges_{profile}",
        f"ANALYZE roads.vertices_{profile}",
    ]


def _edges(network: str) -> str:
    """The query pgRouting reads the network's edges with (bound as `:edges`)."""
    return f"SELECT id, source, target, cost, reverse_cost FROM roads.edges_{_known(network)}"


def _nearest_vertices_sql(network: str) -> TextClause:
    """One row per point of `:lons` and `:lats` (in order): the network's nearest vertex."""
    return text(f"""
SELECT p.ordinality - 1 AS point, v.id AS vertex
  FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS p(lon, lat, ordinality)
  CROSS JOIN LATERAL (
      SELECT id FROM roads.vertices_{_known(network)}
       ORDER BY the_geom <-> ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326) LIMIT 1
  ) v
 ORDER BY 1
""")


# The shortest distance (metres) between every two of `:vertices`.
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
  JOIN roads.edges_{_known(network)} e ON e.id = l.edge
 GROUP BY l.start_vid, l.end_vid
""")


def _legs_query(legs: Sequence[tuple[int, int]]) -> str:
    """The pairs as the query pgRouting reads combinations with: integers only."""
    pairs = ", ".join(f"({int(a)}, {int(b)})" for a, b in legs)
    return f"SELECT * FROM (VALUES {pairs}) AS t(source, target)"


def network_of(profile: str) -> str:
    """The network a travel profile (`bike@15.0`, `van@baseline`) rides."""
    return profile.split("@")[0]


async def road_matrices(
    deadline: StatementDeadline, points: list[tuple[float, float]], profile: Profile
) -> tuple[Matrices, list[int]]:
    """Shortest road distances between the points on the profile's network (pgRouting), and
    the network vertex each point was snapped to, by the deadline."""
    network = network_of(profile.name)
    snapped = await deadline.all(
        _nearest_vertices_sql(network),
        {"lons": [p[0] for p in points], "lats": [p[1] for p in points]},
    )
    vertices = [int(r.vertex) for r in snapped]
    costs = await deadline.all(
        COST_MATRIX_SQL, {"edges": _edges(network), "vertices": sorted(set(vertices))}
    )
    return matrices_from_costs(
        vertices, [(r.start_vid, r.end_vid, r.agg_cost) for r in costs], profile.speed_kmh
    ), vertices


async def add_road_geometries(
    session: AsyncSession,
    result: RoutePlanResult,
    snapped: dict[str, list[int]],
    points: list[tuple[float, float]],
    vehicles: Sequence[PlanVehicle],
) -> None:
    """Each route's line along the roads it takes, leg by leg (through its stops where the
    network has no line)."""
    index = {p: i for i, p in enumerate(points)}
    profiles = {v.id: vehicle_profile(v).name for v in vehicles}
    for route in result.routes:
        profile = profiles[route.vehicle_id]
        vertices = [snapped[profile][index[stop.location]] for stop in route.stops]
        legs = [(a, b) for a, b in itertools.pairwise(vertices) if a != b]
        coordinates: list[tuple[float, float]] = []
        if legs:
            network = network_of(profile)
            rows = await session.execute(
                _legs_geometry_sql(network), {"edges": _edges(network), "legs": _legs_query(legs)}
            )
            lines = {(r.start_vid, r.end_vid): json.loads(r.geometry) for r in rows}
            for leg in legs:
                line = lines.get(leg)
                if line and line["type"] == "LineString":
                    coordinates += [(c[0], c[1]) for c in line["coordinates"]]
        route.geometry = LineString(
            coordinates=coordinates or [stop.location for stop in route.stops]
        )
