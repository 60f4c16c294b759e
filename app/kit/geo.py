"""GeoJSON in and out, and the one way a location becomes a stored WGS84 point."""

from collections.abc import Callable, Sequence
from typing import Any, Generic, Literal, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from geoalchemy2 import WKBElement, WKTElement
from geoalchemy2.shape import to_shape
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import Link, PageParams, page_links
from app.kit.problems import ValidationFailed
from app.kit.schema import InputModel
from app.kit.spatial import sort_key

GEOJSON_MEDIA_TYPE = "application/geo+json"
Row = TypeVar("Row")
Geometry = TypeVar("Geometry", bound=BaseModel)
Properties = TypeVar("Properties", bound=BaseModel)
AnyFeature = TypeVar("AnyFeature", bound=BaseModel)
SRID_WGS84 = 4326
# Belgian Lambert 72 and Belgian Lambert 2008, what Belgian GIS tools export by default.
ACCEPTED_CRS = {"EPSG:4326": 4326, "EPSG:31370": 31370, "EPSG:3812": 3812}
# Lambert metres that far from the projection's origin lie nowhere near Belgium; beyond
# them a projection may overflow, so they are refused before it runs.
MAX_PROJECTED_M = 10_000_000


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        # pydantic writes a model's JSON itself, at a fraction of json.dumps of its dump.
        if isinstance(content, BaseModel):
            return content.model_dump_json().encode()
        return super().render(content)


class PointIn(InputModel):
    """A GeoJSON Point. `coordinates` are [lon, lat] in WGS84 unless `crs` names Belgian
    Lambert 72 (EPSG:31370) or Lambert 2008 (EPSG:3812), in which case they are [x, y] metres
    (each within 10 000 km of the origin)."""

    type: Literal["Point"] = Field(description="Always `Point`.")
    crs: Literal["EPSG:4326", "EPSG:31370", "EPSG:3812"] = Field(
        default="EPSG:4326",
        description="The coordinates' reference system: WGS84 (EPSG:4326, the default), "
        "Belgian Lambert 72 (EPSG:31370) or Belgian Lambert 2008 (EPSG:3812).",
    )
    coordinates: tuple[float, float] = Field(
        description="[longitude, latitude] in degrees for WGS84 (longitude in [-180, 180], "
        "latitude in [-90, 90]); [x, y] in metres for Lambert. The point must lie within the "
        "service area (the Brussels-Capital Region and 50 km around it by default).",
        examples=[[4.3211, 50.8413]],
    )

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

    type: Literal["Point"] = Field(default="Point", description="Always `Point`.")
    coordinates: tuple[float, float] = Field(
        description="[longitude, latitude] in WGS84 degrees, to 7 decimals.",
        examples=[[4.3211, 50.8413]],
    )

    @model_validator(mode="before")
    @classmethod
    def _from_database(cls, value: Any) -> Any:
        if isinstance(value, WKBElement | WKTElement):
            shape = to_shape(value)
            return cls.fields_of(shape.x, shape.y)
        return value

    @staticmethod
    def fields_of(lon: float, lat: float) -> dict[str, Any]:
        """The point's fields from a place's longitude and latitude as stored (to 7 decimals,
        some centimetres, as every answer gives them)."""
        return {"coordinates": (round(lon, 7), round(lat, 7))}


class GeoFeature(BaseModel, Generic[Geometry, Properties]):
    """A GeoJSON Feature of a typed geometry and typed properties. Each answer names its own
    (`class OfferFeature(GeoFeature[Point, OfferFeatureProperties])`), so that the document
    says what every feature holds."""

    type: Literal["Feature"] = Field(default="Feature", description="Always `Feature`.")
    id: str = Field(description="The id of the resource the feature shows (a UUID).")
    geometry: Geometry = Field(description="Where it is, in WGS84 ([longitude, latitude]).")
    properties: Properties = Field(description="The resource's fields but its location.")


class GeoFeatureCollection(BaseModel, Generic[AnyFeature]):
    """One page of a spatial list as a GeoJSON FeatureCollection, with its `next` link as
    OGC API Features gives it."""

    type: Literal["FeatureCollection"] = Field(
        default="FeatureCollection", description="Always `FeatureCollection`."
    )
    features: list[AnyFeature] = Field(description="The page's resources, in the list's order.")
    numberReturned: int = Field(description="How many features this page holds.", ge=0)
    links: list[Link] = Field(
        description="`next` when the page is full: the page after it; empty on the last page."
    )


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


DISTANCE_DESCRIPTION = (
    "Metres from `near` (to the decimetre, on the ellipsoid) when the list is ordered by "
    "distance; null otherwise."
)


def feature_properties(
    view: BaseModel, distance_m: float | None, properties: type[Properties]
) -> Properties:
    """A view of a resource with a `location` as the properties of its Feature: its other
    fields, and its distance when the list was ordered by one."""
    fields = view.model_dump(exclude={"location"})
    return properties.model_validate(
        {**fields, "distance_m": None if distance_m is None else round(distance_m, 1)}
    )


def feature_page(
    request: Request,
    rows: Sequence[tuple[Row, float | None]],
    page: PageParams,
    feature: Callable[[Row, float | None], AnyFeature],
    collection: type[GeoFeatureCollection[AnyFeature]],
) -> GeoJSONResponse:
    """One page of a spatial list as a FeatureCollection that QGIS and Leaflet read as it is,
    with the `next` link when the page is full."""
    links = page_links(request, page, rows, lambda row: sort_key(*row), GEOJSON_MEDIA_TYPE)
    features = [feature(row, distance_m) for row, distance_m in rows]
    body = collection(features=features, numberReturned=len(features), links=links)
    return GeoJSONResponse(body)
