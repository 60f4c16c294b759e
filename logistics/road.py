"""The road network of Brussels in PostGIS with pgRouting: the SQL that builds a bike and a
van network from the osm2pgrouting import (schema `roads`), and the SQL of the matrices and
geometries along them. Kept here as text; the service runs it.

Profiles: the van keeps off footways, cycleways, paths, steps, pedestrian streets and tracks;
the bike keeps off motorways and trunk roads. Both follow one-way streets (OSM 2013). Each
keeps the largest connected part of its network, so that every point snaps to a vertex it can
leave and reach."""

from collections.abc import Sequence

import numpy as np

from logistics.model import Matrices

# osm2pgrouting's mapconfig.xml tag ids.
VAN_FORBIDDEN = (113, 114, 117, 118, 119, 120, 122)
BIKE_FORBIDDEN = (101, 102, 103, 104, 105)
PROFILES = {"van": VAN_FORBIDDEN, "bike": BIKE_FORBIDDEN}


def build_profile_sql(profile: str) -> list[str]:
    """The statements that build one profile's network, in order."""
    forbidden = ", ".join(str(t) for t in PROFILES[profile])
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


def edges_sql(profile: str) -> str:
    assert profile in PROFILES
    return f"SELECT id, source, target, cost, reverse_cost FROM roads.edges_{profile}"


def nearest_vertices_sql(profile: str) -> str:
    """One row per input point (in order): the nearest vertex of the profile's network."""
    assert profile in PROFILES
    return f"""
SELECT p.ordinality - 1 AS point, v.id AS vertex
  FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS p(lon, lat, ordinality)
  CROSS JOIN LATERAL (
      SELECT id FROM roads.vertices_{profile}
       ORDER BY the_geom <-> ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326) LIMIT 1
  ) v
 ORDER BY 1
"""


def cost_matrix_sql(profile: str) -> str:
    return f"""
SELECT start_vid, end_vid, agg_cost
  FROM pgr_dijkstraCostMatrix('{edges_sql(profile)}', CAST(:vertices AS bigint[]), directed => true)
"""


def legs_geometry_sql(profile: str, legs: Sequence[tuple[int, int]]) -> str:
    """The road geometry of each (from vertex, to vertex) leg, as GeoJSON."""
    pairs = ", ".join(f"({int(a)}, {int(b)})" for a, b in legs)
    combinations = f"SELECT * FROM (VALUES {pairs}) AS t(source, target)"
    return f"""
SELECT l.start_vid, l.end_vid,
       ST_AsGeoJSON(ST_LineMerge(ST_Collect(e.the_geom ORDER BY l.path_seq)), 6) AS geometry
  FROM pgr_dijkstra('{edges_sql(profile)}', '{combinations}', directed => true) l
  JOIN roads.edges_{profile} e ON e.id = l.edge
 GROUP BY l.start_vid, l.end_vid
"""


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
