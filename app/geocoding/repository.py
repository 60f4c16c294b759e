"""The geocoder's queries over the `geocoding` schema (migration 0028)."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Commune, GeocodingAddress, GeocodingPostcode

# A street of another postcode than the one asked for ranks as if it matched this much less.
OTHER_POSTCODE = 0.85


@dataclass(frozen=True)
class StreetRow:
    street_id: int
    spelling: str
    language: str | None  # of the spelling: fr, nl, or None when it is the street's only name
    score: float
    name: str
    name_fr: str | None
    name_nl: str | None
    postcode: str | None
    commune_fr: str | None
    commune_nl: str | None
    lon: float
    lat: float


@dataclass(frozen=True)
class AddressRow:
    street_id: int
    number_key: str
    postcode: str | None
    lon: float
    lat: float


@dataclass(frozen=True)
class PostcodeRow:
    postcode: str
    commune_fr: str | None
    commune_nl: str | None
    lon: float
    lat: float


# pg_trgm's `%` (similarity above pg_trgm.similarity_threshold, 0.3) lets the trigram index
# find the spellings.
_STREETS = text(
    """
    SELECT s.id AS street_id, n.name AS spelling, n.language,
           score, s.name, s.name_fr, s.name_nl, s.postcode,
           c.name_fr AS commune_fr, c.name_nl AS commune_nl,
           ST_X(s.point) AS lon, ST_Y(s.point) AS lat
      FROM (SELECT geocoding.normalised(:street) AS search) q
      JOIN geocoding.street_names n ON n.search % q.search
      JOIN geocoding.streets s ON s.id = n.street_id
      LEFT JOIN public.communes c ON c.nis_code = s.commune
     CROSS JOIN LATERAL (
           SELECT similarity(n.search, q.search)
                  * CASE WHEN CAST(:postcode AS text) IS NULL OR s.postcode = :postcode THEN 1.0
                         ELSE CAST(:other_postcode AS float8) END AS score) ranked
     ORDER BY score DESC, s.id, n.language NULLS FIRST
     LIMIT :limit
    """
)


async def streets_like(
    session: AsyncSession, street: str, postcode: str | None, limit: int
) -> list[StreetRow]:
    """The streets whose names are most like `street`, best first, each once by its best
    spelling; one of `postcode` ranks above a street as like it elsewhere."""
    rows = await session.execute(
        _STREETS,
        {"street": street, "postcode": postcode, "other_postcode": OTHER_POSTCODE, "limit": limit},
    )
    best: dict[int, StreetRow] = {}
    for row in rows:
        if row.street_id not in best:
            best[row.street_id] = StreetRow(**row._asdict())
    return list(best.values())


async def numbers_on(
    session: AsyncSession, street_ids: Sequence[int], key: str
) -> dict[int, AddressRow]:
    """The door of this house number on each of these streets that has one."""
    if not street_ids:
        return {}
    door = GeocodingAddress
    rows = await session.execute(
        select(
            door.street_id,
            door.number_key,
            door.postcode,
            func.ST_X(door.geom).label("lon"),
            func.ST_Y(door.geom).label("lat"),
        )
        .where(door.street_id.in_(street_ids), door.number_key == key)
        .ext(distinct_on(door.street_id))
        .order_by(door.street_id, door.id)
    )
    return {row.street_id: AddressRow(**row._asdict()) for row in rows}


# Between the nearest doors below and above a number, of its side of the street (same
# parity), when they stand close enough for the street to run straight between them.
_BETWEEN = text(
    """
    WITH doors AS (
        SELECT id, street_id, CAST(number_key AS integer) AS n, postcode, geom
          FROM geocoding.addresses
         WHERE street_id IN :street_ids AND number_key ~ '^[0-9]+$'
    ), below AS (
        SELECT DISTINCT ON (street_id) * FROM doors
         WHERE n < :number AND n % 2 = :parity ORDER BY street_id, n DESC, id
    ), above AS (
        SELECT DISTINCT ON (street_id) * FROM doors
         WHERE n > :number AND n % 2 = :parity ORDER BY street_id, n, id
    )
    SELECT b.street_id, CAST(:number AS text) AS number_key, b.postcode,
           ST_X(i.point) AS lon, ST_Y(i.point) AS lat
      FROM below b
      JOIN above a USING (street_id)
     CROSS JOIN LATERAL (
           SELECT ST_LineInterpolatePoint(ST_MakeLine(b.geom, a.geom),
                                          CAST(:number - b.n AS float8) / (a.n - b.n)) AS point) i
     WHERE ST_DWithin(CAST(b.geom AS geography), CAST(a.geom AS geography), :max_gap_m)
    """
).bindparams(bindparam("street_ids", expanding=True))
# Doors further apart than this may stand on two stretches of a street that bends between.
MAX_INTERPOLATION_GAP_M = 300


async def between_numbers_on(
    session: AsyncSession, street_ids: Sequence[int], number: int
) -> dict[int, AddressRow]:
    """Where this number would be on each of these streets that has doors of its side below
    and above it, interpolated between them; the postcode is the lower door's."""
    if not street_ids:
        return {}
    rows = await session.execute(
        _BETWEEN,
        {
            "street_ids": list(street_ids),
            "number": number,
            "parity": number % 2,
            "max_gap_m": MAX_INTERPOLATION_GAP_M,
        },
    )
    return {row.street_id: AddressRow(**row._asdict()) for row in rows}


async def postcode_place(session: AsyncSession, postcode: str) -> PostcodeRow | None:
    place = GeocodingPostcode
    row = (
        await session.execute(
            select(
                place.postcode,
                Commune.name_fr.label("commune_fr"),
                Commune.name_nl.label("commune_nl"),
                func.ST_X(place.point).label("lon"),
                func.ST_Y(place.point).label("lat"),
            )
            .outerjoin(Commune, Commune.nis_code == place.commune)
            .where(place.postcode == postcode)
        )
    ).first()
    return None if row is None else PostcodeRow(**row._asdict())
