"""Offers: material a company or a yard puts on the market. Their schemas and their kind."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.geo import (
    DISTANCE_DESCRIPTION,
    GeoFeature,
    GeoFeatureCollection,
    Point,
    PointIn,
)
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
from app.listings.kind import ListingFilters, ListingKind, ListingSchemas
from app.materials.service import check_offer_material, check_request_material
from app.models import Offer as OfferRow


class OfferStatus(StrEnum):
    open = "open"
    reserved = "reserved"
    closed = "closed"


_SITE_ID = "One of your sites: the offer lies there (unless `location` is given too)."
_LOCATION_IN = (
    "Where the material is, when no site is named (or to place it elsewhere than its site)."
)
_MATERIAL = (
    "A 6-digit EWC code of the European List of Waste (`17 05 04` and `170504*` name it too)."
)
_ITEM_TYPE = (
    "For reuse items: what the item is (door, brick, beam), free text, at most 100 characters."
)
_TITLE = "A short title, 1 to 200 characters."
_DESCRIPTION = "What the material is like, at most 5000 characters."
_QUANTITY = "How much is offered in all."
_MASS = "The total mass in kg; derived for kg and t, needed for pieces (anything that moves them)."
_VOLUME = "The total volume in m3; derived for m3."
_MIN_LOT = "The smallest lot sold, in the quantity's unit; at most the quantity."
_AVAILABLE_FROM = "The first day the material can be collected (ISO date)."
_AVAILABLE_UNTIL = "The last day it can be collected; none: open-ended. Not before available_from."
_CONDITION = "The state of the material: A reusable as is, B needs work, C recycling only."
_PRICE = "EUR per unit, to the cent; negative is a gate fee paid to the taker; none: to agree."
_NOTES = "Private: only your organization sees them, at most 5000 characters."
_STATUS = "open: on the market; reserved: all of it held by accepted matches; closed: withdrawn."


class OfferFields(InputModel):
    """What an offer says, shared by create and update."""

    site_id: uuid.UUID | None = Field(default=None, description=_SITE_ID)
    location: PointIn | None = Field(default=None, description=_LOCATION_IN)
    material: str = Field(min_length=1, max_length=12, examples=["170504"], description=_MATERIAL)
    item_type: str | None = Field(
        default=None, max_length=100, examples=["door"], description=_ITEM_TYPE
    )
    title: str = Field(
        min_length=1, max_length=200, examples=["Excavated soil"], description=_TITLE
    )
    description: str | None = Field(default=None, max_length=5000, description=_DESCRIPTION)
    quantity: Quantity = Field(description=_QUANTITY)
    mass_kg: MassKg | None = Field(default=None, description=_MASS)
    volume_m3: VolumeM3 | None = Field(default=None, description=_VOLUME)
    min_lot: Amount | None = Field(default=None, description=_MIN_LOT)
    available_from: date = Field(description=_AVAILABLE_FROM, examples=["2026-12-01"])
    available_until: date | None = Field(
        default=None, description=_AVAILABLE_UNTIL, examples=["2026-12-31"]
    )
    condition: Condition = Field(description=_CONDITION)
    price_per_unit: Price | None = Field(default=None, description=_PRICE)
    notes: str | None = Field(default=None, max_length=5000, description=_NOTES)

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
    """An offer to post: a `site_id` or a `location`, and what, how much and when."""


class OfferStored(OfferFields):
    """An offer after a patch: the same rules, plus the status its owner may set."""

    status: OfferStatus = OfferStatus.open


class OfferUpdate(InputModel):
    """Only the fields you send change; the rules of a create apply to the result."""

    site_id: uuid.UUID | None = Field(default=None, description=_SITE_ID)
    location: PointIn | None = Field(default=None, description=_LOCATION_IN)
    material: str | None = Field(default=None, description=_MATERIAL)
    item_type: str | None = Field(default=None, description=_ITEM_TYPE)
    title: str | None = Field(default=None, description=_TITLE)
    description: str | None = Field(default=None, description=_DESCRIPTION)
    quantity: Quantity | None = Field(
        default=None,
        description=_QUANTITY + " What matches reserved stays reserved: the quantity cannot go "
        "below it, nor its unit change (409).",
    )
    mass_kg: float | None = Field(default=None, description=_MASS)
    volume_m3: float | None = Field(default=None, description=_VOLUME)
    min_lot: float | None = Field(default=None, description=_MIN_LOT)
    available_from: date | None = Field(default=None, description=_AVAILABLE_FROM)
    available_until: date | None = Field(default=None, description=_AVAILABLE_UNTIL)
    condition: Condition | None = Field(default=None, description=_CONDITION)
    price_per_unit: float | None = Field(default=None, description=_PRICE)
    notes: str | None = Field(default=None, description=_NOTES)
    status: OfferStatus | None = Field(
        default=None, description="open or closed; reserved is set by matches."
    )


class OfferPublicFields(BaseModel):
    """What every organization sees of an offer, but where it is."""

    id: uuid.UUID = Field(description="The offer's id.")
    organization_id: uuid.UUID = Field(description="The organization that offers it.")
    material: str = Field(description="Its 6-digit EWC code.", examples=["170504"])
    item_type: str | None = Field(description=_ITEM_TYPE)
    title: str = Field(description=_TITLE)
    description: str | None = Field(description=_DESCRIPTION)
    quantity: StoredQuantity = Field(description=_QUANTITY)
    remaining: Remaining = Field(
        description="What accepted matches have not reserved, in the quantity's unit."
    )
    mass_kg: float | None = Field(description="The total mass in kg, when known.")
    volume_m3: float | None = Field(description="The total volume in m3, when known.")
    min_lot: float | None = Field(description=_MIN_LOT)
    available_from: date = Field(description=_AVAILABLE_FROM)
    available_until: date | None = Field(description=_AVAILABLE_UNTIL)
    condition: Condition = Field(description=_CONDITION)
    price_per_unit: float | None = Field(description=_PRICE)
    currency: str = Field(default="EUR", description="Always EUR.")
    status: OfferStatus = Field(description=_STATUS)
    version: int = Field(description="Its version, also its ETag: send it in `If-Match`.")
    created_at: datetime = Field(description="When it was posted.")
    updated_at: datetime = Field(description="When it last changed.")


class OfferOwnerFields(BaseModel):
    """What only the offer's organization sees."""

    site_id: uuid.UUID | None = Field(description="The site it lies at, if it names one.")
    notes: str | None = Field(description=_NOTES)


