"""A route plan for a map: a GeoJSON FeatureCollection that QGIS and Leaflet read as it is:
each route a LineString (along the roads with the road matrix, else through its stops), each
stop a Point, and for a two-tier plan each hand-over at a hub a Point."""

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from app.kit.geo import Point
from app.models import RoutePlan
from app.route_plans.result_schema import (
    LineString,
    RouteFigures,
    RoutePlanResult,
    StopTimes,
    TransferTimes,
)
from app.route_plans.schemas import PlanStatus


class RouteProperties(RouteFigures):
    feature: Literal["route"] = Field(default="route", description="What the feature shows.")


class StopProperties(StopTimes):
    feature: Literal["stop"] = Field(default="stop", description="What the feature shows.")
    vehicle_id: str = Field(description="The route's vehicle.")
    order: int = Field(description="The stop's place in its route, from 0 (the start).", ge=0)


class TransferProperties(TransferTimes):
    feature: Literal["transfer"] = Field(default="transfer", description="What the feature shows.")


class RouteFeature(BaseModel):
    type: Literal["Feature"] = Field(default="Feature", description="Always `Feature`.")
    geometry: LineString = Field(description="The route, [lon, lat] in WGS84.")
    properties: RouteProperties = Field(description="The route's figures.")


class StopFeature(BaseModel):
    type: Literal["Feature"] = Field(default="Feature", description="Always `Feature`.")
    geometry: Point = Field(description="The stop's place.")
    properties: StopProperties = Field(description="The stop's times and load.")


class TransferFeature(BaseModel):
    type: Literal["Feature"] = Field(default="Feature", description="Always `Feature`.")
    geometry: Point = Field(description="The hub.")
    properties: TransferProperties = Field(description="Who unloaded and loaded, when.")


class RoutePlanFeatureCollection(BaseModel):
    type: Literal["FeatureCollection"] = Field(
        default="FeatureCollection", description="Always `FeatureCollection`."
    )
    features: list[RouteFeature | StopFeature | TransferFeature] = Field(
        description="The routes, each followed by its stops, then the transfers; "
        "`properties.feature` says which each is. Empty until the plan is done."
    )
    route_plan_id: uuid.UUID = Field(description="The plan's id.")
    status: PlanStatus = Field(description="The plan's status.")
    attribution: str | None = Field(
        default=None, description="Road plans: the credit their lines owe OpenStreetMap."
    )


def _point(coordinates: tuple[float, float]) -> Point:
    return Point(coordinates=coordinates)


def route_plan_geojson(plan: RoutePlan) -> RoutePlanFeatureCollection:
    result = RoutePlanResult.model_validate(plan.result) if plan.result else None
    features: list[RouteFeature | StopFeature | TransferFeature] = []
    for route in result.routes if result else []:
        line = route.geometry or LineString(coordinates=[stop.location for stop in route.stops])
        figures = route.model_dump(exclude={"stops", "geometry"})
        features.append(RouteFeature(geometry=line, properties=RouteProperties(**figures)))
        for order, stop in enumerate(route.stops):
            times = stop.model_dump(exclude={"location"})
            stop_properties = StopProperties(**times, vehicle_id=route.vehicle_id, order=order)
            features.append(StopFeature(geometry=_point(stop.location), properties=stop_properties))
    for transfer in (result.transfers or []) if result else []:
        handed_over = TransferProperties(**transfer.model_dump(exclude={"location"}))
        features.append(TransferFeature(geometry=_point(transfer.location), properties=handed_over))
    return RoutePlanFeatureCollection(
        features=features,
        route_plan_id=plan.id,
        status=PlanStatus(plan.status),
        attribution="© OpenStreetMap contributors (ODbL)" if plan.matrix == "road" else None,
    )
