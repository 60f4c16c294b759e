"""GeoJSON in and out, and the one way a location becomes a stored WGS84 point."""

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from geoalchemy2 import WKBElement, WKTElement
from geoalchemy2.shape import to_shape
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ValidationFailed
from app.kit.pagination import Link, PageParams, page_links
from app.kit.schema import InputModel
from app.kit.spatial import sort_key

GEOJSON_MEDIA_TYPE = "application/geo+json"
Row = TypeVar("Row")
SRID_WGS84 = 4326
# Belgian Lambert 72 and Belgian Lambert 2008, what Belgian GIS tools export by default.
ACCEPTED_CRS = {"EPSG:4326": 4326, "EPSG:31370": 31370, "EPSG:3812": 3812}
# Lambert metres that far from the projection's origin lie nowhere near Belgium; beyond
# them a projection may overflow, so they are refused before it runs.
MAX_PROJECTED_M = 10_000_000


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON_MEDIA_TYPE


class PointIn(InputModel):
    """A GeoJSON Point. `coordinates` are [lon, lat] in WGS84 unless `crs` names Belgian
    Lambert 72 (EPSG:31370) or Lambert 2008 (EPSG:3812), in which case they are [x, y] metres
    (each within 10 000 km of the origin)."""

    type: Literal["Point"]
    crs: Literal["EPSG:4326", "EPSG:31370", "EPSG:3812"] = "EPSG:4326"
    coordinates: tuple[float, float] = Field(examples=[[4.3211, 50.8413]])

    @field_validator("coordinates")
    @classmethod
    def _in_range(cls, value: tuple[float, float], info: Any) -> tuple[float, float]:
        if info.data.get("crs", "EPSG:4326") == "EPSG:4326":
            lon, lat = value
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError("longitude must lie in [-180, 180] and latitude in [-90, 90]")
        elif any(abs(c) > MAX_PROJECTED_M for c in value):
            raise ValueError(f"projected coordinates lie within {MAX_PROJECTED_M:g} m of 0")
        return value


class Point(BaseModel):
    """A GeoJSON Point in WGS84: [lon, lat]."""

    type: Literal["Point"] = "Point"
    coordinates: tuple[float, float]

    @model_validator(mode="before")
    @classmethod
    def _from_database(cls, value: Any) -> Any:
        if isinstance(value, WKBElement | WKTElement):
            shape = to_shape(value)
            return {"coordinates": (round(shape.x, 7), round(shape.y, 7))}
        return value


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: Point
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
    numberReturned: int
    links: list[Link]


_LOCATE = text(
    """
    WITH p AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), :srid), 4326) AS g)
    SELECT ST_X(p.g) AS lon, ST_Y(p.g) AS lat,
           (SELECT bool_or(ST_DWithin(a.geom::geography, p.g::geography, :buffer_m))
              FROM service_areas a) AS in_service_area
      FROM p
    """
)


async def locate(
    session: AsyncSession, point: PointIn, buffer_km: float, field: str = "location"
) -> WKTElement:
    """The WGS84 point to store for `point`, checked against the service area (the Brussels
    region outline plus `buffer_km`). With no service area loaded only the ranges are checked."""
    row = (
        await session.execute(
            _LOCATE,
            {
                "x": point.coordinates[0],
                "y": point.coordinates[1],
                "srid": ACCEPTED_CRS[point.crs],
                "buffer_m": buffer_km * 1000,
            },
        )
    ).one()
    if not (-180 <= row.lon <= 180 and -90 <= row.lat <= 90):
        raise ValidationFailed.field(
            f"{field}.coordinates",
            "coordinate_range",
            f"These {point.crs} coordinates fall off the globe.",
        )
    if buffer_km > 0 and row.in_service_area is False:
        raise ValidationFailed.field(
            f"{field}.coordinates",
            "within_service_area",
            f"The point ({row.lon:.5f}, {row.lat:.5f}) lies more than {buffer_km:g} km from the "
            "Brussels-Capital Region. Check the order: GeoJSON is [longitude, latitude].",
        )
    return WKTElement(f"POINT({row.lon!r} {row.lat!r})", srid=SRID_WGS84)


def feature_page(
    request: Request,
    rows: Sequence[tuple[Row, float | None]],
    page: PageParams,
    view: Callable[[Row], BaseModel],
) -> GeoJSONResponse:
    """One page of a spatial list, with the `next` link when the page is full."""
    links = page_links(request, page, rows, lambda row: sort_key(*row), GEOJSON_MEDIA_TYPE)
    return feature_collection([(view(r), d) for r, d in rows], links)


def feature_collection(
    items: list[tuple[BaseModel, float | None]], links: list[Link]
) -> GeoJSONResponse:
    """Resources with a `location` as a FeatureCollection that QGIS and Leaflet read as it is;
    with a distance when the list was ordered by one."""
    features = []
    for item, distance_m in items:
        properties = item.model_dump(mode="json")
        geometry = Point.model_validate(properties.pop("location"))
        if distance_m is not None:
            properties["distance_m"] = round(distance_m, 1)
        features.append(Feature(id=str(properties["id"]), geometry=geometry, properties=properties))
    collection = FeatureCollection(features=features, numberReturned=len(features), links=links)
    return GeoJSONResponse(collection.model_dump(mode="json", exclude_none=True))
