"""Candidate search: which open offers can serve which open requests. One SQL shape, kept
where it can be read, anchored on a request, on an offer, or on nothing (the whole graph).

Compatible means: the offer's code equals the request's or lies inside its sub-chapter or
chapter; a hazardous code only when the request names that very code; availability overlapping
the needed window; condition at least the minimum (A is best); within the request's
`max_distance_km` (ST_DWithin on geography, served by the GiST index); remaining quantity at
least the offer's min lot; and another organization's offer."""

from dataclasses import dataclass
from datetime import date
from typing import Literal

_BASE = """
SELECT o.id AS offer_id, r.id AS request_id,
       o.organization_id AS offer_organization_id, r.organization_id AS request_organization_id,
       o.material AS offer_material, r.material AS request_material,
       o.quantity_value AS offer_quantity, o.remaining_value AS offer_remaining,
       o.quantity_unit AS offer_unit, o.mass_kg AS offer_mass_kg, o.min_lot AS offer_min_lot,
       r.quantity_value AS request_quantity, r.remaining_value AS request_remaining,
       r.quantity_unit AS request_unit, r.mass_kg AS request_mass_kg,
       o.condition, r.min_condition,
       o.price_per_unit, r.max_price_per_unit,
       o.available_from, o.available_until, r.needed_from, r.needed_by,
       r.max_distance_km, o.version AS offer_version, r.version AS request_version,
       ST_Distance(o.location::geography, r.location::geography) AS distance_m
  FROM material_requests r
  JOIN offers o
    ON ST_DWithin(o.location::geography, r.location::geography, r.max_distance_km * 1000)
 WHERE {anchor}
   AND o.status = 'open' AND r.status = 'open'
   AND o.remaining_value > 0 AND r.remaining_value > 0
   AND o.organization_id <> r.organization_id
   AND starts_with(o.material, r.material)
   -- A lookup rather than a join: the planner misjudges a join with the whole list of waste.
   AND (o.material = r.material
        OR NOT (SELECT m.hazardous FROM materials m WHERE m.code = o.material))
   AND o.available_from <= r.needed_by
   AND (o.available_until IS NULL OR o.available_until >= r.needed_from)
   AND o.condition <= r.min_condition
   AND o.remaining_value >= coalesce(o.min_lot, 0)
   AND (r.max_price_per_unit IS NULL OR o.price_per_unit IS NULL
        OR o.quantity_unit <> r.quantity_unit OR o.price_per_unit <= r.max_price_per_unit)
"""

# For one request the offers' GiST index drives the search.
CANDIDATES_FOR_REQUEST = _BASE.format(anchor="r.id = :anchor_id") + " ORDER BY distance_m, o.id"
# For one offer the requests' own radius bounds the search; 200 km is the largest radius allowed.
CANDIDATES_FOR_OFFER = (
    _BASE.format(
        anchor="o.id = :anchor_id AND ST_DWithin(r.location::geography, o.location::geography, 200000)"
    )
    + " ORDER BY distance_m, r.id"
)
# Every pair, for a global allocation, optionally within a family and around a point.
CANDIDATE_GRAPH = _BASE.format(
    anchor="(CAST(:family AS text) IS NULL OR starts_with(o.material, CAST(:family AS text)))"
    " AND (CAST(:radius_m AS float8) IS NULL OR ST_DWithin(r.location::geography,"
    " geography(ST_SetSRID(ST_MakePoint(CAST(:lon AS float8), CAST(:lat AS float8)), 4326)),"
    " CAST(:radius_m AS float8)))"
)
Unit = Literal["kg", "t", "m3", "piece"]


@dataclass(frozen=True)
class CandidatePair:
    """One row of the candidate SQL, as plain data."""

    offer_id: str
    request_id: str
    offer_organization_id: str
    request_organization_id: str
    offer_material: str
    request_material: str
    offer_quantity: float
    offer_remaining: float
    offer_unit: Unit
    offer_mass_kg: float | None
    offer_min_lot: float | None
    request_quantity: float
    request_remaining: float
    request_unit: Unit
    request_mass_kg: float | None
    condition: str
    min_condition: str
    price_per_unit: float | None
    max_price_per_unit: float | None
    available_from: date
    available_until: date | None
    needed_from: date
    needed_by: date
    max_distance_km: float
    distance_m: float
    # The rows' versions when read: a match proposed from this pair keeps them as its terms.
    offer_version: int | None = None
    request_version: int | None = None
