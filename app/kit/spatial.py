"""The one query shape behind every spatial list: filter, optionally within a radius of a
point, ordered by distance (or by creation), paged by keyset."""

import math
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from geoalchemy2 import WKBElement
from sqlalchemy import ColumnElement, Float, Select, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped

from app.kit.pagination import Keyset, PageParams, after_cursor, keyset_page, oldest_first
from app.kit.problems import ValidationFailed
from app.kit.request_session import Session

Row = TypeVar("Row")
# Spatial lists reach across the region, not further: Brussels is some 20 km across.
MAX_RADIUS_KM = 100


@dataclass(frozen=True)
class NearParams:
    """Where a spatial list is centred, if anywhere, and how far it reaches."""

    point: tuple[float, float] | None
    radius_km: float | None


# The longitudes and latitudes the service area spans (its bounding box); no row when none
# is loaded.
_SERVICE_AREA_RANGES = text(
    """
    SELECT ST_XMin(box) AS lon_min, ST_XMax(box) AS lon_max,
           ST_YMin(box) AS lat_min, ST_YMax(box) AS lat_max
      FROM (SELECT ST_Extent(geom) AS box FROM service_areas) extent
     WHERE box IS NOT NULL
    """
)
# How long a process trusts the service area's box it read: the area changes when the
# reference data is loaded again, seldom, and a stale box only delays a 422 of the check below.
SERVICE_AREA_RANGES_TTL_S = 60.0


@dataclass(frozen=True)
class _Ranges:
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float
    read_at: float

    def within(self, lon: float, lat: float) -> bool:
        return self.lon_min <= lon <= self.lon_max and self.lat_min <= lat <= self.lat_max


class ServiceAreaBox:
    """The service area's box as an API process last read it (`app.state.service_area_box`):
    every near search asks, and the box is an aggregate over the area's outline."""

    def __init__(self) -> None:
        self._ranges: _Ranges | None = None

    async def read(self, session: AsyncSession) -> _Ranges | None:
        now = time.monotonic()
        if self._ranges is None or now - self._ranges.read_at > SERVICE_AREA_RANGES_TTL_S:
            row = (await session.execute(_SERVICE_AREA_RANGES)).one_or_none()
            # No area loaded yet is not kept: the first request after the load sees it.
            self._ranges = (
                None
                if row is None
                else _Ranges(row.lon_min, row.lon_max, row.lat_min, row.lat_max, read_at=now)
            )
        return self._ranges


async def refuse_swapped_lon_lat(
    box: ServiceAreaBox,
    session: AsyncSession,
    point: tuple[float, float],
    field: str,
    location: str,
) -> None:
    """Refuses a point given as lat,lon: its first number in the service area's latitudes and
    its second in its longitudes, and not the other way round. Read as lon,lat such a point
    lies far away (50.85,4.35 is off Somalia, not in Brussels), and a list near it would
    answer empty, silently."""
    ranges = await box.read(session)
    if ranges is None:
        return
    first, second = point
    if ranges.within(second, first) and not ranges.within(first, second):
        raise ValidationFailed.field(
            field,
            "lon_lat_order",
            f"{field} is lon,lat: did you mean {field}={second!r},{first!r}?",
            location,
        )


