import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from app.kit.geo import Point, PointIn
from app.kit.schema import InputModel


class SiteKind(StrEnum):
    production = "production"
    construction_site = "construction_site"
    shop = "shop"
    hub = "hub"
    yard = "yard"
    office = "office"
    other = "other"


class SiteCreate(InputModel):
    name: str = Field(min_length=1, max_length=200, examples=["Recy-K"])
    kind: SiteKind
    address: str | None = Field(
        default=None, max_length=500, examples=["Quai Fernand Demets 55, 1070 Anderlecht"]
    )
    location: PointIn
    opening_hours: str | None = Field(default=None, max_length=500, examples=["Mo-Fr 07:00-16:00"])
    access_notes: str | None = Field(
        default=None, max_length=2000, examples=["Bikes only from the quay side"]
    )


class SiteUpdate(InputModel):
    """Only the fields you send change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: SiteKind | None = None
    address: str | None = Field(default=None, max_length=500)
    location: PointIn | None = None
    opening_hours: str | None = Field(default=None, max_length=500)
    access_notes: str | None = Field(default=None, max_length=2000)


class Site(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    kind: SiteKind
    address: str | None
    location: Point
    opening_hours: str | None
    access_notes: str | None
    version: int
    created_at: datetime
    updated_at: datetime
