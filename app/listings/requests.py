"""Requests: material a company or a yard asks for. Their schemas and their kind."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy import ColumnElement, literal, or_
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.geo import (
    DISTANCE_DESCRIPTION,
    GeoFeature,
    GeoFeatureCollection,
    Point,
    PointIn,
)
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
from app.listings.kind import ListingFilters, ListingKind, ListingSchemas
from app.materials.service import check_request_material
from app.models import MaterialRequest as MaterialRequestRow


class RequestStatus(StrEnum):
    open = "open"
    reserved = "reserved"
    closed = "closed"


_SITE_ID = "One of your sites: the delivery place (unless `location` is given too)."
_LOCATION_IN = "The delivery place, when no site is named (or to deliver elsewhere than the site)."
_MATERIAL = (
    "What would do: a 6-digit EWC code (170504), a 4-digit sub-chapter (1705) or a 2-digit "
    "chapter (17). Hazardous codes are matched only when named exactly."
)
_TITLE = "A short title, at most 200 characters."
_DESCRIPTION = "What the material is for, at most 5000 characters."
_QUANTITY = "How much is needed in all."
_MASS = "The total mass in kg; derived for kg and t, needed for pieces."
_VOLUME = "The total volume in m3; derived for m3."
_NEEDED_FROM = "The first day the material may arrive (ISO date)."
_NEEDED_BY = "The last day it may arrive; not before needed_from."
_MAX_DISTANCE = (
    "How far the material may come from, in km (straight line): above 0, at most 200, to the "
    "metre (3 decimals); 15 by default."
)
_MIN_CONDITION = (
    "The worst condition accepted: A (reusable as is), B (needs work) or C (recycling only)."
)
_MAX_PRICE = "The most paid per unit, in EUR to the cent; none: any price."
_NOTES = "Private: only your organization sees them, at most 5000 characters."
_STATUS = "open: looking; reserved: all of it covered by accepted matches; closed: withdrawn."


class RequestFields(InputModel):
    """What a request says, shared by create and update."""

    site_id: uuid.UUID | None = Field(default=None, description=_SITE_ID)
    location: PointIn | None = Field(default=None, description=_LOCATION_IN)
    material: str = Field(min_length=2, max_length=12, examples=["1705"], description=_MATERIAL)
    title: str | None = Field(
        default=None, max_length=200, examples=["Fill for a garden"], description=_TITLE
    )
    description: str | None = Field(default=None, max_length=5000, description=_DESCRIPTION)
    quantity: Quantity = Field(description=_QUANTITY)
    mass_kg: MassKg | None = Field(default=None, description=_MASS)
    volume_m3: VolumeM3 | None = Field(default=None, description=_VOLUME)
    needed_from: date = Field(description=_NEEDED_FROM, examples=["2026-12-05"])
    needed_by: date = Field(description=_NEEDED_BY, examples=["2026-12-20"])
    max_distance_km: Kilometres = Field(default=15, gt=0, le=200, description=_MAX_DISTANCE)
    min_condition: Condition = Field(default=Condition.C, description=_MIN_CONDITION)
    max_price_per_unit: Price | None = Field(default=None, description=_MAX_PRICE)
    notes: str | None = Field(default=None, max_length=5000, description=_NOTES)

    @field_validator("needed_by")
    @classmethod
    def _window(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("needed_from")
        if start is not None and value < start:
            raise window_error("needed_from")
        return value


class RequestCreate(RequestFields):
    """A request to post: a `site_id` or a `location`, and what, how much, when and from how far."""


class RequestStored(RequestFields):
    status: RequestStatus = RequestStatus.open


class RequestUpdate(InputModel):
    """Only the fields you send change; the rules of a create apply to the result."""

    site_id: uuid.UUID | None = Field(default=None, description=_SITE_ID)
    location: PointIn | None = Field(default=None, description=_LOCATION_IN)
    material: str | None = Field(default=None, description=_MATERIAL)
    title: str | None = Field(default=None, description=_TITLE)
    description: str | None = Field(default=None, description=_DESCRIPTION)
    quantity: Quantity | None = Field(
        default=None,
        description=_QUANTITY + " What matches reserved stays reserved: the quantity cannot go "
        "below it, nor its unit change (409).",
    )
    mass_kg: float | None = Field(default=None, description=_MASS)
    volume_m3: float | None = Field(default=None, description=_VOLUME)
    needed_from: date | None = Field(default=None, description=_NEEDED_FROM)
    needed_by: date | None = Field(default=None, description=_NEEDED_BY)
    max_distance_km: float | None = Field(default=None, description=_MAX_DISTANCE)
    min_condition: Condition | None = Field(default=None, description=_MIN_CONDITION)
    max_price_per_unit: float | None = Field(default=None, description=_MAX_PRICE)
    notes: str | None = Field(default=None, description=_NOTES)
    status: RequestStatus | None = Field(
        default=None, description="open or closed; reserved is set by matches."
    )


class RequestPublicFields(BaseModel):
    """What every organization sees of a request, but where it is."""

    id: uuid.UUID = Field(description="The request's id.")
    organization_id: uuid.UUID = Field(description="The organization that asks.")
    material: str = Field(description=_MATERIAL, examples=["1705"])
    title: str | None = Field(description=_TITLE)
    description: str | None = Field(description=_DESCRIPTION)
    quantity: StoredQuantity = Field(description=_QUANTITY)
    remaining: Remaining = Field(
        description="What accepted matches have not covered, in the quantity's unit."
    )
    mass_kg: float | None = Field(description="The total mass in kg, when known.")
    volume_m3: float | None = Field(description="The total volume in m3, when known.")
    needed_from: date = Field(description=_NEEDED_FROM)
    needed_by: date = Field(description=_NEEDED_BY)
    max_distance_km: float = Field(description=_MAX_DISTANCE)
    min_condition: Condition = Field(description=_MIN_CONDITION)
    max_price_per_unit: float | None = Field(description=_MAX_PRICE)
    currency: str = Field(default="EUR", description="Always EUR.")
    status: RequestStatus = Field(description=_STATUS)
    version: int = Field(description="Its version, also its ETag: send it in `If-Match`.")
    created_at: datetime = Field(description="When it was posted.")
    updated_at: datetime = Field(description="When it last changed.")


class RequestOwnerFields(BaseModel):
    """What only the request's organization sees."""

    site_id: uuid.UUID | None = Field(description="The delivery site, if it names one.")
    notes: str | None = Field(description=_NOTES)


