from typing import Literal

from pydantic import BaseModel, Field

from app.kit.quantity import StoredQuantity
from app.offers.schemas import OfferPublic
from app.requests.schemas import MaterialRequestPublic
from matching.scoring import WEIGHTS


class Score(BaseModel):
    total: float = Field(description="The weighted sum of the parts, in [0, 1].")
    distance: float
    quantity: float
    time: float
    condition: float
    price: float
    weights: dict[str, float] = Field(
        default=WEIGHTS, description="The weight of each part in `total`."
    )


class CandidateFields(BaseModel):
    distance_m: float
    distance_kind: Literal["straight_line"] = "straight_line"
    quantity: StoredQuantity = Field(
        description="What the offer could supply towards the request, in the request's unit."
    )
    mass_kg: float | None = Field(description="The mass of that quantity, when known.")
    co2_kg: float = Field(
        description="CO2e of carrying it by van over the road distance (straight line x 1.3)."
    )
    score: Score


class OfferCandidate(CandidateFields):
    """An offer that can serve the request."""

    offer: OfferPublic


class RequestCandidate(CandidateFields):
    """A request the offer can serve."""

    request: MaterialRequestPublic


class OfferCandidates(BaseModel):
    request_id: str
    items: list[OfferCandidate]


class RequestCandidates(BaseModel):
    offer_id: str
    items: list[RequestCandidate]
