import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from app.kit.pagination import Link
from app.kit.quantity import Quantity, StoredQuantity
from app.kit.schema import InputModel
from app.models import Match as MatchRow


class MatchStatus(StrEnum):
    proposed = "proposed"
    accepted = "accepted"
    rejected = "rejected"
    expired = "expired"
    fulfilled = "fulfilled"


class MatchCreate(InputModel):
    offer_id: uuid.UUID
    request_id: uuid.UUID
    quantity: Quantity | None = Field(
        default=None,
        description="In the request's unit (kg and t convert); by default all the offer can supply.",
    )


class Match(BaseModel):
    id: uuid.UUID
    offer_id: uuid.UUID
    request_id: uuid.UUID
    quantity: StoredQuantity = Field(description="The quantity, in the request's unit.")
    offer_quantity: StoredQuantity = Field(
        description="What it takes from the offer, in the offer's unit."
    )
    mass_kg: float | None
    distance_m: float
    distance_kind: str
    score: dict[str, Any]
    status: MatchStatus
    proposed_by: str = Field(description="offer, request or run: who proposed it.")
    offer_accepted_at: datetime | None
    request_accepted_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


def match_view(row: MatchRow) -> Match:
    data = {name: getattr(row, name) for name in Match.model_fields if hasattr(row, name)}
    data["quantity"] = {"value": row.quantity_value, "unit": row.quantity_unit}
    data["offer_quantity"] = {"value": row.offer_quantity_value, "unit": row.offer_quantity_unit}
    return Match.model_validate(data)


class MatchPage(BaseModel):
    items: list[Match]
    links: list[Link]
