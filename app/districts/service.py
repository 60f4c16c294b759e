"""The shopping districts as the API answers them, and the district a delivery point lies in."""

import json
import math

from sqlalchemy.ext.asyncio import AsyncSession

from app.districts import repository
from app.districts.repository import DistrictRow
from app.districts.schemas import (
    DistrictFeature,
    DistrictFeatureCollection,
    DistrictOutline,
    DistrictProperties,
)
from app.kit.problems import NotFound
from app.kit.spatial import NearParams
from app.models import District


def _feature(row: DistrictRow) -> DistrictFeature:
    district, commune_name, outline, distance_m = row
    return DistrictFeature(
        id=str(district.id),
        geometry=DistrictOutline.model_validate(json.loads(outline)),
        properties=DistrictProperties(
            slug=district.slug,
            name=district.name,
            name_fr=district.name_fr,
            name_nl=district.name_nl,
            commune=district.commune,
            commune_name=commune_name,
            shop_count=district.shop_count,
            shopfront_count=district.shopfront_count,
            area_m2=district.area_m2,
            distance_m=None if distance_m is None else round(distance_m, 1),
        ),
    )


async def list_districts(session: AsyncSession, near: NearParams) -> DistrictFeatureCollection:
    features = [_feature(row) for row in await repository.all_districts(session, near)]
    return DistrictFeatureCollection(features=features, numberReturned=len(features))


async def get_district(session: AsyncSession, slug: str) -> DistrictFeature:
    row = await repository.district_by_slug(session, slug)
    if row is None:
        raise NotFound(f"No shopping district has the slug {slug!r}.")
    return _feature(row)


async def district_at(session: AsyncSession, lon: float, lat: float) -> District | None:
    """The shopping district holding the WGS84 point (lon, lat), or None outside them all."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    return await repository.district_containing(session, lon, lat)
