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
    families: list[FamilyLimit] = Field(
        default_factory=list,
        max_length=100,
        description="Limits per material family, each family at most once; at most 100.",
    )

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


class PublicStock(StrEnum):
    rounded = "rounded"
    exact = "exact"


class HubSettings(InputModel):
    capacity: Capacity | None = Field(default=None, description="No capacity: no limit.")
    public: bool = Field(
        default=False,
        description="Whether the open data (the map, `ogc.hubs`) shows this hub: its name, "
        "kind, place, capacity, stock and free room. False by default: a hub is private "
        "until its operator publishes it.",
    )
    public_stock: PublicStock = Field(
        default=PublicStock.rounded,
        description="How a public hub's stock and free room are shown: `rounded` to the tonne "
        "and the cubic metre (the default), or `exact`, to three decimals.",
    )
    pooling: list[PoolingThreshold] = Field(
        default_factory=list,
        max_length=100,
        description="Pooling thresholds per material family, each family at most once; at "
        "most 100. The event `hub.threshold_reached` fires when a pool crosses one.",
    )

    @field_validator("pooling")
    @classmethod
    def _pooling_once(cls, pooling: list[PoolingThreshold]) -> list[PoolingThreshold]:
        return _once_per_material(pooling)


class Hub(HubSettings):
    id: uuid.UUID = Field(description="The hub's id: the id of its site.")
    name: str = Field(description="The site's name.")
    kind: str = Field(description="yard or hub.")
    location: Point = Field(description="Where it is, WGS84.")


class MovementKind(StrEnum):
    intake = "intake"
    dispatch = "dispatch"


class MovementCreate(InputModel):
    """An intake adds to a lot (a new one when `lot` is new or left out); a dispatch takes from
    one. An intake comes from an offer (through your accepted match on it) or a walk-in
    supplier; a dispatch goes to an accepted match on the lot's offer (all that is left of it,
    or a part) or to a shipment of yours."""

    kind: MovementKind = Field(description="intake (into the hub) or dispatch (out of it).")
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
    quantity: Quantity = Field(
        description="How much comes in or goes out, in the lot's unit for an existing lot."
    )
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
        default=None,
        description="Dispatch: the accepted match on the lot's offer it serves, with at most "
        "what is left of it to deliver; the dispatch that reaches its quantity fulfils it.",
    )
    shipment_id: uuid.UUID | None = Field(
        default=None,
        description="Dispatch: the shipment that takes it away, one of your organization's "
        "collecting within 150 m of the hub.",
    )
    note: str | None = Field(
        default=None, max_length=2000, description="Free text, at most 2000 characters."
    )


class Movement(BaseModel):
    id: uuid.UUID = Field(description="The movement's id.")
    hub_id: uuid.UUID = Field(description="The hub it moved in or out of.")
    kind: MovementKind = Field(description="intake or dispatch.")
    lot: str = Field(description="The lot's code.")
    material: str = Field(description="The lot's 6-digit EWC code.")
    condition: Condition = Field(description="The lot's condition: A, B or C.")
    quantity: StoredQuantity = Field(description="How much moved, in the lot's unit.")
    mass_kg: float | None = Field(description="Its mass, kg, when known.")
    volume_m3: float | None = Field(description="Its volume, m3, when known.")
    offer_id: uuid.UUID | None = Field(description="Intake: the offer it came from.")
    walk_in: str | None = Field(description="Intake: who brought it, for a walk-in supplier.")
    match_id: uuid.UUID | None = Field(
        description="The match it served: delivered (in part or in full) by a dispatch, or "
        "taken in by an intake."
    )
    shipment_id: uuid.UUID | None = Field(description="Dispatch: the shipment that took it.")
    note: str | None = Field(description="Your note.")
    created_at: datetime = Field(description="When it was recorded.")
    lot_stock_after: float = Field(description="The lot's stock after it, in its unit.")


class MovementPage(BaseModel):
    items: list[Movement] = Field(description="The hub's movements, newest first.")
    links: list[Link] = Field(
        description="A `next` link when the page is full: follow it for the next page."
    )


class Lot(BaseModel):
    lot: str = Field(description="The lot's code.")
    material: str = Field(description="Its 6-digit EWC code.")
    condition: Condition = Field(description="Its condition: A, B or C.")
    unit: str = Field(description="The unit of its quantities: kg, t, m3 or piece.")
    stock: float = Field(description="Sum of the lot's movements, in its unit.")
    reserved: float = Field(description="Held for accepted matches, not yet dispatched.")
    available: float = Field(description="Stock less reserved: what may still be matched.")
    mass_kg: float | None = Field(description="The stock's mass, kg, when known.")
    volume_m3: float | None = Field(description="The stock's volume, m3, when known.")
    offer_id: uuid.UUID = Field(description="The offer that puts this lot on the market.")
    arrived_at: datetime = Field(description="When its first intake was recorded.")


class FamilyStock(BaseModel):
    material: str = Field(description="The material family: EWC chapter, sub-chapter or code.")
    mass_t: float = Field(description="Tonnes of it in stock.")
    volume_m3: float = Field(description="Cubic metres of it in stock.")
    capacity_t: float | None = Field(description="Its capacity in tonnes, or null: none.")
    capacity_m3: float | None = Field(description="Its capacity in m3, or null: none.")


class Stock(BaseModel):
    hub_id: uuid.UUID = Field(description="The hub.")
    lots: list[Lot] = Field(description="Each lot with stock left.")
    mass_t: float = Field(description="Tonnes in stock, in all.")
    volume_m3: float = Field(description="Cubic metres in stock, in all.")
    capacity_t: float | None = Field(description="The hub's capacity in tonnes, or null: none.")
    capacity_m3: float | None = Field(description="The hub's capacity in m3, or null: none.")
    families: list[FamilyStock] = Field(description="Per material family with a capacity.")


class PoolingFamily(BaseModel):
    material: str = Field(description="The material family: EWC chapter, sub-chapter or code.")
    stock_t: float = Field(description="In the hub.")
    offered_nearby_t: float = Field(
        description="Still unreserved on other organizations' open offers within the radius."
    )
    offers_nearby: int = Field(description="How many offers the nearby tonnes come from.")
    total_t: float = Field(description="Stock and offered nearby together, tonnes.")
    radius_km: float = Field(description="The radius the offers were counted within, km.")
    threshold_t: float | None = Field(description="Null when you set none for this family.")
    reached: bool = Field(description="Whether the total reaches the threshold.")
    reached_at: datetime | None = Field(
        description="When the pool crossed the threshold (the event fired); null while under "
        "it, or with no threshold."
    )


class Pooling(BaseModel):
    hub_id: uuid.UUID = Field(description="The hub.")
    families: list[PoolingFamily] = Field(
        description="Each family you set a threshold for, and each sub-chapter in stock "
        "without one; with `material`, those it falls in or that fall in it."
    )
