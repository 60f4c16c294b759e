"""A candidate pair: an open offer that can serve an open request, as the engine reads it.
The app's repository (`app.candidates.repository`) finds them in the database."""

from dataclasses import dataclass
from datetime import date
from typing import Literal

Unit = Literal["kg", "t", "m3", "piece"]


@dataclass(frozen=True)
class CandidatePair:
    """One row of the candidate SQL, as plain data."""

    offer_id: str
    request_id: str
    offer_organization_id: str
    request_organization_id: str
    offer_material: str
    request_material: str
    offer_quantity: float
    offer_remaining: float
    offer_unit: Unit
    offer_mass_kg: float | None
    offer_min_lot: float | None
    request_quantity: float
    request_remaining: float
    request_unit: Unit
    request_mass_kg: float | None
    condition: str
    min_condition: str
    price_per_unit: float | None
    max_price_per_unit: float | None
    available_from: date
    available_until: date | None
    needed_from: date
    needed_by: date
    max_distance_km: float
    distance_m: float
    # The rows' versions when read: a match proposed from this pair keeps them as its terms.
    offer_version: int | None = None
    request_version: int | None = None
