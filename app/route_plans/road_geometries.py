"""A road plan's routes drawn along the streets their vehicles take."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.roads.routing import road_line
from app.route_plans.inputs import vehicle_profile
from app.route_plans.plan_inputs import PlanVehicle
from app.route_plans.result_schema import LineString, RoutePlanResult


async def add_road_geometries(
    session: AsyncSession,
    result: RoutePlanResult,
    snapped: dict[str, list[int]],
    points: list[tuple[float, float]],
    vehicles: Sequence[PlanVehicle],
) -> None:
    """Each route's line along the roads it takes, leg by leg (through its stops where the
    network has no line)."""
    index = {p: i for i, p in enumerate(points)}
    profiles = {v.id: vehicle_profile(v).name for v in vehicles}
    for route in result.routes:
        profile = profiles[route.vehicle_id]
        vertices = [snapped[profile][index[stop.location]] for stop in route.stops]
        coordinates = await road_line(session, profile, vertices)
        route.geometry = LineString(
            coordinates=coordinates or [stop.location for stop in route.stops]
        )
