"""The districts' queries: all of them (or those near a point), one by slug, the one at a
point."""

from typing import Any

from sqlalchemy import Float, Row, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.spatial import NearParams, point_geography, point_geometry
from app.models import Commune, District

DistrictRow = Row[District, str, str, float | None]


def _district_answer(distance_m: Any) -> Any:
    """Each district with its commune's name, its outline as RFC 7946 wants it
    (counterclockwise exterior rings, to the 6th decimal: about 10 cm) and `distance_m`."""
    return select(
        District,
        Commune.name.label("commune_name"),
        func.ST_AsGeoJSON(func.ST_ForcePolygonCCW(District.geom), 6).label("outline"),
        distance_m.label("distance_m"),
    ).join(Commune, Commune.nis_code == District.commune)


async def all_districts(session: AsyncSession, near: NearParams) -> list[DistrictRow]:
    """By name; nearest first from `near`, within its radius when it has one. A few hundred
    rows at most: measured on the ellipsoid, each of them."""
    if near.point is None:
        query = _district_answer(literal(None, Float)).order_by(District.name, District.slug)
    else:
        here = point_geography(*near.point)
        distance = func.ST_Distance(func.geography(District.geom), here, type_=Float)
        query = _district_answer(distance).order_by(distance, District.slug)
        if near.radius_km is not None:
            query = query.where(
                func.ST_DWithin(func.geography(District.geom), here, near.radius_km * 1000)
            )
    return list((await session.execute(query)).all())


async def district_by_slug(session: AsyncSession, slug: str) -> DistrictRow | None:
    query = _district_answer(literal(None, Float)).where(District.slug == slug)
    return (await session.execute(query)).first()


async def district_containing(session: AsyncSession, lon: float, lat: float) -> District | None:
    """Outlines may overlap where two clusters come close: the smaller, the more precise."""
    query = (
        select(District)
        .where(func.ST_Intersects(District.geom, point_geometry(lon, lat)))
        .order_by(District.area_m2, District.slug)
        .limit(1)
    )
    return (await session.scalars(query)).first()
