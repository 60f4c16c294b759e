import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.fleet.schemas import VehicleCreate
from app.shipments.schemas import ShipmentCreate


class PlanStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


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


class RoutePlan(BaseModel):
    id: uuid.UUID
    date: date
    status: PlanStatus
    matrix: str
    objective: str
    time_limit_s: float
    result: dict[str, Any] | None = Field(
        description="When done: routes (stops with arrival, start, departure, load after the "
        "stop and cumulative km), unassigned shipments with a reason, kpis, baseline and saving."
    )
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
