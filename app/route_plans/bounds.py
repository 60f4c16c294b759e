"""How much one route plan may ask of a worker: shipments and vehicles (the size of the
search) and travel profiles (each one a full travel matrix in memory). The limits are
settings, so they are checked here rather than in the schema."""

from collections.abc import Set

from app.kit.problems import ValidationFailed
from app.route_plans.schemas import RoutePlanCreate
from app.settings import Settings


def check_plan_size(settings: Settings, data: RoutePlanCreate) -> None:
    """The shipments and vehicles a plan names, counted from the request alone, so that a
    request with too many ids is refused before any of them is loaded."""
    shipments = len(data.shipment_ids) + len(data.shipments)
    if shipments > settings.plan_max_shipments:
        raise ValidationFailed.field(
            "shipments",
            "max_shipments",
            f"A plan takes at most {settings.plan_max_shipments} shipments (given "
            f"{shipments}); split the day into several plans.",
        )
    vehicles = len(data.vehicle_ids) + len(data.vehicles)
    if vehicles > settings.plan_max_vehicles:
        raise ValidationFailed.field(
            "vehicles",
            "max_vehicles",
            f"A plan takes at most {settings.plan_max_vehicles} vehicles (given {vehicles}); "
            "split the fleet into several plans.",
        )


def check_plan_profiles(settings: Settings, profiles: Set[str]) -> None:
    """The travel profiles (`vehicle_profile` names) of the vehicles as they will be planned:
    stored ones as stored, inline ones with the defaults of their type."""
    if len(profiles) > settings.plan_max_profiles:
        raise ValidationFailed.field(
            "vehicles",
            "max_profiles",
            f"A plan takes at most {settings.plan_max_profiles} travel profiles, a network and "
            f"a speed each (given {len(profiles)}: {', '.join(sorted(profiles))}); each needs "
            "a travel matrix of its own, so give vehicles of one kind the same speed_kmh.",
        )
