"""The districts' queries: all of them, one by slug, the one at a point."""

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Commune, District

# The outline as RFC 7946 wants it: counterclockwise exterior rings, to the 6th decimal
# (about 10 cm).
_DISTRICT_ANSWER = select(
    District,
    Commune.name.label("commune_name"),
    func.ST_AsGeoJSON(func.ST_ForcePolygonCCW(District.geom), 6).label("outline"),
).join(Commune, Commune.nis_code == District.commune)


async def all_districts(session: AsyncSession) -> list[Row[District, str, str]]:
    rows = await session.execute(_DISTRICT_ANSWER.order_by(District.name, District.slug))
    return list(rows.all())


async def district_by_slug(session: AsyncSession, slug: str) -> Row[District, str, str] | None:
    return (await session.execute(_DISTRICT_ANSWER.where(District.slug == slug))).first()


async def district_containing(session: AsyncSession, lon: float, lat: float) -> District | None:
    """Outlines may overlap where two clusters come close: the smaller, the more precise."""
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    query = (
        select(District)
        .where(func.ST_Intersects(District.geom, point))
        .order_by(District.area_m2, District.slug)
        .limit(1)
    )
    return (await session.scalars(query)).first()
