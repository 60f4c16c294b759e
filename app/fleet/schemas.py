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
from app.models import Vehicle as VehicleRow


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


_DEFAULTED = "Left out or null: the default of the vehicle's type."
_PLACE = (
    "Give a site of yours (`{site}`) or a point (`{point}`), not both: a point is checked "
    "against the service area (the Region and its surroundings)."
)


class VehicleCreate(InputModel):
    """A vehicle; fields left out take the defaults of its type. The bounds are those of road
    vehicles in a city: a truck carries some 40 t, nothing goes over 130 km/h."""

    name: str = Field(
        min_length=1, max_length=200, examples=["Bike 1"], description="1 to 200 characters."
    )
    type: VehicleType = Field(
        description="cargo_bike, cargo_trike (on the bike network), e_van, van or truck (on "
        "the van network); sets the defaults of the fields left out."
    )
    capacity_kg: float | None = Field(
        default=None,
        gt=0,
        le=100_000,
        examples=[150],
        description=f"Load it carries at most, kg, above 0 and at most 100 000. {_DEFAULTED}",
    )
    capacity_m3: float | None = Field(
        default=None,
        gt=0,
        le=200,
        examples=[1.0],
        description=f"Volume it carries at most, m3, above 0 and at most 200. {_DEFAULTED}",
    )
    speed_kmh: float | None = Field(
        default=None,
        ge=1,
        le=130,
        description=f"Average speed in town, km/h, 1 to 130. {_DEFAULTED}",
    )
    range_km: float | None = Field(
        default=None,
        gt=0,
        le=2000,
        description="Distance it covers in a day at most (a battery's range), km, above 0 and "
        f"at most 2000. {_DEFAULTED} Vans and trucks have none by default.",
    )
    start_site_id: uuid.UUID | None = Field(
        default=None,
        description="Where its day starts: a site of yours. "
        + _PLACE.format(site="start_site_id", point="start"),
    )
    start: PointIn | None = Field(
        default=None,
        description="Where its day starts, as a point. "
        + _PLACE.format(site="start_site_id", point="start"),
    )
    end_site_id: uuid.UUID | None = Field(
        default=None,
        description="Where its day ends: a site of yours. With neither `end_site_id` nor "
        "`end`, it ends where it starts.",
    )
    end: PointIn | None = Field(
        default=None,
        description="Where its day ends, as a point. With neither `end_site_id` nor `end`, "
        "it ends where it starts.",
    )
    shift_start: LocalTime = Field(
        default=time(7, 0), description=f"When its day starts; 07:00 by default. {_LOCAL_TIME}"
    )
    shift_end: LocalTime = Field(
        default=time(19, 0),
        description=f"When its day ends, after shift_start; 19:00 by default. {_LOCAL_TIME}",
    )
    cost_per_km: float | None = Field(
        default=None, ge=0, le=100, description=f"EUR per km, 0 to 100. {_DEFAULTED}"
    )
    cost_per_hour: float | None = Field(
        default=None, ge=0, le=1000, description=f"EUR per hour, 0 to 1000. {_DEFAULTED}"
    )
    fixed_cost: float | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description=f"EUR per day the vehicle is used, 0 to 100 000. {_DEFAULTED}",
    )
    co2_g_per_km: float | None = Field(
        default=None,
        ge=0,
        le=5000,
        description="Grams of CO2e per km driven (GLEC-style, well to wheel), 0 to 5000. "
        f"{_DEFAULTED}",
    )
    stop_time_s: int | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="Seconds added to each pickup and delivery it makes (finding a place to "
        f"stop, walking to the door), 0 to 3600. {_DEFAULTED}",
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


# The fields a vehicle's type gives unless told otherwise.
TYPE_DEFAULTED_FIELDS = frozenset(DEFAULTS[VehicleType.van])
_PATCHED = "Left out: unchanged."


class VehiclePatch(InputModel):
    """Only the fields you send change, and the vehicle after the patch follows the rules of a
    create, checked at once: one answer names every field that breaks one. A field set to null
    takes its type's default. A new `type` resets what a type sets by default (capacities,
    speed, range, costs, CO2, stop time) to the new type's defaults, unless the patch gives
    them too. A new start moves the end with it when the vehicle ended where it started."""

    name: str | None = Field(default=None, description=f"1 to 200 characters. {_PATCHED}")
    type: VehicleType | None = Field(default=None, description=f"The vehicle's type. {_PATCHED}")
    capacity_kg: float | None = Field(default=None, description=f"kg. {_PATCHED}")
    capacity_m3: float | None = Field(default=None, description=f"m3. {_PATCHED}")
    speed_kmh: float | None = Field(default=None, description=f"km/h. {_PATCHED}")
    range_km: float | None = Field(default=None, description=f"km. {_PATCHED}")
    start_site_id: uuid.UUID | None = Field(
        default=None, description=f"A new start at a site of yours. {_PATCHED}"
    )
    start: PointIn | None = Field(default=None, description=f"A new start point. {_PATCHED}")
    end_site_id: uuid.UUID | None = Field(
        default=None, description=f"A new end at a site of yours. {_PATCHED}"
    )
    end: PointIn | None = Field(default=None, description=f"A new end point. {_PATCHED}")
    shift_start: LocalTime | None = Field(default=None, description=f"{_LOCAL_TIME} {_PATCHED}")
    shift_end: LocalTime | None = Field(default=None, description=f"{_LOCAL_TIME} {_PATCHED}")
    cost_per_km: float | None = Field(default=None, description=f"EUR per km. {_PATCHED}")
    cost_per_hour: float | None = Field(default=None, description=f"EUR per hour. {_PATCHED}")
    fixed_cost: float | None = Field(default=None, description=f"EUR per day used. {_PATCHED}")
    co2_g_per_km: float | None = Field(default=None, description=f"g CO2e per km. {_PATCHED}")
    stop_time_s: int | None = Field(default=None, description=f"Seconds a stop. {_PATCHED}")


class Vehicle(BaseModel):
    id: uuid.UUID = Field(description="The vehicle's id; a route plan names it in `vehicle_ids`.")
    name: str = Field(description="Its name, as given.")
    type: VehicleType = Field(description="Its type.")
    capacity_kg: float = Field(description="Load it carries at most, kg.")
    capacity_m3: float = Field(description="Volume it carries at most, m3.")
    speed_kmh: float = Field(description="Average speed in town, km/h.")
    range_km: float | None = Field(
        description="Distance it covers in a day at most, km; null: no limit."
    )
    start_location: Point = Field(description="Where its day starts, WGS84.")
    end_location: Point = Field(description="Where its day ends, WGS84.")
    shift_start: LocalTime = Field(description="When its day starts, local time in Brussels.")
    shift_end: LocalTime = Field(description="When its day ends, local time in Brussels.")
    cost_per_km: float = Field(description="EUR per km.")
    cost_per_hour: float = Field(description="EUR per hour.")
    fixed_cost: float = Field(description="EUR per day the vehicle is used.")
    co2_g_per_km: float = Field(description="Grams of CO2e per km driven.")
    stop_time_s: int = Field(description="Seconds added to each pickup and delivery it makes.")
    created_at: datetime = Field(description="When it was registered.")


def vehicle_view(row: VehicleRow) -> Vehicle:
    return Vehicle.model_validate(row, from_attributes=True)


class VehiclePage(BaseModel):
    items: list[Vehicle] = Field(description="Your vehicles, oldest first.")
    links: list[Link] = Field(
        description="A `next` link when the page is full: follow it for the next page."
    )
