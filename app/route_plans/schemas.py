import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.fleet.schemas import VehicleCreate
from app.kit.geo import PointIn
from app.shipments.schemas import ShipmentCreate


class PlanStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class PlanHub(BaseModel):
    """A hub where vans hand over to cargo bikes, and the zone its bikes serve."""

    site_id: uuid.UUID | None = Field(default=None, description="One of your sites.")
    location: PointIn | None = Field(default=None, description="When no site is named.")
    name: str | None = Field(default=None, max_length=200)
    zone_radius_km: float = Field(
        default=2.0, gt=0, le=15, description="Shipment ends within it can go by bike."
    )
    handling_min: float = Field(
        default=20,
        ge=0,
        le=240,
        description="From a van's unloading to the earliest bike departure with the goods.",
    )


class RoutePlanCreate(BaseModel):
    date: date
    shipment_ids: list[uuid.UUID] = Field(
        default_factory=list, description="Your shipments to plan."
    )
    shipments: list[ShipmentCreate] = Field(
        default_factory=list, description="Shipments given inline."
    )
    vehicle_ids: list[uuid.UUID] = Field(default_factory=list, description="Your vehicles to use.")
    vehicles: list[VehicleCreate] = Field(
        default_factory=list, description="Vehicles given inline."
    )
    matrix: Literal["straight_line", "road"] = Field(
        default="straight_line",
        description="straight_line: great-circle distance x 1.3 at each vehicle's speed; road: "
        "shortest paths on the OpenStreetMap network of Brussels (pgRouting), by bike or by van, "
        "with route geometries along the roads.",
    )
    objective: Literal["vehicles_then_distance", "distance", "cost"] = "vehicles_then_distance"
    time_limit_s: float = Field(default=5, gt=0, le=120)
    mode: Literal["direct", "two_tier"] = Field(
        default="direct",
        description="direct: every vehicle carries door to door. two_tier: shipments with "
        "one end in a hub's zone may go by van between the far end and the hub and by cargo "
        "bike between the hub and the near end, where that pays; the choice is made by cost "
        "(per km, per hour, per vehicle used), whatever the objective.",
    )
    hubs: list[PlanHub] = Field(
        default_factory=list, max_length=20, description="For two_tier: the transfer hubs."
    )


class RoutePlan(BaseModel):
    id: uuid.UUID
    date: date
    status: PlanStatus
    matrix: str
    objective: str
    mode: str
    time_limit_s: float
    result: dict[str, Any] | None = Field(
        description="When done: routes (stops with arrival, start, departure, load after the "
        "stop and cumulative km), unassigned shipments with a reason, kpis, baseline and saving. "
        "A two_tier plan also gives each route its tier (trunk or last_mile), the transfers at "
        "each hub, the shipments sent through a hub, kpis per tier and the costs of the plans "
        "it compared."
    )
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
