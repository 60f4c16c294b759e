"""The score of `matching.scoring`, written as SQL, so that the database ranks the candidates and
answers only the best: `ranked(pairs)` wraps a query of candidate pairs (the columns of
`matching.candidates.CandidatePair`) and keeps the `:limit` best that can be matched, best score
first, ties to the nearer, then by offer and request, as `matching.scoring.rank` orders them.

Every step is the same float8 arithmetic, in the same order, as its Python twin (named beside
it), from the same constants (the weights, the condition values, the mass units), so the two
give the very same numbers: the page's candidates are then scored again in Python, by
`score_candidate`, for the parts and figures the answer shows. tests/test_candidate_ranking.py
compares the two on a varied data set."""

from dataclasses import fields

from matching.candidates import CandidatePair
from matching.scoring import _MASS_UNITS, CONDITION_VALUE, WEIGHTS


def _float(value: float) -> str:
    # repr gives the shortest text that reads back as the same double.
    return f"{value!r}::float8"


def _remaining_mass_kg(side: str) -> str:
    """`remaining_mass_kg` of one side (`offer` or `request`), from the float8 columns of `f`."""
    per_unit = " ".join(
        f"WHEN '{unit}' THEN f.{side}_remaining * {_float(kg)}" for unit, kg in _MASS_UNITS.items()
    )
    return (
        f"CASE pair.{side}_unit {per_unit} ELSE CASE WHEN f.{side}_quantity > 0 "
        f"THEN f.{side}_mass_kg * f.{side}_remaining / f.{side}_quantity END END"
    )


_CONDITION_VALUE = " ".join(
    f"WHEN '{grade}' THEN {_float(value)}" for grade, value in CONDITION_VALUE.items()
)
_PARTS = [name for name in WEIGHTS if name != "distance"]
_COLUMNS = [f.name for f in fields(CandidatePair) if f.name != "distance_m"]
# The numeric columns as the engine reads them (`pair_from_row`): floats.
_FLOATS = (
    "offer_quantity",
    "offer_remaining",
    "offer_mass_kg",
    "request_quantity",
    "request_remaining",
    "request_mass_kg",
    "price_per_unit",
    "max_price_per_unit",
    "max_distance_km",
)
# The great-circle distance (haversine, the mean Earth radius) is within 0.6 % of the distance
# on the spheroid that ST_Distance gives (WGS84; 0.56 % at worst, checked against pyproj over the
# globe): with a 1 % and 1 m margin it bounds it, for a few float operations.
_NEAR_LOW, _NEAR_HIGH, _NEAR_SLACK_M = 0.99, 1.01, 1.0
_EARTH_RADIUS_M = 6371008.8


def distance(offer: str, request: str) -> str:
    """The distance in metres between two points (geometry, WGS84), on the spheroid."""
    return f"ST_Distance({offer}::geography, {request}::geography)"


def _great_circle(offer: str, request: str) -> str:
    lon1, lat1, lon2, lat2 = (f"radians(ST_{c}({p}))" for p in (offer, request) for c in "XY")
    return (
        f"(2 * {_float(_EARTH_RADIUS_M)} * asin(sqrt(least(1::float8, "
        f"sin(({lat2} - {lat1}) / 2) ^ 2 "
        f"+ cos({lat1}) * cos({lat2}) * sin(({lon2} - {lon1}) / 2) ^ 2))))"
    )


# The columns `ranked` wants of its pairs beside the pair's own: the two places and the great
# circle between them.
LOCATIONS = (
    "o.location AS offer_location, r.location AS request_location, "
    f"{_great_circle('o.location', 'r.location')} AS near_m"
)


def within_reach(exact: str) -> str:
    """The test `exact` (an ST_DWithin of o and r within the request's reach), made only where
    the great-circle distance cannot tell."""
    near = _great_circle("o.location", "r.location")
    reach = "r.max_distance_km * 1000"
    return (
        f"CASE WHEN {near} * {_NEAR_HIGH} + {_NEAR_SLACK_M} <= {reach} THEN true"
        f" WHEN {near} * {_NEAR_LOW} - {_NEAR_SLACK_M} > {reach} THEN false ELSE {exact} END"
    )


def _total(distance_part: str) -> str:
    """ScoreParts.total: the weighted parts, summed in the order of WEIGHTS."""
    return " + ".join(
        f"{_float(weight)} * {distance_part if name == 'distance' else 'part.' + name}"
        for name, weight in WEIGHTS.items()
    )


def _distance_part(distance_m: str, reach_km: str) -> str:
    return f"greatest(0::float8, 1 - ({distance_m} / 1000) / {reach_km})"


# The order of `ranked`'s page, by its output columns: a query over the page keeps it so.
PAGE_ORDER = "score DESC, distance_m, offer_id, request_id"


