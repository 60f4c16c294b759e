"""The whole candidate graph, for a global matching run: every pair of an open offer that can
serve an open request (the rules of `app.candidates.repository`), read by a run's child process
in columns rather than rows.

A request's reach covers a sixth of the region and its material (a chapter, often) a seventh of
the offers: a join by place or by material alone weighs hundreds of offers per request in the
database to keep a score of them, a few microseconds each. So the open listings are read once,
and the pairs that share a code, a window and a neighbourhood are found here over arrays (a k-d
tree of each code's offers, queried with each request's reach, bounded from above as
`score_sql.within_reach` bounds it); those candidates alone are then checked in the database by
the rules as written, which keep the pairs and leave out those with an active match. The reach
alone is tested here: the candidates are measured on the spheroid as PostGIS measures them
(`score_sql.distance`, which ST_DWithin compares with the reach) by GeographicLib's geodesic,
through pyproj, which takes about 1 µs a pair where the database takes 6 and agrees with it to
the nanometre."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from pyproj import Geod
from scipy.spatial import cKDTree
from sqlalchemy import Connection, Result, text

from app.candidates import score_sql
from app.candidates.repository import _COMPATIBLE
from matching.candidates import CandidatePair

# The open listings, with the columns of `CandidatePair` of their side as the engine reads them
# (`pair_from_row`: floats for the decimals, text for the ids, which the database converts
# alike and faster), and their place; the offers within a family, the requests around a point,
# when asked.
_OPEN_OFFERS = """
SELECT o.id::text AS offer_id, o.organization_id::text AS offer_organization_id,
       o.material AS offer_material, o.quantity_value::float8 AS offer_quantity,
       o.remaining_value::float8 AS offer_remaining, o.quantity_unit AS offer_unit,
       o.mass_kg::float8 AS offer_mass_kg, o.min_lot::float8 AS offer_min_lot, o.condition,
       o.price_per_unit::float8 AS price_per_unit, o.available_from, o.available_until,
       o.version AS offer_version,
       ST_X(o.location) AS lon, ST_Y(o.location) AS lat
  FROM offers o
 WHERE o.status = 'open' AND o.remaining_value > 0
   AND (CAST(:family AS text) IS NULL OR starts_with(o.material, CAST(:family AS text)))
 ORDER BY o.id
"""
_OPEN_REQUESTS = """
SELECT r.id::text AS request_id, r.organization_id::text AS request_organization_id,
       r.material AS request_material, r.quantity_value::float8 AS request_quantity,
       r.remaining_value::float8 AS request_remaining, r.quantity_unit AS request_unit,
       r.mass_kg::float8 AS request_mass_kg, r.min_condition,
       r.max_price_per_unit::float8 AS max_price_per_unit, r.needed_from, r.needed_by,
       r.max_distance_km::float8 AS max_distance_km, r.version AS request_version,
       ST_X(r.location) AS lon, ST_Y(r.location) AS lat
  FROM material_requests r
 WHERE r.status = 'open' AND r.remaining_value > 0
   AND (CAST(:radius_m AS float8) IS NULL OR ST_DWithin(r.location::geography,
        geography(ST_SetSRID(ST_MakePoint(CAST(:lon AS float8), CAST(:lat AS float8)), 4326)),
        CAST(:radius_m AS float8)))
 ORDER BY r.id
"""
# The candidates (positions in the listings above, within reach) that are pairs, less those
# with a match proposed or accepted: the graph's arcs, as the candidates' positions packed in a
# binary column (int4), not sorted. The lists come as text, which both sides write and parse
# much faster than arrays of values.
_CHECKED_PAIRS = f"""
WITH o AS MATERIALIZED (
    SELECT o.*, m.hazardous, listed.at - 1 AS at
      FROM unnest(string_to_array(:offer_ids, ',')::uuid[]) WITH ORDINALITY AS listed(id, at)
      JOIN offers o ON o.id = listed.id
      JOIN materials m ON m.code = o.material),
