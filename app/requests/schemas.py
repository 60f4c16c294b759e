import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from app.kit.geo import Point, PointIn
from app.kit.quantity import (
    Condition,
    Kilometres,
    MassKg,
    Price,
    Quantity,
    Remaining,
    StoredQuantity,
    VolumeM3,
    window_error,
)
from app.kit.schema import InputModel
from app.models import MaterialRequest as MaterialRequestRow


class RequestStatus(StrEnum):
    open = "open"
    reserved = "reserved"
    closed = "closed"


class RequestFields(InputModel):
    """What a request says, shared by create and update."""

    site_id: uuid.UUID | None = Field(
        default=None, description="One of your sites: the delivery place."
    )
    location: PointIn | None = Field(
        default=None, description="The delivery place, when no site is named."
    )
    material: str = Field(
        min_length=2,
        max_length=12,
        examples=["1705"],
        description="A 6-digit EWC code, a 4-digit sub-chapter or a 2-digit chapter.",
    )
    title: str | None = Field(default=None, max_length=200, examples=["Fill for a garden"])
    description: str | None = Field(default=None, max_length=5000)
    quantity: Quantity
    mass_kg: MassKg | None = Field(default=None, description="Total mass; derived for kg and t.")
    volume_m3: VolumeM3 | None = Field(default=None, description="Total volume; derived for m3.")
    needed_from: date
    needed_by: date
    max_distance_km: Kilometres = Field(
        default=15, gt=0, le=200, description="At most 200, to the metre (3 decimals)."
    )
    min_condition: Condition = Field(
        default=Condition.C, description="The worst condition you accept."
    )
    max_price_per_unit: Price | None = Field(default=None, description="EUR per unit.")
    notes: str | None = Field(
        default=None, max_length=5000, description="Private: only your organization sees them."
    )

    @field_validator("needed_by")
    @classmethod
    def _window(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("needed_from")
        if start is not None and value < start:
            raise window_error("needed_from")
        return value


class RequestCreate(RequestFields):
    pass


class RequestStored(RequestFields):
    status: RequestStatus = RequestStatus.open


class RequestUpdate(InputModel):
    """Only the fields you send change; the rules of a create apply to the result."""

    site_id: uuid.UUID | None = None
    location: PointIn | None = None
    material: str | None = None
    title: str | None = None
    description: str | None = None
    quantity: Quantity | None = None
    mass_kg: float | None = None
    volume_m3: float | None = None
    needed_from: date | None = None
    needed_by: date | None = None
    max_distance_km: float | None = None
    min_condition: Condition | None = None
    max_price_per_unit: float | None = None
    notes: str | None = None
    status: RequestStatus | None = Field(
        default=None, description="open or closed; reserved is set by matches."
    )


class MaterialRequestPublic(BaseModel):
    """What every organization sees of a request."""

    id: uuid.UUID
    organization_id: uuid.UUID
    material: str
    title: str | None
    description: str | None
    quantity: StoredQuantity
    remaining: Remaining
    mass_kg: float | None
    volume_m3: float | None
    needed_from: date
    needed_by: date
    max_distance_km: float
    min_condition: Condition
    max_price_per_unit: float | None
    currency: str = "EUR"
    status: RequestStatus
    location: Point
    version: int
    created_at: datetime
    updated_at: datetime


class MaterialRequest(MaterialRequestPublic):
    """A request as its owner sees it."""

    site_id: uuid.UUID | None
    notes: str | None


def request_view(
    row: MaterialRequestRow, viewer: uuid.UUID
) -> MaterialRequest | MaterialRequestPublic:
    data: dict[str, Any] = {
        **{name: getattr(row, name) for name in MaterialRequest.model_fields if hasattr(row, name)},
        "quantity": {"value": row.quantity_value, "unit": row.quantity_unit},
        "remaining": {"value": row.remaining_value, "unit": row.quantity_unit},
    }
    if row.organization_id == viewer:
        return MaterialRequest.model_validate(data)
    return MaterialRequestPublic.model_validate(data)
