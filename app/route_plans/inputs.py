"""A plan's inputs, frozen when it is asked for (`PlanInputs`): each vehicle and shipment
from its row, stored or built from an inline description alike (one builder each, so one
set of defaults), so that the plan is made of what they were then. Also the places of a plan
in the order of its travel matrices, and each vehicle's travel profile."""

from typing import Any

from app.fleet.schemas import DEFAULTS, VehicleType
from app.kit.geo import Point
from app.models import ShipmentRow, Vehicle
from app.route_plans.plan_inputs import LonLat, PlanInputs, PlanShipment, PlanVehicle, PlanVisit
from logistics.matrices import Profile, straight_line
from logistics.model import Matrices

BIKE_TYPES = (VehicleType.cargo_bike, VehicleType.cargo_trike)


def lonlat(geometry: Any) -> LonLat:
    return Point.model_validate(geometry).coordinates


def plan_vehicle(row: Vehicle, vehicle_id: str) -> PlanVehicle:
    """The vehicle as planned, named `vehicle_id` in the plan."""
    return PlanVehicle(
        id=vehicle_id,
        name=row.name,
        type=VehicleType(row.type),
        capacity_kg=row.capacity_kg,
        capacity_m3=row.capacity_m3,
        speed_kmh=row.speed_kmh,
        range_km=row.range_km,
        start=lonlat(row.start_location),
        end=lonlat(row.end_location),
        shift_start=row.shift_start,
        shift_end=row.shift_end,
        cost_per_km=row.cost_per_km,
        cost_per_hour=row.cost_per_hour,
        fixed_cost=row.fixed_cost,
        co2_g_per_km=row.co2_g_per_km,
        stop_time_s=row.stop_time_s,
    )


def plan_shipment(row: ShipmentRow, shipment_id: str) -> PlanShipment:
    """The shipment as planned, named `shipment_id` in the plan."""
    return PlanShipment(
        id=shipment_id,
        reference=row.reference,
        pickup=PlanVisit(
            location=lonlat(row.pickup_location),
            window_from=row.pickup_from,
            window_until=row.pickup_until,
            service_s=row.pickup_service_s,
        ),
        delivery=PlanVisit(
            location=lonlat(row.delivery_location),
            window_from=row.delivery_from,
            window_until=row.delivery_until,
            service_s=row.delivery_service_s,
        ),
        load_kg=row.load_kg,
        load_m3=row.load_m3,
    )


def plan_points(inputs: PlanInputs) -> list[LonLat]:
    """Every place of the plan once, in a fixed order: the rows of its matrices."""
    places = [p for v in inputs.vehicles for p in (v.start, v.end)]
    places += [p for s in inputs.shipments for p in (s.pickup.location, s.delivery.location)]
    places += [h.location for h in inputs.hubs]
    return list(dict.fromkeys(places))


def is_bike(vehicle: PlanVehicle) -> bool:
    return vehicle.type in BIKE_TYPES


def vehicle_profile(vehicle: PlanVehicle) -> Profile:
    """Bikes and trikes ride the bike network, the others drive the van network."""
    mode = "bike" if is_bike(vehicle) else "van"
    return Profile(f"{mode}@{float(vehicle.speed_kmh)}", float(vehicle.speed_kmh))


def straight_line_matrices(inputs: PlanInputs) -> dict[str, Matrices]:
    """Each vehicle profile's matrices on the straight line with Brussels' detour (a plan's
    `straight_line` matrix), rows in `plan_points` order."""
    points = plan_points(inputs)
    return {p.name: straight_line(points, p) for p in map(vehicle_profile, inputs.vehicles)}


# The van of the baseline every plan is compared with, at the default speed of a van.
BASELINE_VAN = Profile("van@baseline", float(DEFAULTS[VehicleType.van]["speed_kmh"] or 22))
