import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from app.kit.geo import Point, PointIn
from app.kit.quantity import (
    Amount,
    Condition,
    MassKg,
    Price,
    Quantity,
    Remaining,
    StoredQuantity,
    VolumeM3,
    window_error,
)
from app.kit.schema import InputModel
from app.models import Offer as OfferRow


class OfferStatus(StrEnum):
    open = "open"
    reserved = "reserved"
    closed = "closed"


class OfferFields(InputModel):
    """What an offer says, shared by create and update."""

    site_id: uuid.UUID | None = Field(
        default=None, description="One of your sites; gives the location."
    )
    location: PointIn | None = Field(
        default=None, description="Where the material is, when no site is named."
    )
    material: str = Field(
        min_length=1, max_length=12, examples=["170504"], description="A 6-digit EWC code."
    )
    item_type: str | None = Field(default=None, max_length=100, examples=["door"])
    title: str = Field(min_length=1, max_length=200, examples=["Excavated soil"])
    description: str | None = Field(default=None, max_length=5000)
    quantity: Quantity
    mass_kg: MassKg | None = Field(default=None, description="Total mass; derived for kg and t.")
    volume_m3: VolumeM3 | None = Field(default=None, description="Total volume; derived for m3.")
    min_lot: Amount | None = Field(
        default=None, description="Smallest lot sold, in the quantity's unit."
    )
    available_from: date
    available_until: date | None = None
    condition: Condition = Field(description="A: reusable as is; B: needs work; C: recycling only.")
    price_per_unit: Price | None = Field(
        default=None,
        description="EUR per unit, to the cent; negative is a gate fee paid to the taker.",
    )
    notes: str | None = Field(
        default=None, max_length=5000, description="Private: only your organization sees them."
    )

    @field_validator("min_lot")
    @classmethod
    def _min_lot_within_quantity(cls, value: float | None, info: ValidationInfo) -> float | None:
        quantity = info.data.get("quantity")
        if value is not None and quantity is not None and value > quantity.value:
            raise PydanticCustomError("min_lot_within_quantity", "must not exceed quantity.value")
        return value

    @field_validator("available_until")
    @classmethod
    def _window(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("available_from")
        if value is not None and start is not None and value < start:
            raise window_error("available_from")
        return value


class OfferCreate(OfferFields):
    pass


class OfferStored(OfferFields):
    """An offer after a patch: the same rules, plus the status its owner may set."""

    status: OfferStatus = OfferStatus.open


class OfferUpdate(InputModel):
    """Only the fields you send change; the rules of a create apply to the result."""

    site_id: uuid.UUID | None = None
    location: PointIn | None = None
    material: str | None = None
    item_type: str | None = None
    title: str | None = None
    description: str | None = None
    quantity: Quantity | None = None
    mass_kg: float | None = None
    volume_m3: float | None = None
    min_lot: float | None = None
    available_from: date | None = None
    available_until: date | None = None
    condition: Condition | None = None
    price_per_unit: float | None = None
    notes: str | None = None
    status: OfferStatus | None = Field(
        default=None, description="open or closed; reserved is set by matches."
    )


class OfferPublic(BaseModel):
    """What every organization sees of an offer."""

    id: uuid.UUID
    organization_id: uuid.UUID
    material: str
    item_type: str | None
    title: str
    description: str | None
    quantity: StoredQuantity
    remaining: Remaining
    mass_kg: float | None
    volume_m3: float | None
    min_lot: float | None
    available_from: date
    available_until: date | None
    condition: Condition
    price_per_unit: float | None
    currency: str = "EUR"
    status: OfferStatus
    location: Point
    version: int
    created_at: datetime
    updated_at: datetime


class Offer(OfferPublic):
    """An offer as its owner sees it."""

    site_id: uuid.UUID | None
    notes: str | None


def offer_view(row: OfferRow, viewer: uuid.UUID) -> Offer | OfferPublic:
    data: dict[str, Any] = {
        **{name: getattr(row, name) for name in Offer.model_fields if hasattr(row, name)},
        "quantity": {"value": row.quantity_value, "unit": row.quantity_unit},
        "remaining": {"value": row.remaining_value, "unit": row.quantity_unit},
    }
    return (
        Offer.model_validate(data)
        if row.organization_id == viewer
        else OfferPublic.model_validate(data)
    )
