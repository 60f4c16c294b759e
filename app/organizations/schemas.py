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


class OrganizationCreate(InputModel):
    name: str = Field(min_length=1, max_length=200, examples=["Recy-K"])
    roles: list[Role] = Field(min_length=1, examples=[["supplier", "hub_operator"]])


class Organization(BaseModel):
    id: uuid.UUID
    name: str
    roles: list[Role]
    created_at: datetime


class OrganizationCreated(Organization):
    api_key: str = Field(description="Shown once: boucle keeps only its hash.")


class ApiKeyCreate(InputModel):
    name: str | None = Field(
        default=None, min_length=1, max_length=100, examples=["invoicing server"]
    )


class ApiKey(BaseModel):
    id: uuid.UUID
    name: str | None
    prefix: str | None = Field(
        description="The key's first characters, to recognise it; far too few to use it. "
        "Null for keys made before boucle kept them."
    )
    created_at: datetime
    last_used_at: datetime | None = Field(description="Written at most once a minute.")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    api_key: str = Field(description="Shown once: boucle keeps only its hash.")


class ApiKeyPage(BaseModel):
    items: list[ApiKey]
    links: list[Link]
