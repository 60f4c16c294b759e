import uuid
from datetime import datetime

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from app.kit.geo import Point, PointIn
from app.kit.pagination import Link
from app.kit.quantity import window_error
from app.kit.schema import InputModel, ZonedDateTime
from app.models import ShipmentRow

_ZONED = "A date and time with its zone (an offset or Z); a time without one is refused."
_PLACE = (
    "Give a site of yours (`site_id`) or a point (`location`), not both: a point is checked "
    "against the service area (the Region and its surroundings)."
)


class EndpointIn(InputModel):
    """Where and when a load is picked up or delivered."""

    site_id: uuid.UUID | None = Field(default=None, description=f"A site of yours. {_PLACE}")
    location: PointIn | None = Field(default=None, description=f"A point. {_PLACE}")
    window_from: ZonedDateTime = Field(
        examples=["2026-12-01T08:00:00+01:00"],
        description=f"The earliest the vehicle may start here. {_ZONED}",
    )
    window_until: ZonedDateTime = Field(
        examples=["2026-12-01T12:00:00+01:00"],
        description=f"The latest it may start here, not before window_from. {_ZONED}",
    )
    service_s: int = Field(
        default=300,
        ge=0,
        le=4 * 3600,
        description="Time on site, seconds, 0 to 14 400 (4 hours); 300 by default.",
    )

    @field_validator("window_until")
    @classmethod
    def _ordered(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("window_from")
        if start is not None and value < start:
            raise window_error("window_from")
        return value


class ShipmentCreate(InputModel):
    reference: str | None = Field(
        default=None,
        max_length=200,
        examples=["parcel-0"],
        description="Your own reference, at most 200 characters; route plans show it.",
    )
    pickup: EndpointIn = Field(description="Where and when the load is collected.")
    delivery: EndpointIn = Field(description="Where and when the load is delivered.")
    load_kg: float = Field(
        gt=0, le=50_000, examples=[20], description="Mass carried, kg, above 0 and at most 50 000."
    )
    load_m3: float = Field(
        default=0, ge=0, le=200, description="Volume carried, m3, 0 to 200; 0 by default."
    )


_PATCHED = "Left out: unchanged."


class EndpointPatch(InputModel):
    """A whole new pickup or delivery: what an `EndpointIn` holds, checked by its rules once
    the patch is merged, with the rest of the shipment's, so that one answer names them all."""

    site_id: uuid.UUID | None = Field(default=None, description=f"A site of yours. {_PLACE}")
    location: PointIn | None = Field(default=None, description=f"A point. {_PLACE}")
    window_from: datetime | None = Field(
        default=None, description=f"The earliest the vehicle may start here. {_ZONED}"
    )
    window_until: datetime | None = Field(
        default=None, description=f"The latest it may start here, not before window_from. {_ZONED}"
    )
    service_s: int | None = Field(
        default=None, description="Time on site, seconds, 0 to 14 400; 300 when left out."
    )


class ShipmentPatch(InputModel):
    """Only the fields you send change, and the shipment after the patch follows the rules of
    a create, checked at once: one answer names every field that breaks one. `pickup` and
    `delivery` are replaced whole: send each with its place and window. A shipment taken from a
    match keeps its match."""

    reference: str | None = Field(
        default=None, description=f"At most 200 characters; null removes it. {_PATCHED}"
    )
    pickup: EndpointPatch | None = Field(
        default=None, description=f"The whole new pickup. {_PATCHED}"
    )
    delivery: EndpointPatch | None = Field(
        default=None, description=f"The whole new delivery. {_PATCHED}"
    )
    load_kg: float | None = Field(default=None, description=f"kg. {_PATCHED}")
    load_m3: float | None = Field(default=None, description=f"m3. {_PATCHED}")


class MatchShipmentCreate(InputModel):
    """A shipment for an accepted match: from the offer's place to the request's. Windows
    default to the first day both are available: pickup 08:00-17:00, delivery 09:00-18:00
    (Brussels time). Every time given has its zone (an offset or Z)."""

    pickup_from: ZonedDateTime | None = Field(
        default=None, description=f"Start of the pickup window. {_ZONED}"
    )
    pickup_until: ZonedDateTime | None = Field(
        default=None, description=f"End of the pickup window, not before its start. {_ZONED}"
    )
    delivery_from: ZonedDateTime | None = Field(
        default=None, description=f"Start of the delivery window. {_ZONED}"
    )
    delivery_until: ZonedDateTime | None = Field(
        default=None, description=f"End of the delivery window, not before its start. {_ZONED}"
    )
    load_m3: float | None = Field(
        default=None,
        ge=0,
        le=200,
        description="Volume carried, m3, 0 to 200; defaults to the match's volume, else 0.",
    )


class Endpoint(BaseModel):
    location: Point = Field(description="The place, WGS84.")
    window_from: datetime = Field(description="The earliest the vehicle may start here.")
    window_until: datetime = Field(description="The latest the vehicle may start here.")
    service_s: int = Field(description="Time on site, seconds.")


class Shipment(BaseModel):
    id: uuid.UUID = Field(description="The shipment's id; a route plan names it in `shipment_ids`.")
    reference: str | None = Field(description="Your reference, or `match <id>` for a match's.")
    pickup: Endpoint = Field(description="Where and when the load is collected.")
    delivery: Endpoint = Field(description="Where and when the load is delivered.")
    load_kg: float = Field(description="Mass carried, kg.")
    load_m3: float = Field(description="Volume carried, m3.")
    match_id: uuid.UUID | None = Field(
        description="The accepted match it carries (POST /v1/matches/{id}/shipment), or null."
    )
    created_at: datetime = Field(description="When it was posted.")


def shipment_view(row: ShipmentRow) -> Shipment:
    def endpoint(prefix: str) -> Endpoint:
        return Endpoint.model_validate(
            {
                "location": getattr(row, f"{prefix}_location"),
                "window_from": getattr(row, f"{prefix}_from"),
                "window_until": getattr(row, f"{prefix}_until"),
                "service_s": getattr(row, f"{prefix}_service_s"),
            }
        )

    return Shipment(
        id=row.id,
        reference=row.reference,
        pickup=endpoint("pickup"),
        delivery=endpoint("delivery"),
        load_kg=row.load_kg,
        load_m3=row.load_m3,
        match_id=row.match_id,
        created_at=row.created_at,
    )


class ShipmentPage(BaseModel):
    items: list[Shipment] = Field(description="Your shipments, oldest first.")
    links: list[Link] = Field(
        description="A `next` link when the page is full: follow it for the next page."
    )