def _bounded(pairs: str) -> str:
    """`WITH bounded`: the pairs of the query `pairs` that can be matched, each with the parts
    of its score but the distance (`<part>_part`) and its score's bounds by the great circle
    (`low`, `high`); `pairs` answers the columns of a pair but `distance_m`, and `LOCATIONS`."""
    floats = ", ".join(f"pair.{name}::float8 AS {name}" for name in _FLOATS)
    reach = "f.max_distance_km"
    # The parts but the distance, kept beside the pair's columns (one of which is `condition`).
    parts = ", ".join(f"part.{name} AS {name}_part" for name in _PARTS)
    near = "pair.near_m"
    return f"""WITH bounded AS MATERIALIZED (
SELECT pair.*, f.max_distance_km AS reach_km, {parts},
       {_total(_distance_part(f"({near} * {_NEAR_LOW} - {_NEAR_SLACK_M})", reach))} AS high,
       {_total(_distance_part(f"({near} * {_NEAR_HIGH} + {_NEAR_SLACK_M})", reach))} AS low
  -- OFFSET 0 keeps the pairs a query of their own, whose columns (the great circle) are
  -- computed once, rather than folded into this one and computed at each use.
  FROM ({pairs} OFFSET 0) pair
 CROSS JOIN LATERAL (SELECT {floats}) f
 CROSS JOIN LATERAL (
     SELECT pair.offer_unit = pair.request_unit AS same_unit,
            {_remaining_mass_kg("offer")} AS offer_kg,
            {_remaining_mass_kg("request")} AS request_kg
 ) mass
 -- supplyable: what the offer could cover, in the request's unit (null: not comparable).
 CROSS JOIN LATERAL (
     SELECT CASE WHEN mass.same_unit THEN least(f.offer_remaining, f.request_remaining)
                 WHEN mass.offer_kg IS NOT NULL AND mass.request_kg IS NOT NULL
                 THEN f.request_remaining * least(mass.offer_kg, mass.request_kg)
                      / mass.request_kg
            END AS quantity,
            -- share_of_offer(pair, 1.0): the offer's units one unit of the request takes.
            CASE WHEN mass.same_unit THEN 1::float8
                 ELSE f.offer_remaining * (mass.request_kg * 1::float8 / f.request_remaining)
                      / mass.offer_kg
            END AS offer_units_per_request_unit
 ) supply
 -- smallest_matchable_quantity
 CROSS JOIN LATERAL (
     SELECT ceil(round(greatest(1::float8, 1::float8 / supply.offer_units_per_request_unit)
                       ::numeric, 6))::float8 / 1000 AS quantity
 ) smallest
 CROSS JOIN LATERAL (
     SELECT least(1::float8, supply.quantity / f.request_remaining) AS quantity,
            greatest(0, least(coalesce(pair.available_until, pair.needed_by), pair.needed_by)
                        - greatest(pair.available_from, pair.needed_from) + 1)::float8
            / (pair.needed_by - pair.needed_from + 1)::float8 AS time,
            CASE pair.condition {_CONDITION_VALUE} END AS condition,
            CASE WHEN f.price_per_unit IS NOT NULL AND f.price_per_unit <= 0 THEN 1::float8
                 WHEN f.price_per_unit IS NULL OR f.max_price_per_unit IS NULL
                      OR NOT mass.same_unit THEN 0.5::float8
                 WHEN f.max_price_per_unit <= 0 THEN 0::float8
                 ELSE greatest(0::float8, 1 - f.price_per_unit / f.max_price_per_unit)
            END AS price
 ) part
 WHERE supply.quantity IS NOT NULL
   -- Candidate.matchable: at least the smallest quantity, or close to it (math.isclose).
   AND (supply.quantity >= smallest.quantity
        OR abs(supply.quantity - smallest.quantity)
           <= 1e-09::float8 * greatest(abs(supply.quantity), abs(smallest.quantity)))
)"""


def ranked(pairs: str) -> str:
    """The `:limit` best pairs of the query `pairs` that can be matched, with their `score`.
    `pairs` answers the columns of a pair but `distance_m`, and `LOCATIONS`.

    The exact distance is the costly part: each pair is first scored with its distance bounded
    by the great circle (`low` and `high`); only the pairs whose best possible score reaches the
    worst possible score of the `:limit`-th best get their exact distance and score."""
    parts_again = ", ".join(f"bounded.{name}_part AS {name}" for name in _PARTS)
    # The decimals answered as floats, as the engine reads them: the driver makes a Decimal of
    # a numeric at some microseconds each, which `pair_from_row` then made a float.
    columns = ", ".join(
        f"bounded.{name}::float8 AS {name}" if name in _FLOATS else f"bounded.{name}"
        for name in _COLUMNS
    )
    exact = distance("bounded.offer_location", "bounded.request_location")
    return f"""{_bounded(pairs)}
SELECT {columns}, exact.distance_m, scored.score
  FROM bounded
 CROSS JOIN LATERAL (SELECT {exact} AS distance_m) exact
 CROSS JOIN LATERAL (SELECT {parts_again}) part
 CROSS JOIN LATERAL (
     SELECT {_total(_distance_part("exact.distance_m", "bounded.reach_km"))} AS score
 ) scored
 -- Those that could rank among the best: the scores' sums may part by a rounding.
 WHERE bounded.high >= (SELECT coalesce(min(low), '-Infinity') - 1e-9
                          FROM (SELECT low FROM bounded ORDER BY low DESC LIMIT :limit) best)
 ORDER BY {PAGE_ORDER}
 LIMIT :limit"""


def least_of_best(pairs: str) -> str:
    """One row: a score that the `:limit`-th best of the pairs of the query `pairs` that can be
    matched reaches at least (the lower bound `low` of its score), null when fewer than `:limit`
    of them can be matched. `ranked`'s `:limit`-th score without the exact distances."""
    return f"""{_bounded(pairs)}
SELECT CASE WHEN count(*) >= :limit THEN min(best.low) END AS score
  FROM (SELECT low FROM bounded ORDER BY low DESC LIMIT :limit) best"""
