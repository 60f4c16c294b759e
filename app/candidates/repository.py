"""Candidate search in the database: which open offers can serve which open requests. One set of
rules, kept where it can be read, anchored on a request, on an offer, or on nothing (the whole
graph); its rows answered as `matching.candidates.CandidatePair`, the engine's plain data.

Compatible means: the offer's code equals the request's or lies inside its sub-chapter or
chapter; a hazardous code only when the request names that very code; availability overlapping
the needed window; condition at least the minimum (A is best); within the request's
`max_distance_km` (ST_DWithin on geography); remaining quantity at least the offer's min lot;
and another organization's offer.

The candidates of one request or one offer are ranked in the database (`score_sql.ranked`): only
the page asked for comes back. A request's offers are read by place, as far as they can still
make the page (`bounded_search`, on the index of migration 0024): its reach covers most of the
region, and all of it would hand over thousands of offers to score. An offer's requests are
joined by material (the partial indexes of migration 0022 on open listings).

The page of the API's answer comes with its listings, in the same statement (`_with_listings`):
the columns their view reads, which decides what is shown."""

import dataclasses
import functools
import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Numeric, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates import bounded_search, score_sql
from app.candidates.score_sql import PAGE_ORDER, ranked
from app.kit.geo import Point
from app.listings.kind import ListingKind, ListingSchemas
from app.listings.offers import OFFERS
from app.listings.requests import REQUESTS
from matching.candidates import CandidatePair

# Every column of a pair (`CandidatePair`) but `distance_m`, which is `_DISTANCE`.
_PAIR_COLUMNS = """
       o.id AS offer_id, r.id AS request_id,
       o.organization_id AS offer_organization_id, r.organization_id AS request_organization_id,
       o.material AS offer_material, r.material AS request_material,
       o.quantity_value AS offer_quantity, o.remaining_value AS offer_remaining,
       o.quantity_unit AS offer_unit, o.mass_kg AS offer_mass_kg, o.min_lot AS offer_min_lot,
       r.quantity_value AS request_quantity, r.remaining_value AS request_remaining,
       r.quantity_unit AS request_unit, r.mass_kg AS request_mass_kg,
       o.condition, r.min_condition,
       o.price_per_unit, r.max_price_per_unit,
       o.available_from, o.available_until, r.needed_from, r.needed_by,
       r.max_distance_km, o.version AS offer_version, r.version AS request_version"""
_DISTANCE = score_sql.distance("o.location", "r.location")
# The rules but the distance, `hazardous` saying whether the offer's code is hazardous. The
# open-listing predicates are spelled as the partial indexes of migration 0022 are.
_COMPATIBLE = """
       o.status = 'open' AND r.status = 'open'
   AND o.remaining_value > 0 AND r.remaining_value > 0
   AND o.organization_id <> r.organization_id
   AND starts_with(o.material, r.material)
   AND (o.material = r.material OR NOT {hazardous})
   AND o.available_from <= r.needed_by
   AND (o.available_until IS NULL OR o.available_until >= r.needed_from)
   AND o.condition <= r.min_condition
   AND o.remaining_value >= coalesce(o.min_lot, 0)
   AND (r.max_price_per_unit IS NULL OR o.price_per_unit IS NULL
        OR o.quantity_unit <> r.quantity_unit OR o.price_per_unit <= r.max_price_per_unit)"""
_WITHIN_REACH = "ST_DWithin(o.location::geography, r.location::geography, r.max_distance_km * 1000)"
# The same test as ST_DWithin (the same C function) without its index support: where material
# and window find the pairs, the planner is kept from a spatial index it would misjudge (it
# cannot know how far a joined row reaches, and guesses a handful of rows).
_WITHIN_REACH_UNINDEXED = "_" + _WITHIN_REACH