r AS MATERIALIZED (
    SELECT r.*, listed.at - 1 AS at
      FROM unnest(string_to_array(:request_ids, ',')::uuid[]) WITH ORDINALITY AS listed(id, at)
      JOIN material_requests r ON r.id = listed.id),
pair AS (
    SELECT c.at - 1 AS at
      FROM unnest(string_to_array(:arc_offer, ',')::int[],
                  string_to_array(:arc_request, ',')::int[])
           WITH ORDINALITY AS c(offer_at, request_at, at)
      JOIN o ON o.at = c.offer_at
      JOIN r ON r.at = c.request_at
     WHERE {_COMPATIBLE.format(hazardous="o.hazardous")}
       AND NOT EXISTS (SELECT 1 FROM matches x
                        WHERE x.offer_id = o.id AND x.request_id = r.id
                          AND x.status IN ('proposed', 'accepted')))
SELECT string_agg(int4send(at::int), '') AS arcs FROM pair"""

# The great circle between two points is at least 0.99 of their distance less 1 m
# (`score_sql.within_reach`): candidates are the pairs within that bound, and a hair more for
# the arithmetic.
_EARTH_RADIUS_M = score_sql._EARTH_RADIUS_M
_REACH_BOUND = (1 + 1e-6) / score_sql._NEAR_LOW
# An availability with no end, as a day.
_NO_END = date.max.toordinal()
# The spheroid of `score_sql.distance`: geography's, WGS84.
_WGS84 = Geod(ellps="WGS84")


@dataclass(frozen=True)
class CandidateGraph:
    """The candidate graph as read: each listing once (a mapping of `CandidatePair`'s fields of
    its side), and the pairs as positions in them with their distance."""

    offers: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    arc_offer: np.ndarray
    arc_request: np.ndarray
    arc_distance_m: np.ndarray

    def pair(self, offer: int, request: int, distance_m: float) -> CandidatePair:
        return CandidatePair(**self.offers[offer], **self.requests[request], distance_m=distance_m)


def read_candidate_graph(
    connection: Connection,
    family: str | None,
    lon: float | None,
    lat: float | None,
    radius_m: float | None,
) -> CandidateGraph:
    """Every pair, within the material `family` and `radius_m` of (lon, lat) when given, less
    the pairs with an active match; on a synchronous connection, for a run's child process,
    which reads in one snapshot (REPEATABLE READ) to see the pairs and their listings alike."""
    # The candidates are checked by hash joins on their positions: the planner, which cannot
    # see how many listings pass the rules, would join every offer with every request (a
    # nested loop) and only then look the candidates up, and compile it all (JIT) for longer
    # than the check runs. For this read's transaction only.
    connection.execute(text("SET LOCAL jit = off"))
    connection.execute(text("SET LOCAL enable_nestloop = off"))
    offers, offer_lon_lat = _listings(connection.execute(text(_OPEN_OFFERS), {"family": family}))
    requests, request_lon_lat = _listings(
        connection.execute(text(_OPEN_REQUESTS), {"lon": lon, "lat": lat, "radius_m": radius_m})
    )
    candidate_offer, candidate_request = _candidates(
        offers, _unit_vectors(offer_lon_lat), requests, _unit_vectors(request_lon_lat)
    )
    distance_m = _spheroid_distances_m(
        offer_lon_lat[candidate_offer], request_lon_lat[candidate_request]
    )
    reach_m = np.array([r["max_distance_km"] for r in requests], dtype=float) * 1000
    within = np.flatnonzero(distance_m <= reach_m[candidate_request])
    empty = CandidateGraph([], [], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if not len(within):
        return empty
    (arcs,) = connection.execute(
        text(_CHECKED_PAIRS),
        {
            "offer_ids": ",".join(o["offer_id"] for o in offers),
            "request_ids": ",".join(r["request_id"] for r in requests),
            "arc_offer": ",".join(map(str, candidate_offer[within].tolist())),
            "arc_request": ",".join(map(str, candidate_request[within].tolist())),
        },
    ).one()
    if arcs is None:
        return empty
    # The arcs by offer, then request (the candidates' order); only the listings with a pair
    # stay, in their order.
    kept = within[np.sort(np.frombuffer(arcs, ">i4"))]
    offer_at, arc_offer = np.unique(candidate_offer[kept], return_inverse=True)
    request_at, arc_request = np.unique(candidate_request[kept], return_inverse=True)
    return CandidateGraph(
        [offers[i] for i in offer_at.tolist()],
        [requests[j] for j in request_at.tolist()],
        arc_offer.astype(np.int64).reshape(-1),
        arc_request.astype(np.int64).reshape(-1),
        distance_m[kept],
    )


def _listings(result: Result[Any]) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The listings (their columns but the place) and their places (longitude, latitude)."""
    keys = list(result.keys())[:-2]
    rows = result.all()
    listings = [dict(zip(keys, row[:-2], strict=True)) for row in rows]
    return listings, np.array([row[-2:] for row in rows], dtype=float).reshape(-1, 2)


