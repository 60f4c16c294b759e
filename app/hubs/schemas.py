import uuid
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from app.kit.geo import Point
from app.kit.pagination import Link
from app.kit.quantity import (
    Amount,
    Condition,
    Kilometres,
    MassKg,
    MaxAmount,
    Price,
    Quantity,
    StoredQuantity,
    VolumeM3,
)
from app.kit.schema import InputModel
from app.kit.spatial import MAX_RADIUS_KM

FAMILY = Field(
    min_length=2,
    max_length=6,
    pattern=r"^([0-9]{2}|[0-9]{4}|[0-9]{6})$",
    examples=["1701"],
    description="An EWC chapter (2 digits), sub-chapter (4) or code (6).",
)


Family = TypeVar("Family", bound=InputModel)


def _once_per_material(items: list[Family]) -> list[Family]:
    names = [getattr(item, "material") for item in items]  # noqa: B009
    if len(names) != len(set(names)):
        raise PydanticCustomError("unique_material", "name each material family at most once")
    return items


class Limit(InputModel):
    t: MaxAmount | None = Field(default=None, description="Tonnes at most.")
    m3: MaxAmount | None = Field(default=None, description="Cubic metres at most.")

    @model_validator(mode="after")
    def _some_limit(self) -> "Limit":
        if self.t is None and self.m3 is None:
            raise PydanticCustomError("some_limit", "give t, m3 or both")
        return self


class FamilyLimit(Limit):
    material: str = FAMILY


class Capacity(InputModel):
    """What the hub holds at most, in all and per material family; an intake that would go
    over any of them is refused."""

    t: MaxAmount | None = Field(default=None, examples=[400], description="Tonnes at most.")
    m3: MaxAmount | None = Field(default=None, examples=[900], description="Cubic metres at most.")
    families: list[FamilyLimit] = Field(default_factory=list, max_length=100)

    @field_validator("families")
    @classmethod
    def _families_once(cls, families: list[FamilyLimit]) -> list[FamilyLimit]:
        return _once_per_material(families)


class PoolingThreshold(InputModel):
    material: str = FAMILY
    threshold_t: Amount = Field(
        examples=[3.0], description="E.g. one van load, or a reconditioning line's batch."
    )
    radius_km: Kilometres = Field(
        default=10,
        ge=0,
        le=MAX_RADIUS_KM,
        description=f"Offers within this distance count towards it; at most {MAX_RADIUS_KM}, "
        "to the metre (3 decimals).",
    )


class HubSettings(InputModel):
    capacity: Capacity | None = Field(default=None, description="No capacity: no limit.")
    pooling: list[PoolingThreshold] = Field(default_factory=list, max_length=100)

    @field_validator("pooling")
    @classmethod
    def _pooling_once(cls, pooling: list[PoolingThreshold]) -> list[PoolingThreshold]:
        return _once_per_material(pooling)


class Hub(HubSettings):
    id: uuid.UUID
    name: str
    kind: str
    location: Point


class MovementKind(StrEnum):
    intake = "intake"
    dispatch = "dispatch"


class MovementCreate(InputModel):
    """An intake adds to a lot (a new one when `lot` is new or left out); a dispatch takes from
    one. An intake comes from an offer (through your accepted match on it) or a walk-in
    supplier; a dispatch goes to an accepted match on the lot's offer or to a shipment."""

    kind: MovementKind
    lot: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        examples=["L-2026-0042"],
        description="Your lot code; left out on an intake, a new lot gets one.",
    )
    material: str | None = Field(
        default=None,
        min_length=6,
        max_length=6,
        examples=["170101"],
        description="A 6-digit EWC code; needed for a new lot unless it comes from an offer.",
    )
    condition: Condition | None = Field(
        default=None, description="Needed for a new lot unless it comes from an offer."
    )
    quantity: Quantity
    mass_kg: MassKg | None = Field(
        default=None, description="Total mass; derived for kg and t, and from the lot."
    )
    volume_m3: VolumeM3 | None = Field(
        default=None, description="Total volume; derived for m3, and from the lot."
    )
    price_per_unit: Price | None = Field(
        default=None, description="For a new lot: its offer's price, EUR, to the cent."
    )
    offer_id: uuid.UUID | None = Field(default=None, description="Intake: the offer it came from.")
    walk_in: str | None = Field(
        default=None, min_length=1, max_length=200, description="Intake: who brought it."
    )
    match_id: uuid.UUID | None = Field(
        default=None, description="Dispatch: the accepted match on the lot's offer it serves."
    )
    shipment_id: uuid.UUID | None = Field(
        default=None, description="Dispatch: the shipment that takes it away."
    )
    note: str | None = Field(default=None, max_length=2000)


class Movement(BaseModel):
    id: uuid.UUID
    hub_id: uuid.UUID
    kind: MovementKind
    lot: str
    material: str
    condition: Condition
    quantity: StoredQuantity
    mass_kg: float | None
    volume_m3: float | None
    offer_id: uuid.UUID | None
    walk_in: str | None
    match_id: uuid.UUID | None
    shipment_id: uuid.UUID | None
    note: str | None
    created_at: datetime
    lot_stock_after: float = Field(description="The lot's stock after it, in its unit.")


class MovementPage(BaseModel):
    items: list[Movement]
    links: list[Link]


class Lot(BaseModel):
    lot: str
    material: str
    condition: Condition
    unit: str
    stock: float = Field(description="Sum of the lot's movements, in its unit.")
    reserved: float = Field(description="Held for accepted matches, not yet dispatched.")
    available: float
    mass_kg: float | None
    volume_m3: float | None
    offer_id: uuid.UUID = Field(description="The offer that puts this lot on the market.")
    arrived_at: datetime


class FamilyStock(BaseModel):
    material: str
    mass_t: float
    volume_m3: float
    capacity_t: float | None
    capacity_m3: float | None


class Stock(BaseModel):
    hub_id: uuid.UUID
    lots: list[Lot]
    mass_t: float
    volume_m3: float
    capacity_t: float | None
    capacity_m3: float | None
    families: list[FamilyStock] = Field(description="Per material family with a capacity.")


class PoolingFamily(BaseModel):
    material: str
    stock_t: float = Field(description="In the hub.")
    offered_nearby_t: float = Field(
        description="Still unreserved on other organizations' open offers within the radius."
    )
    offers_nearby: int
    total_t: float
    radius_km: float
    threshold_t: float | None = Field(description="Null when you set none for this family.")
    reached: bool
    reached_at: datetime | None


class Pooling(BaseModel):
    hub_id: uuid.UUID
    families: list[PoolingFamily]