# A lookup rather than a join: the planner misjudges a join with the whole list of waste.
_HAZARDOUS_LOOKUP = "(SELECT m.hazardous FROM materials m WHERE m.code = o.material)"
# Every pair: the GiST indexes on the listings' geography drive the search.
_BASE = f"""
SELECT {_PAIR_COLUMNS},
       {_DISTANCE} AS distance_m
  FROM material_requests r
  JOIN offers o
    ON {_WITHIN_REACH}
 WHERE {{anchor}}
   AND {_COMPATIBLE.format(hazardous=_HAZARDOUS_LOOKUP)}
"""

# The offers of one request (for each code of its material: the code, or those of its
# sub-chapter or chapter), read by place as far as they can still make the page.
_REQUEST_OFFERS = f"{_PAIR_COLUMNS}, {score_sql.LOCATIONS}"
_REQUEST_RULES = (
    f"{score_sql.within_reach(_WITHIN_REACH_UNINDEXED)}"
    f" AND {_COMPATIBLE.format(hazardous='m.hazardous')}"
)
CANDIDATES_FOR_REQUEST = ranked(
    bounded_search.beating(
        _REQUEST_OFFERS,
        _REQUEST_RULES,
        bounded_search.threshold(
            [
                score_sql.least_of_best(
                    bounded_search.sample(_REQUEST_OFFERS, _REQUEST_RULES, share)
                )
                for share in bounded_search.SAMPLE_SHARES
            ]
        ),
    )
)
# The requests of one offer: those naming its code, its sub-chapter or its chapter.
CANDIDATES_FOR_OFFER = ranked(
    f"""SELECT {_PAIR_COLUMNS}, {score_sql.LOCATIONS}
  FROM offers o
  JOIN materials m ON m.code = o.material
  JOIN material_requests r
    ON r.material IN (o.material, left(o.material, 4), left(o.material, 2))
 WHERE o.id = :anchor_id AND {score_sql.within_reach(_WITHIN_REACH_UNINDEXED)}
   AND {_COMPATIBLE.format(hazardous="m.hazardous")}""",
)


@functools.cache
def _listing_columns(kind: ListingKind[Any]) -> list[str]:
    """The columns of `kind`'s rows its owner's view reads (the public view reads fewer of
    them: the view decides which), but its place, read as longitude and latitude."""
    fields = kind.schemas.full.model_fields
    return [
        column.name
        for column in kind.model.__table__.columns
        if column.name != "location"
        and (column.name in fields or column.name in ListingSchemas.QUANTITY_COLUMNS)
    ]


_LISTING = "listing_"


def _as_read(kind: ListingKind[Any], name: str) -> str:
    """The cast that answers the column as the ORM reads it: a float for a numeric read as one
    (the driver makes a Decimal of a numeric at some microseconds each)."""
    column_type = kind.model.__table__.columns[name].type
    return "::float8" if isinstance(column_type, Numeric) and not column_type.asdecimal else ""


def _with_listings(ranked_pairs: str, kind: ListingKind[Any], side: str) -> str:
    """The page of `ranked_pairs`, in its order, each pair with the listing of its `side`
    (`offer` or `request`): its columns as `listing_<column>`, its place as `listing_lon` and
    `listing_lat`. Read in the same statement: a second one would cost a round trip, and
    loading the rows as ORM objects costs more than the ranking."""
    columns = ", ".join(
        f"l.{name}{_as_read(kind, name)} AS {_LISTING}{name}" for name in _listing_columns(kind)
    )
    return f"""SELECT page.*, {columns},
       ST_X(l.location) AS listing_lon, ST_Y(l.location) AS listing_lat
  FROM ({ranked_pairs}) page
  JOIN {kind.model.__tablename__} l ON l.id = page.{side}_id
 ORDER BY {PAGE_ORDER}"""


# One offer and one request, when the first can serve the second.
CANDIDATE_PAIR = _BASE.format(anchor="r.id = :request_id AND o.id = :offer_id")
_PAIR_FIELDS = [f.name for f in dataclasses.fields(CandidatePair)]