async def near_params(
    request: Request,
    session: Session,
    near: Annotated[
        str | None,
        Query(
            description="lon,lat in WGS84 degrees, e.g. `4.35,50.85`: order by distance from "
            "it, nearest first. Given the wrong way round (lat,lon: a point whose first number "
            "lies among the service area's latitudes and whose second among its longitudes) "
            "it answers 422 `lon_lat_order`.",
            examples=["4.3525,50.8467"],
        ),
    ] = None,
    radius_km: Annotated[
        float | None,
        Query(
            gt=0,
            le=MAX_RADIUS_KM,
            allow_inf_nan=False,
            description=f"Only within this distance of `near`, at most {MAX_RADIUS_KM} km.",
        ),
    ] = None,
) -> NearParams:
    if near is None:
        if radius_km is not None:
            raise ValidationFailed.field(
                "radius_km", "requires_near", "radius_km needs near=lon,lat.", "query"
            )
        return NearParams(None, None)
    try:
        lon, lat = (float(part) for part in near.split(","))
    except ValueError:
        raise ValidationFailed.field(
            "near", "lon_lat", "Give near as lon,lat in WGS84, e.g. near=4.35,50.85.", "query"
        ) from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationFailed.field(
            "near",
            "coordinate_range",
            "Longitude lies in [-180, 180], latitude in [-90, 90].",
            "query",
        )
    box: ServiceAreaBox = request.app.state.service_area_box
    await refuse_swapped_lon_lat(box, session, (lon, lat), "near", "query")
    return NearParams((lon, lat), radius_km)


Near = Annotated[NearParams, Depends(near_params)]


def geography(location: Any) -> ColumnElement[Any]:
    # Spelled as the GiST index is (`location::geography`) so that the planner can use it.
    return func.geography(location)


def point_geometry(lon: float, lat: float) -> ColumnElement[Any]:
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)


def point_geography(lon: float, lat: float) -> ColumnElement[Any]:
    return func.geography(point_geometry(lon, lat))


def near_query(
    model: Any,
    filters: list[ColumnElement[bool]],
    near: NearParams,
    page: PageParams,
) -> Select[Any]:
    location: Mapped[WKBElement] = model.location
    if near.point is None:
        query = select(model, literal(None, Float).label("distance_m"))
        keyset = oldest_first(model)
    else:
        here = point_geography(*near.point)
        distance = func.ST_Distance(geography(location), here, type_=Float)
        keyset = Keyset((distance, model.id), (float, uuid.UUID))
        filters = [*filters, _within_nearest(location, near.point, distance, filters, keyset, page)]
        if near.radius_km is not None:
            filters.append(func.ST_DWithin(geography(location), here, near.radius_km * 1000))
        query = select(model, distance.label("distance_m"))
    return keyset_page(query.where(*filters), keyset, page)


# ST_DWithin and ST_Distance measure alike, to the nanometre; a millimetre and a billionth more
# keep a row at the very bound in.
_BOUND_SLACK_M, _BOUND_SLACK = 0.001, 1e-9


def _within_nearest(
    location: Any,
    point: tuple[float, float],
    distance: ColumnElement[float],
    filters: list[ColumnElement[bool]],
    keyset: Keyset,
    page: PageParams,
) -> ColumnElement[bool]:
    """Within the distance of the farthest of the first `limit` rows after the cursor that pass
    `filters`, taken in the GiST index's order (`<->`, KNN). Any `limit` such rows
    bound the page: the `limit` nearest after the cursor lie no further than they, and those
    within a radius, nearer than any row outside it, too. The rows the index hands first bound
    it closely, so the page is read from the index around the point instead of sorting every row
    in reach. The index is the geometry's (migration 0026): KNN in degrees, a little stretched
    east-west against metres, costs a thirtieth of KNN on the geography index; the page's
    order and its bound stay ST_Distance's, on the spheroid."""
    nearest = (
        select(distance.label("distance_m"))
        .where(*filters, *after_cursor(keyset, page))
        .order_by(location.op("<->")(point_geometry(*point)))
        .limit(page.limit)
        .subquery()
    )
    bound = select(func.max(nearest.c.distance_m)).scalar_subquery()
    return func.ST_DWithin(
        geography(location), point_geography(*point), bound * (1 + _BOUND_SLACK) + _BOUND_SLACK_M
    )


async def run_near_query(
    session: AsyncSession, query: Select[Any]
) -> list[tuple[Any, float | None]]:
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


def sort_key(row: Any, distance_m: float | None) -> tuple[Any, uuid.UUID]:
    """The sort key of a row of `near_query`: its distance when ordered by one."""
    return (row.created_at if distance_m is None else distance_m), row.id
