"""What a route plan is made of, frozen when it is asked for: its vehicles, shipments and hubs
as they were then, in one versioned shape. The POST builds it, `route_plans.inputs` stores it
(`model_dump(mode="json")`), the worker reads it back (`model_validate`) and hands it to the
search's process as it is. A stored shape of an earlier version is rewritten by a migration
(version 2: `alembic/versions/0021_typed_plan_inputs.py`), never read by default values."""

from datetime import time
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from app.fleet.schemas import VehicleType
from app.kit.pickled_as_json import PickledAsJSON

# [lon, lat] in WGS84.
LonLat = tuple[float, float]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanVehicle(_Frozen):
    """A vehicle as planned: a stored one as it was, an inline one with the defaults of its
    type."""

    # The vehicle's id, or inline-<n> for the n-th inline one.
    id: str
    name: str
    type: VehicleType
    capacity_kg: float
    capacity_m3: float
    speed_kmh: float
    range_km: float | None
    start: LonLat
    end: LonLat
    # Local times in Brussels on the plan's day.
    shift_start: time
    shift_end: time
    cost_per_km: float
    cost_per_hour: float
    fixed_cost: float
    co2_g_per_km: float
    stop_time_s: int


class PlanVisit(_Frozen):
    """An end of a shipment: where, within which window, for how long."""

    location: LonLat
    window_from: AwareDatetime
    window_until: AwareDatetime
    service_s: int


class PlanShipment(_Frozen):
    # The shipment's id, or its reference (else inline-<n>) for an inline one.
    id: str
    reference: str | None
    pickup: PlanVisit
    delivery: PlanVisit
    load_kg: float
    load_m3: float


class PlanTransferHub(_Frozen):
    """A hub of a two-tier plan, where vans hand over to bikes, and the zone its bikes serve."""

    # The site's id, or hub-<n> for the n-th hub given by location.
    id: str
    name: str
    location: LonLat
    zone_radius_km: float
    handling_min: float


class PlanInputs(_Frozen, PickledAsJSON):
    # Version 1 was the unversioned shape of the first plans (see the migration 0021).
    version: Literal[2]
    mode: Literal["direct", "two_tier"]
    vehicles: tuple[PlanVehicle, ...]
    shipments: tuple[PlanShipment, ...]
    hubs: tuple[PlanTransferHub, ...]