def pair_from_row(row: Any) -> CandidatePair:
    # Raw SQL answers numeric columns as Decimal; the engine works in floats.
    values: dict[str, Any] = {
        name: float(v) if isinstance(v := row[name], Decimal) else v for name in _PAIR_FIELDS
    }
    for name in ("offer_id", "request_id", "offer_organization_id", "request_organization_id"):
        values[name] = str(row[name])
    return CandidatePair(**values)


def listing_from_row(row: dict[str, Any], kind: ListingKind[Any]) -> SimpleNamespace:
    """The listing of a row of `_with_listings`, as its view reads a row: its columns as
    attributes, its place as a GeoJSON point's fields (`app.kit.geo.Point`)."""
    listing = SimpleNamespace(**{name: row[_LISTING + name] for name in _listing_columns(kind)})
    listing.location = Point.fields_of(row[f"{_LISTING}lon"], row[f"{_LISTING}lat"])
    return listing


# Made once: text() searches its whole text for parameters, and these run to tens of kB.
OFFERS_FOR_REQUEST = text(_with_listings(CANDIDATES_FOR_REQUEST, OFFERS, "offer"))
_REQUESTS_FOR_OFFER = text(_with_listings(CANDIDATES_FOR_OFFER, REQUESTS, "request"))
# A new offer's requests, to announce it: their listings are not shown.
_REQUESTS_FOR_NEW_OFFER = text(CANDIDATES_FOR_OFFER)


# The offers of a request are one long statement (74 kB): PostgreSQL takes 30 to 170 ms to
# plan it, ten times what it then takes to run, and by default plans a prepared statement anew
# for its first five runs on each connection, then only keeps a generic plan it judges no
# costlier. Its generic plan serves every request (the anchor is one row found by its key):
# made once per connection and kept (in psql, under load: 187 ms for the first run, then 9 to
# 21 ms). It lasts until the request's transaction ends.
_GENERIC_PLAN = text("SET LOCAL plan_cache_mode = force_generic_plan")


async def _ranked(
    session: AsyncSession, statement: TextClause, anchor_id: uuid.UUID, limit: int
) -> list[dict[str, Any]]:
    result = await session.execute(statement, {"anchor_id": anchor_id, "limit": limit})
    # Plain dicts: a row's mapping costs some microseconds a column read.
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


async def best_offers_for_request(
    session: AsyncSession, request_id: uuid.UUID, limit: int
) -> list[tuple[CandidatePair, SimpleNamespace]]:
    """The `limit` offers that can best serve this request, best first (`matching.scoring.rank`),
    each with its offer (`listing_from_row`)."""
    await session.execute(_GENERIC_PLAN)
    rows = await _ranked(session, OFFERS_FOR_REQUEST, request_id, limit)
    return [(pair_from_row(row), listing_from_row(row, OFFERS)) for row in rows]


async def best_requests_for_offer(
    session: AsyncSession, offer_id: uuid.UUID, limit: int
) -> list[tuple[CandidatePair, SimpleNamespace]]:
    """The `limit` requests this offer can best serve, best first (`matching.scoring.rank`),
    each with its request (`listing_from_row`)."""
    rows = await _ranked(session, _REQUESTS_FOR_OFFER, offer_id, limit)
    return [(pair_from_row(row), listing_from_row(row, REQUESTS)) for row in rows]


async def requests_for_new_offer(
    session: AsyncSession, offer_id: uuid.UUID, limit: int
) -> list[CandidatePair]:
    """The `limit` requests this offer can best serve, best first, without their listings."""
    return [
        pair_from_row(row)
        for row in await _ranked(session, _REQUESTS_FOR_NEW_OFFER, offer_id, limit)
    ]


async def candidate_pair(
    session: AsyncSession, offer_id: uuid.UUID, request_id: uuid.UUID
) -> CandidatePair | None:
    """The pair of this offer and this request, when the offer can serve the request."""
    row = (
        (
            await session.execute(
                text(CANDIDATE_PAIR), {"offer_id": offer_id, "request_id": request_id}
            )
        )
        .mappings()
        .one_or_none()
    )
    return None if row is None else pair_from_row(row)
