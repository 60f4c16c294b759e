"""A plan's inputs, frozen when it is asked for: its vehicles and shipments as plain JSON,
stored or given inline alike, so that the plan is made of what they were then. Also the
places of a plan in the order of its travel matrices, and each vehicle's travel profile."""

from typing import Any

from app.fleet.schemas import DEFAULTS, VehicleType
from app.kit.geo import Point
from app.models import ShipmentRow, Vehicle
from logistics.matrices import Profile

BIKE_TYPES = ("cargo_bike", "cargo_trike")


def lonlat(geometry: Any) -> list[float]:
    return list(Point.model_validate(geometry).coordinates)


def vehicle_input(row: Vehicle) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "type": row.type,
        "capacity_kg": row.capacity_kg,
        "capacity_m3": row.capacity_m3,
        "speed_kmh": row.speed_kmh,
        "range_km": row.range_km,
        "start": lonlat(row.start_location),
        "end": lonlat(row.end_location),
        "shift_start": row.shift_start.isoformat(),
        "shift_end": row.shift_end.isoformat(),
        "cost_per_km": row.cost_per_km,
        "cost_per_hour": row.cost_per_hour,
        "fixed_cost": row.fixed_cost,
        "co2_g_per_km": row.co2_g_per_km,
        "stop_time_s": row.stop_time_s,
    }


def shipment_input(row: ShipmentRow) -> dict[str, Any]:
    def end(prefix: str) -> dict[str, Any]:
        return {
            "location": lonlat(getattr(row, f"{prefix}_location")),
            "from": getattr(row, f"{prefix}_from").isoformat(),
            "until": getattr(row, f"{prefix}_until").isoformat(),
            "service_s": getattr(row, f"{prefix}_service_s"),
        }

    return {
        "id": str(row.id),
        "reference": row.reference,
        "pickup": end("pickup"),
        "delivery": end("delivery"),
        "load_kg": row.load_kg,
        "load_m3": row.load_m3,
    }


def plan_points(inputs: dict[str, Any]) -> list[tuple[float, float]]:
    """Every place of the plan once, in a fixed order: the rows of its matrices."""
    places = [v[k] for v in inputs["vehicles"] for k in ("start", "end")]
    places += [s[k]["location"] for s in inputs["shipments"] for k in ("pickup", "delivery")]
    places += [h["location"] for h in inputs.get("hubs", [])]
    return list(dict.fromkeys((p[0], p[1]) for p in places))


def is_bike(vehicle: dict[str, Any]) -> bool:
    return vehicle["type"] in BIKE_TYPES


def vehicle_profile(vehicle: dict[str, Any]) -> Profile:
    """Bikes and trikes ride the bike network, the others drive the van network."""
    mode = "bike" if is_bike(vehicle) else "van"
    speed = float(vehicle["speed_kmh"])
    return Profile(f"{mode}@{speed}", speed)


# The van of the baseline every plan is compared with, at the default speed of a van.
BASELINE_VAN = Profile("van@baseline", float(DEFAULTS[VehicleType.van]["speed_kmh"] or 22))