class OfferPublic(OfferPublicFields):
    """What every organization sees of an offer."""

    location: Point = Field(description="Where the material is.")


class Offer(OfferOwnerFields, OfferPublic):
    """An offer as its owner sees it."""


class OfferPublicFeatureProperties(OfferPublicFields):
    """Another organization's offer in a list: its public fields."""

    distance_m: float | None = Field(description=DISTANCE_DESCRIPTION)


class OfferFeatureProperties(OfferOwnerFields, OfferPublicFeatureProperties):
    """One of your offers in a list: all its fields."""


class OfferFeature(GeoFeature[Point, OfferFeatureProperties | OfferPublicFeatureProperties]):
    """One offer of the list: all its fields when it is yours, its public ones otherwise."""


class OfferFeatureCollection(GeoFeatureCollection[OfferFeature]):
    """A page of offers."""


async def offer_query(
    material: Annotated[
        str | None, Query(description="An EWC code, sub-chapter (4 digits) or chapter (2 digits).")
    ] = None,
    available_on: Annotated[
        date | None, Query(description="Only offers available on this day.")
    ] = None,
    status: Annotated[OfferStatus | None, Query(description="Only offers in this status.")] = None,
    mine: Annotated[bool, Query(description="Only your organization's offers.")] = False,
) -> ListingFilters:
    return ListingFilters(material=material, day=available_on, status=status, mine=mine)


async def _narrow_offers(
    session: AsyncSession, filters: ListingFilters
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.material is not None:
        code = await check_request_material(session, filters.material)
        conditions.append(OfferRow.material.startswith(code))
    if filters.day is not None:
        conditions.append(OfferRow.available_from <= filters.day)
        conditions.append(
            or_(OfferRow.available_until.is_(None), OfferRow.available_until >= filters.day)
        )
    return conditions


OFFERS = ListingKind(
    model=OfferRow,
    noun="offer",
    plural="offers",
    roles=("supplier", "hub_operator"),
    check_material=check_offer_material,
    plain_fields=frozenset(
        {
            "item_type",
            "title",
            "description",
            "min_lot",
            "available_from",
            "available_until",
            "condition",
            "price_per_unit",
            "notes",
            "status",
        }
    ),
    schemas=ListingSchemas(
        create=OfferCreate,
        update=OfferUpdate,
        stored=OfferStored,
        full=Offer,
        public=OfferPublic,
        full_properties=OfferFeatureProperties,
        public_properties=OfferPublicFeatureProperties,
        feature=OfferFeature,
        collection=OfferFeatureCollection,
    ),
    query=offer_query,
    narrow=_narrow_offers,
)