class MaterialRequestPublic(RequestPublicFields):
    """What every organization sees of a request."""

    location: Point = Field(description="The delivery place.")


class MaterialRequest(RequestOwnerFields, MaterialRequestPublic):
    """A request as its owner sees it."""


class RequestPublicFeatureProperties(RequestPublicFields):
    """Another organization's request in a list: its public fields."""

    distance_m: float | None = Field(description=DISTANCE_DESCRIPTION)


class RequestFeatureProperties(RequestOwnerFields, RequestPublicFeatureProperties):
    """One of your requests in a list: all its fields."""


class RequestFeature(GeoFeature[Point, RequestFeatureProperties | RequestPublicFeatureProperties]):
    """One request of the list: all its fields when it is yours, its public ones otherwise."""


class RequestFeatureCollection(GeoFeatureCollection[RequestFeature]):
    """A page of requests."""


async def request_query(
    material: Annotated[
        str | None,
        Query(description="An EWC code, sub-chapter or chapter: requests that would take it."),
    ] = None,
    needed_on: Annotated[
        date | None, Query(description="Only requests that need material on this day.")
    ] = None,
    status: Annotated[
        RequestStatus | None, Query(description="Only requests in this status.")
    ] = None,
    mine: Annotated[bool, Query(description="Only your organization's requests.")] = False,
) -> ListingFilters:
    return ListingFilters(material=material, day=needed_on, status=status, mine=mine)


async def _narrow_requests(
    session: AsyncSession, filters: ListingFilters
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.material is not None:
        # Requests for the family named and requests for a wider family that includes it.
        code = await check_request_material(session, filters.material)
        conditions.append(
            or_(
                MaterialRequestRow.material.startswith(code),
                literal(code).startswith(MaterialRequestRow.material),
            )
        )
    if filters.day is not None:
        conditions.append(MaterialRequestRow.needed_from <= filters.day)
        conditions.append(MaterialRequestRow.needed_by >= filters.day)
    return conditions


REQUESTS = ListingKind(
    model=MaterialRequestRow,
    noun="request",
    plural="requests",
    roles=("consumer", "hub_operator"),
    check_material=check_request_material,
    plain_fields=frozenset(
        {
            "title",
            "description",
            "needed_from",
            "needed_by",
            "max_distance_km",
            "min_condition",
            "max_price_per_unit",
            "notes",
            "status",
        }
    ),
    schemas=ListingSchemas(
        create=RequestCreate,
        update=RequestUpdate,
        stored=RequestStored,
        full=MaterialRequest,
        public=MaterialRequestPublic,
        full_properties=RequestFeatureProperties,
        public_properties=RequestPublicFeatureProperties,
        feature=RequestFeature,
        collection=RequestFeatureCollection,
    ),
    query=request_query,
    narrow=_narrow_requests,
)
