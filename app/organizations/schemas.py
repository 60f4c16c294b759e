import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Role(StrEnum):
    supplier = "supplier"
    consumer = "consumer"
    hub_operator = "hub_operator"
    carrier = "carrier"
    admin = "admin"


class OrganizationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Recy-K"])
    roles: list[Role] = Field(min_length=1, examples=[["supplier", "hub_operator"]])


class Organization(BaseModel):
    id: uuid.UUID
    name: str
    roles: list[Role]
    created_at: datetime


class OrganizationCreated(Organization):
    api_key: str = Field(description="Shown once: boucle keeps only its hash.")
