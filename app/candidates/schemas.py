import uuid
from typing import Literal

from pydantic import BaseModel, Field

from app.kit.quantity import StoredQuantity
from app.listings.offers import OfferPublic
from app.listings.requests import MaterialRequestPublic
from matching.scoring import WEIGHTS


class ScoreParts(BaseModel):
    """The parts of a score, each in [0, 1]; the formula is in the operation's description."""

    distance: float = Field(description="1 - distance / the request's max_distance_km.")
    quantity: float = Field(description="The share of the request's remaining need covered.")
    time: float = Field(description="The share of the needed window the offer is available.")
    condition: float = Field(description="1 for A, 2/3 for B, 1/3 for C.")
    price: float = Field(
        description="1 for a gate fee or a free offer; 1 - price / max price when the request "
        "caps the price; 0.5 when the price is unknown or not comparable."
    )


class Score(ScoreParts):
    total: float = Field(description="The weighted sum of the parts, in [0, 1].")
    weights: dict[str, float] = Field(
        default=WEIGHTS,
        description="The weight of each part in `total`, by part name (they sum to 1).",
    )


class CandidateFields(BaseModel):
    distance_m: float = Field(description="Straight-line metres between offer and request.")
    distance_kind: Literal["straight_line"] = Field(
        default="straight_line", description="How `distance_m` was measured."
    )
    quantity: StoredQuantity = Field(
        description="What the offer could supply towards the request, in the request's unit."
    )
    mass_kg: float | None = Field(description="The mass of that quantity, when known.")
    co2_kg: float = Field(
        description="CO2e of carrying it by van over the road distance (straight line x 1.3)."
    )
    score: Score = Field(description="How well the pair fits, with its parts.")


class OfferCandidate(CandidateFields):
    """An offer that can serve the request."""

    offer: OfferPublic = Field(description="The offer, another organization's: its public fields.")


class RequestCandidate(CandidateFields):
    """A request the offer can serve."""

    request: MaterialRequestPublic = Field(
        description="The request, another organization's: its public fields."
    )


class OfferCandidates(BaseModel):
    request_id: uuid.UUID = Field(description="The request the candidates serve.")
    items: list[OfferCandidate] = Field(description="The candidates, best score first.")


class RequestCandidates(BaseModel):
    offer_id: uuid.UUID = Field(description="The offer the candidates are served by.")
    items: list[RequestCandidate] = Field(description="The candidates, best score first.")
