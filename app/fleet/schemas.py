import uuid
from datetime import datetime, time
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, ValidationInfo, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from app.kit.geo import Point, PointIn
from app.kit.pagination import Link
from app.kit.quantity import window_error
from app.kit.schema import InputModel


class VehicleType(StrEnum):
    cargo_bike = "cargo_bike"
    cargo_trike = "cargo_trike"
    e_van = "e_van"
    van = "van"
    truck = "truck"


# What a vehicle of each type is unless told otherwise: capacity, city speed, range, costs,
# GLEC-style CO2e per km, and the time each stop costs it beyond the service itself (a van
# looks for a place to stop and walks to the door; a bike stops at the door).
DEFAULTS: dict[VehicleType, dict[str, float | None]] = {
    VehicleType.cargo_bike: {
        "capacity_kg": 150,
        "capacity_m3": 1.0,
        "speed_kmh": 15,
        "range_km": 50,
        "cost_per_km": 0.1,
        "cost_per_hour": 25,
        "fixed_cost": 10,
        "co2_g_per_km": 0,
        "stop_time_s": 60,
    },
    VehicleType.cargo_trike: {
        "capacity_kg": 250,
        "capacity_m3": 1.5,
        "speed_kmh": 13,
        "range_km": 40,
        "cost_per_km": 0.1,
        "cost_per_hour": 25,
        "fixed_cost": 12,
        "co2_g_per_km": 0,
        "stop_time_s": 60,
    },
    VehicleType.e_van: {
        "capacity_kg": 800,
        "capacity_m3": 8.0,
        "speed_kmh": 22,
        "range_km": 150,
        "cost_per_km": 0.25,
        "cost_per_hour": 35,
        "fixed_cost": 40,
        "co2_g_per_km": 60,
        "stop_time_s": 300,
    },
    VehicleType.van: {
        "capacity_kg": 1000,
        "capacity_m3": 10.0,
        "speed_kmh": 22,
        "range_km": None,
        "cost_per_km": 0.35,
        "cost_per_hour": 35,
        "fixed_cost": 40,
        "co2_g_per_km": 270,
        "stop_time_s": 300,
    },
    VehicleType.truck: {
        "capacity_kg": 8000,
        "capacity_m3": 40.0,
        "speed_kmh": 18,
        "range_km": None,
        "cost_per_km": 0.9,
        "cost_per_hour": 45,
        "fixed_cost": 80,
        "co2_g_per_km": 800,
        "stop_time_s": 420,
    },
}


_LOCAL_TIME = (
    "A local time in Brussels (Europe/Brussels), without a zone: 08:00 or 08:00:00; a time "
    "with an offset or Z is refused."
)
# A time of day without a zone. JSON Schema's `time` format is RFC 3339's, which requires an
# offset, so the document gives the shape instead.
LocalTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$",
            "examples": ["08:00"],
        }
    ),
]


class VehicleCreate(InputModel):
    """A vehicle; fields left out take the defaults of its type. The bounds are those of road
    vehicles in a city: a truck carries some 40 t, nothing goes over 130 km/h."""

    name: str = Field(min_length=1, max_length=200, examples=["Bike 1"])
    type: VehicleType
    capacity_kg: float | None = Field(default=None, gt=0, le=100_000)
    capacity_m3: float | None = Field(default=None, gt=0, le=200)
    speed_kmh: float | None = Field(
        default=None, ge=1, le=130, description="Average speed in town, km/h."
    )
    range_km: float | None = Field(default=None, gt=0, le=2000)
    start_site_id: uuid.UUID | None = None
    start: PointIn | None = None
    end_site_id: uuid.UUID | None = Field(default=None, description="Defaults to the start.")
    end: PointIn | None = None
    shift_start: LocalTime = Field(default=time(7, 0), description=_LOCAL_TIME)
    shift_end: LocalTime = Field(
        default=time(19, 0), description=f"After shift_start. {_LOCAL_TIME}"
    )
    cost_per_km: float | None = Field(default=None, ge=0, le=100, description="EUR per km.")
    cost_per_hour: float | None = Field(default=None, ge=0, le=1000, description="EUR per hour.")
    fixed_cost: float | None = Field(
        default=None, ge=0, le=100_000, description="EUR per day the vehicle is used."
    )
    co2_g_per_km: float | None = Field(default=None, ge=0, le=5000)
    stop_time_s: int | None = Field(
        default=None, ge=0, le=3600, description="Added to each pickup and delivery it makes."
    )

    @field_validator("shift_start", "shift_end")
    @classmethod
    def _local(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise PydanticCustomError("local_time", "give a local time without a zone, e.g. 08:00")
        return value

    @field_validator("shift_end")
    @classmethod
    def _shift(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("shift_start")
        if start is not None and value <= start:
            raise window_error("shift_start")
        return value


class Vehicle(BaseModel):
    id: uuid.UUID
    name: str
    type: VehicleType
    capacity_kg: float
    capacity_m3: float
    speed_kmh: float
    range_km: float | None
    start_location: Point
    end_location: Point
    shift_start: LocalTime = Field(description="Local time in Brussels.")
    shift_end: LocalTime = Field(description="Local time in Brussels.")
    cost_per_km: float
    cost_per_hour: float
    fixed_cost: float
    co2_g_per_km: float
    stop_time_s: int
    created_at: datetime


class VehiclePage(BaseModel):
    items: list[Vehicle]
    links: list[Link]