def _spheroid_distances_m(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distance in metres from each place of `a` to the same row's of `b` (longitude,
    latitude), as `score_sql.distance` measures it to the nanometre."""
    _, _, distance_m = _WGS84.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    return np.asarray(distance_m, dtype=float)


def _unit_vectors(lon_lat: np.ndarray) -> np.ndarray:
    """Places (longitude, latitude) as points of the unit sphere."""
    lon, lat = np.radians(lon_lat).T
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _candidates(
    offers: list[dict[str, Any]],
    offer_place: np.ndarray,
    requests: list[dict[str, Any]],
    request_place: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (positions of the offer and of the request, by offer then request) whose
    offer's code lies within the request's material, whose windows overlap, and whose places
    may be within the request's reach: all the graph's pairs, and a few more."""
    if not offers or not requests:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # The chord of the sphere that the request's reach, bounded from above, spans.
    angle = np.array([r["max_distance_km"] * 1000 + score_sql._NEAR_SLACK_M for r in requests])
    angle = np.minimum(angle * _REACH_BOUND / _EARTH_RADIUS_M, np.pi)
    chord = 2 * np.sin(angle / 2) * (1 + 1e-9)
    offer_from = np.array([o["available_from"].toordinal() for o in offers])
    offer_until = np.array(
        [_NO_END if (u := o["available_until"]) is None else u.toordinal() for o in offers]
    )
    needed_from = np.array([r["needed_from"].toordinal() for r in requests])
    needed_by = np.array([r["needed_by"].toordinal() for r in requests])

    asking: defaultdict[str, list[int]] = defaultdict(list)
    for j, r in enumerate(requests):
        asking[r["request_material"]].append(j)
    of_code: defaultdict[str, list[int]] = defaultdict(list)
    for i, o in enumerate(offers):
        of_code[o["offer_material"]].append(i)
    found_offer, found_request = [], []
    for code, listed in of_code.items():
        # A request names a code, or its sub-chapter or its chapter.
        asked = np.array(
            sorted({j for prefix in {code, code[:4], code[:2]} for j in asking.get(prefix, [])}),
            dtype=np.int64,
        )
        if not len(asked):
            continue
        within = np.array(listed, dtype=np.int64)
        near = cKDTree(offer_place[within]).query_ball_point(
            request_place[asked], chord[asked], return_sorted=False
        )
        counts = np.fromiter((len(n) for n in near), dtype=np.int64, count=len(near))
        if not counts.sum():
            continue
        found_offer.append(within[np.concatenate([np.asarray(n, np.int64) for n in near])])
        found_request.append(np.repeat(asked, counts))
    if not found_offer:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    offer, request = np.concatenate(found_offer), np.concatenate(found_request)
    overlap = (offer_from[offer] <= needed_by[request]) & (
        offer_until[offer] >= needed_from[request]
    )
    offer, request = offer[overlap], request[overlap]
    order = np.lexsort((request, offer))
    return offer[order], request[order]
