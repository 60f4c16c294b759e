"""How well one offer serves one request: a score in [0, 1] made of parts a user can read.

    score = 0.30 distance + 0.25 quantity + 0.15 time + 0.15 condition + 0.15 price

- distance  = 1 - distance / max_distance_km of the request
- quantity  = share of the request's remaining need this offer can cover
- time      = share of the needed window during which the offer is available
- condition = 1 for A (reusable as is), 2/3 for B (needs work), 1/3 for C (recycling only)
- price     = 1 for a gate fee or a free offer; 1 - price / max_price when the request caps
              the price; 0.5 when the price is unknown or not comparable
- co2_kg is reported beside the score: the road distance (straight line x 1.3) driven by a
  diesel van at 0.27 kg CO2e per km (GLEC default for a light commercial vehicle), one way.
"""

import math
from dataclasses import dataclass

from matching.candidates import CandidatePair

WEIGHTS = {"distance": 0.30, "quantity": 0.25, "time": 0.15, "condition": 0.15, "price": 0.15}
DETOUR_FACTOR = 1.3
VAN_KG_CO2_PER_KM = 0.27
CONDITION_VALUE = {"A": 1.0, "B": 2 / 3, "C": 1 / 3}
_MASS_UNITS = {"kg": 1.0, "t": 1000.0}
# Quantities are kept to three decimals: less than a thousandth of a unit is stored as nothing.
_THOUSANDTHS_PER_UNIT = 1000


@dataclass(frozen=True)
class ScoreParts:
    distance: float
    quantity: float
    time: float
    condition: float
    price: float

    @property
    def total(self) -> float:
        return sum(WEIGHTS[name] * getattr(self, name) for name in WEIGHTS)


@dataclass(frozen=True)
class Candidate:
    pair: CandidatePair
    # What the offer could supply towards the request, in the request's unit, and its mass.
    quantity: float
    mass_kg: float | None
    co2_kg: float
    parts: ScoreParts
    # The least that can be matched between the two (`smallest_matchable_quantity`).
    smallest_quantity: float

    @property
    def score(self) -> float:
        return self.parts.total

    @property
    def matchable(self) -> bool:
        """Whether all the offer could supply reaches the smallest matchable quantity."""
        return self.quantity >= self.smallest_quantity or math.isclose(
            self.quantity, self.smallest_quantity
        )


def remaining_mass_kg(
    quantity: float, remaining: float, unit: str, mass_kg: float | None
) -> float | None:
    """The mass of the remaining part, when known: from the unit, else pro rata of the mass."""
    if unit in _MASS_UNITS:
        return remaining * _MASS_UNITS[unit]
    if mass_kg is not None and quantity > 0:
        return mass_kg * remaining / quantity
    return None


def supplyable(pair: CandidatePair) -> tuple[float, float | None] | None:
    """How much of the request the offer could cover, in the request's unit, and its mass;
    None when the two quantities cannot be compared (m3 against pieces with no mass known)."""
    offer_mass = remaining_mass_kg(
        pair.offer_quantity, pair.offer_remaining, pair.offer_unit, pair.offer_mass_kg
    )
    request_mass = remaining_mass_kg(
        pair.request_quantity, pair.request_remaining, pair.request_unit, pair.request_mass_kg
    )
    if pair.offer_unit == pair.request_unit:
        quantity = min(pair.offer_remaining, pair.request_remaining)
        mass = None if offer_mass is None else offer_mass * quantity / pair.offer_remaining
        return quantity, mass
    if offer_mass is None or request_mass is None:
        return None
    mass = min(offer_mass, request_mass)
    return pair.request_remaining * mass / request_mass, mass


def _overlap_share(pair: CandidatePair) -> float:
    start = max(pair.available_from, pair.needed_from)
    end = min(pair.available_until or pair.needed_by, pair.needed_by)
    window = (pair.needed_by - pair.needed_from).days + 1
    return max(0, (end - start).days + 1) / window


def _price_part(pair: CandidatePair) -> float:
    if pair.price_per_unit is not None and pair.price_per_unit <= 0:
        return 1.0
    comparable = pair.offer_unit == pair.request_unit
    if pair.price_per_unit is None or pair.max_price_per_unit is None or not comparable:
        return 0.5
    if pair.max_price_per_unit <= 0:
        return 0.0
    return max(0.0, 1 - pair.price_per_unit / pair.max_price_per_unit)


def score_candidate(pair: CandidatePair) -> Candidate | None:
    """The scored candidate, or None when the quantities cannot be compared."""
    amount = supplyable(pair)
    if amount is None:
        return None
    quantity, mass_kg = amount
    distance_km = pair.distance_m / 1000
    parts = ScoreParts(
        distance=max(0.0, 1 - distance_km / pair.max_distance_km),
        quantity=min(1.0, quantity / pair.request_remaining),
        time=_overlap_share(pair),
        condition=CONDITION_VALUE[pair.condition],
        price=_price_part(pair),
    )
    co2_kg = distance_km * DETOUR_FACTOR * VAN_KG_CO2_PER_KM
    return Candidate(
        pair=pair,
        quantity=quantity,
        mass_kg=mass_kg,
        co2_kg=co2_kg,
        parts=parts,
        smallest_quantity=smallest_matchable_quantity(pair),
    )


def rank(pairs: list[CandidatePair]) -> list[Candidate]:
    """The candidates that can be matched, best score first; ties go to the nearer offer."""
    scored = [c for c in (score_candidate(p) for p in pairs) if c is not None and c.matchable]
    return sorted(
        scored, key=lambda c: (-c.score, c.pair.distance_m, c.pair.offer_id, c.pair.request_id)
    )


def share_of_offer(pair: CandidatePair, quantity: float) -> tuple[float, float | None]:
    """What `quantity` (in the request's unit) takes from the offer, in the offer's unit, and
    its mass when known."""
    request_mass = remaining_mass_kg(
        pair.request_quantity, pair.request_remaining, pair.request_unit, pair.request_mass_kg
    )
    offer_mass = remaining_mass_kg(
        pair.offer_quantity, pair.offer_remaining, pair.offer_unit, pair.offer_mass_kg
    )
    if pair.offer_unit == pair.request_unit:
        mass = None if offer_mass is None else offer_mass * quantity / pair.offer_remaining
        return quantity, mass
    if request_mass is None or offer_mass is None:
        raise ValueError("the offer's and the request's quantities cannot be compared")
    mass = request_mass * quantity / pair.request_remaining
    return pair.offer_remaining * mass / offer_mass, mass


def smallest_matchable_quantity(pair: CandidatePair) -> float:
    """The smallest quantity, in the request's unit, that can be matched between the two: a
    thousandth of the request's unit at least, taking a thousandth of the offer's unit at
    least (one piece of 20 t against a request in kg: 20 kg), rounded up to the three decimals
    quantities are kept to. Less would be stored as 0.000 on one side."""
    offer_units_per_request_unit, _ = share_of_offer(pair, 1.0)
    # In thousandths of the request's unit; round() first, so that float noise above a whole
    # thousandth (20000.000000000004) does not round up to the next one.
    thousandths = max(1.0, 1.0 / offer_units_per_request_unit)
    return math.ceil(round(thousandths, 6)) / _THOUSANDTHS_PER_UNIT
