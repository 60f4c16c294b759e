"""A route plan for a map: a GeoJSON FeatureCollection that QGIS and Leaflet read as it is."""

from typing import Any

from app.models import RoutePlan
from app.route_plans.result_schema import LineString, RoutePlanResult


def _feature(kind: str, geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": {"feature": kind, **properties}}


def _point(coordinates: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Point", "coordinates": list(coordinates)}


def route_plan_geojson(plan: RoutePlan) -> dict[str, Any]:
    """Routes as LineStrings (along the roads with the road matrix, else through their stops),
    stops as Points, and for a two-tier plan each hand-over at a hub as a Point."""
    result = RoutePlanResult.model_validate(plan.result) if plan.result else None
    routes = result.routes if result else []
    transfers = (result.transfers or []) if result else []
    features: list[dict[str, Any]] = []
    for route in routes:
        line = route.geometry or LineString(coordinates=[stop.location for stop in route.stops])
        properties = route.model_dump(mode="json", exclude={"stops", "geometry"})
        features.append(_feature("route", line.model_dump(mode="json"), properties))
        for order, stop in enumerate(route.stops):
            properties = {
                "vehicle_id": route.vehicle_id,
                "order": order,
                **stop.model_dump(mode="json", exclude={"location"}),
            }
            features.append(_feature("stop", _point(stop.location), properties))
    for transfer in transfers:
        properties = transfer.model_dump(mode="json", exclude={"location"})
        features.append(_feature("transfer", _point(transfer.location), properties))
    collection: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "route_plan_id": str(plan.id),
        "status": plan.status,
    }
    if plan.matrix == "road":
        collection["attribution"] = "© OpenStreetMap contributors (ODbL)"
    return collection
