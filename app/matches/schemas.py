import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

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
    """A proposal by one side: your offer and their request, or their offer and your request."""

    offer_id: uuid.UUID = Field(description="The offer: yours, or the other side's.")
    request_id: uuid.UUID = Field(description="The request: yours, or the other side's.")
    quantity: Quantity | None = Field(
        default=None,
        description="In the request's unit (kg and t convert); by default all the offer can supply.",
    )


class MatchScore(BaseModel):
    """The score the match was proposed with, and its parts (see the candidates' formula)."""

    total: float = Field(description="The weighted sum of the parts, in [0, 1].")
    distance: float = Field(description="1 - distance / the request's max_distance_km.")
    quantity: float = Field(description="The share of the request's remaining need covered.")
    time: float = Field(description="The share of the needed window the offer is available.")
    condition: float = Field(description="1 for A, 2/3 for B, 1/3 for C.")
    price: float = Field(description="1 for a gate fee or a free offer, less the dearer it is.")
    co2_kg: float = Field(description="CO2e of carrying it by van, kg.")


class Match(BaseModel):
    """A match between an offer and a request; only its two sides see it."""

    id: uuid.UUID = Field(description="The match's id.")
    offer_id: uuid.UUID = Field(description="The offer it takes from.")
    request_id: uuid.UUID = Field(description="The request it serves.")
    quantity: StoredQuantity = Field(description="The quantity, in the request's unit.")
    offer_quantity: StoredQuantity = Field(
        description="What it takes from the offer, in the offer's unit."
    )
    mass_kg: float | None = Field(description="The mass matched, in kg, when known.")
    distance_m: float = Field(description="Metres between the offer and the request.")
    distance_kind: Literal["straight_line", "road"] = Field(
        description="How `distance_m` was measured."
    )
    score: MatchScore = Field(description="The score it was proposed with.")
    delivered: StoredQuantity = Field(
        description="What was delivered of `offer_quantity`, in the offer's unit: the "
        "dispatches of the yard whose lot it takes from, or the intakes of the yard that "
        "bought it from a company's offer; all of it once fulfilled."
    )
    to_deliver: StoredQuantity = Field(
        description="What is left to deliver, still reserved on the offer: `offer_quantity` "
        "less `delivered` while the match is accepted; 0 otherwise."
    )
    status: MatchStatus = Field(
        description="proposed (waiting for both sides), accepted (by both: the quantity is "
        "reserved), rejected, expired (a term changed, or the window passed) or fulfilled "
        "(the material changed hands)."
    )
    proposed_by: Literal["offer", "request", "run"] = Field(
        description="Who proposed it: the offer's side, the request's side, or a matching run."
    )
    offer_accepted_at: datetime | None = Field(description="When the offer's side accepted.")
    request_accepted_at: datetime | None = Field(description="When the request's side accepted.")
    version: int = Field(description="Its version, also its ETag: send it in `If-Match`.")
    created_at: datetime = Field(description="When it was proposed.")
    updated_at: datetime = Field(description="When it last changed.")


def match_view(row: MatchRow, delivered_by_movements: float) -> Match:
    """The match as its sides read it; `delivered_by_movements` is what yards' movements
    delivered of it (see app/matches/views.py)."""
    data = {name: getattr(row, name) for name in Match.model_fields if hasattr(row, name)}
    data["quantity"] = {"value": row.quantity_value, "unit": row.quantity_unit}
    data["offer_quantity"] = {"value": row.offer_quantity_value, "unit": row.offer_quantity_unit}
    whole = row.offer_quantity_value
    delivered = whole if row.status == MatchStatus.fulfilled.value else delivered_by_movements
    to_deliver = whole - delivered if row.status == MatchStatus.accepted.value else 0.0
    data["delivered"] = {"value": round(delivered, 3), "unit": row.offer_quantity_unit}
    data["to_deliver"] = {"value": round(max(0.0, to_deliver), 3), "unit": row.offer_quantity_unit}
    return Match.model_validate(data)


class MatchPage(BaseModel):
    items: list[Match] = Field(description="The page's matches, newest first.")
    links: list[Link] = Field(description="`next` when the page is full; empty on the last.")
