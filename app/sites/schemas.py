import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from app.kit.geo import (
    DISTANCE_DESCRIPTION,
    GeoFeature,
    GeoFeatureCollection,
    Point,
    PointIn,
)
from app.kit.schema import InputModel
from app.models import Site as SiteRow


class SiteKind(StrEnum):
    production = "production"
    construction_site = "construction_site"
    shop = "shop"
    hub = "hub"
    yard = "yard"
    office = "office"
    other = "other"


_NAME = "What the site is called, 1 to 200 characters."
_KIND = (
    "production, construction_site, shop, hub, yard, office or other. A `yard` or `hub` of an "
    "organization with the hub_operator role keeps stock (see /v1/hubs)."
)
_ADDRESS = "The street address, for people and drivers; at most 500 characters."
_LOCATION = "Where it is: a GeoJSON Point, within the service area."
_OPENING_HOURS = (
    "When it takes deliveries, as free text (OSM syntax suits), at most 500 characters."
)
_ACCESS_NOTES = "How to get there (bikes only, gate code, ...), at most 2000 characters."


class SiteCreate(InputModel):
    name: str = Field(min_length=1, max_length=200, description=_NAME, examples=["Recy-K"])
    kind: SiteKind = Field(description=_KIND, examples=["yard"])
    address: str | None = Field(
        default=None,
        max_length=500,
        description=_ADDRESS,
        examples=["Quai Fernand Demets 55, 1070 Anderlecht"],
    )
    location: PointIn = Field(description=_LOCATION)
    opening_hours: str | None = Field(
        default=None, max_length=500, description=_OPENING_HOURS, examples=["Mo-Fr 07:00-16:00"]
    )
    access_notes: str | None = Field(
        default=None,
        max_length=2000,
        description=_ACCESS_NOTES,
        examples=["Bikes only from the quay side"],
    )


class SiteUpdate(InputModel):
    """Only the fields you send change."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description=_NAME)
    kind: SiteKind | None = Field(default=None, description=_KIND)
    address: str | None = Field(default=None, max_length=500, description=_ADDRESS)
    location: PointIn | None = Field(default=None, description=_LOCATION)
    opening_hours: str | None = Field(default=None, max_length=500, description=_OPENING_HOURS)
    access_notes: str | None = Field(default=None, max_length=2000, description=_ACCESS_NOTES)


class SiteFields(BaseModel):
    """What a site says, but where it is."""

    id: uuid.UUID = Field(description="The site's id.")
    organization_id: uuid.UUID = Field(description="The organization the site belongs to.")
    name: str = Field(description=_NAME)
    kind: SiteKind = Field(description=_KIND)
    address: str | None = Field(description=_ADDRESS)
    opening_hours: str | None = Field(description=_OPENING_HOURS)
    access_notes: str | None = Field(description=_ACCESS_NOTES)
    version: int = Field(description="Its version, also its ETag: send it in `If-Match`.")
    created_at: datetime = Field(description="When it was created.")
    updated_at: datetime = Field(description="When it last changed.")


class Site(SiteFields):
    """One of your sites: only your organization sees them."""

    location: Point = Field(description="Where it is.")


def site_view(row: SiteRow) -> Site:
    return Site.model_validate(row, from_attributes=True)


class SiteFeatureProperties(SiteFields):
    """A site in a list: its fields, its location being the feature's geometry."""

    distance_m: float | None = Field(description=DISTANCE_DESCRIPTION)


class SiteFeature(GeoFeature[Point, SiteFeatureProperties]):
    """One site of the list."""


class SiteFeatureCollection(GeoFeatureCollection[SiteFeature]):
    """A page of your sites."""
