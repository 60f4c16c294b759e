import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from app.kit.pagination import Link
from app.kit.schema import InputModel


class Role(StrEnum):
    supplier = "supplier"
    consumer = "consumer"
    hub_operator = "hub_operator"
    carrier = "carrier"
    admin = "admin"
    # The Region's analysts: read the statistics, change nothing.
    observer = "observer"
    # Shops and e-shops: quote and book deliveries into shared rounds.
    shop = "shop"


_NAME = "The organization's name, 1 to 200 characters."
_ROLES = (
    "What it may do: supplier (offers), consumer (requests), hub_operator (yards and hubs: "
    "stock, offers and requests), carrier (vehicles, shipments, route plans), admin (matching "
    "runs, statistics), observer (the Region's analysts: statistics, read-only), shop (quotes "
    "and deliveries into the carriers' shared rounds)."
)


class OrganizationCreate(InputModel):
    name: str = Field(min_length=1, max_length=200, description=_NAME, examples=["Recy-K"])
    roles: list[Role] = Field(
        min_length=1, description=_ROLES + " At least one.", examples=[["supplier", "hub_operator"]]
    )


class Organization(BaseModel):
    """An organization's public profile: never its keys."""

    id: uuid.UUID = Field(description="The organization's id.")
    name: str = Field(description=_NAME)
    roles: list[Role] = Field(description=_ROLES)
    created_at: datetime = Field(description="When it was created.")


class OrganizationCreated(Organization):
    api_key: str = Field(description="Shown once: boucle keeps only its hash.")


class OrganizationPage(BaseModel):
    items: list[Organization] = Field(description="The page's organizations, newest first.")
    links: list[Link] = Field(description="`next` when the page is full; empty on the last.")


class ApiKeyCreate(InputModel):
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="What the key is for, to tell keys apart; 1 to 100 characters.",
        examples=["invoicing server"],
    )


class ApiKey(BaseModel):
    """An API key as listed: never the key itself."""

    id: uuid.UUID = Field(description="The key's id, to revoke it.")
    name: str | None = Field(description="What the key is for, if named.")
    prefix: str | None = Field(
        description="The key's first characters, to recognise it; far too few to use it. "
        "Null for keys made before boucle kept them."
    )
    created_at: datetime = Field(description="When it was issued.")
    last_used_at: datetime | None = Field(description="Written at most once a minute.")
    revoked_at: datetime | None = Field(description="When it was revoked; null while it is active.")


class ApiKeyCreated(ApiKey):
    api_key: str = Field(description="Shown once: boucle keeps only its hash.")


class ApiKeyPage(BaseModel):
    items: list[ApiKey] = Field(description="The page's keys, newest first.")
    links: list[Link] = Field(description="`next` when the page is full; empty on the last.")
