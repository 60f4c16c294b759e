import uuid
from datetime import datetime

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from app.kit.geo import Point, PointIn
from app.kit.pagination import Link
from app.kit.quantity import window_error
from app.kit.schema import InputModel, ZonedDateTime

_ZONED = "A date and time with its zone (an offset or Z); a time without one is refused."


class EndpointIn(InputModel):
    """Where and when a load is picked up or delivered."""

    site_id: uuid.UUID | None = None
    location: PointIn | None = None
    window_from: ZonedDateTime = Field(examples=["2026-12-01T08:00:00+01:00"], description=_ZONED)
    window_until: ZonedDateTime = Field(
        examples=["2026-12-01T12:00:00+01:00"], description=f"Not before window_from. {_ZONED}"
    )
    service_s: int = Field(default=300, ge=0, le=4 * 3600, description="Time on site, seconds.")

    @field_validator("window_until")
    @classmethod
    def _ordered(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("window_from")
        if start is not None and value < start:
            raise window_error("window_from")
        return value


class ShipmentCreate(InputModel):
    reference: str | None = Field(default=None, max_length=200)
    pickup: EndpointIn
    delivery: EndpointIn
    load_kg: float = Field(gt=0, le=50_000)
    load_m3: float = Field(default=0, ge=0, le=200)


class MatchShipmentCreate(InputModel):
    """A shipment for an accepted match: from the offer's place to the request's. Windows
    default to the first day both are available: pickup 08:00-17:00, delivery 09:00-18:00
    (Brussels time). Every time given has its zone (an offset or Z)."""

    pickup_from: ZonedDateTime | None = Field(default=None, description=_ZONED)
    pickup_until: ZonedDateTime | None = Field(default=None, description=_ZONED)
    delivery_from: ZonedDateTime | None = Field(default=None, description=_ZONED)
    delivery_until: ZonedDateTime | None = Field(default=None, description=_ZONED)
    load_m3: float | None = Field(
        default=None, ge=0, le=200, description="Defaults to the match's volume, else 0."
    )


class Endpoint(BaseModel):
    location: Point
    window_from: datetime
    window_until: datetime
    service_s: int


class Shipment(BaseModel):
    id: uuid.UUID
    reference: str | None
    pickup: Endpoint
    delivery: Endpoint
    load_kg: float
    load_m3: float
    match_id: uuid.UUID | None
    created_at: datetime


class ShipmentPage(BaseModel):
    items: list[Shipment]
    links: list[Link]
