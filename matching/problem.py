"""From scored candidates to the allocation problem the flow solves, in kilograms."""

from dataclasses import dataclass

from matching.allocation import Arc, Demand, Supply
from matching.scoring import DETOUR_FACTOR, Candidate, remaining_mass_kg


@dataclass(frozen=True)
class AllocationProblem:
    candidates: dict[tuple[str, str], Candidate]
    supplies: dict[str, Supply]
    demands: dict[str, Demand]
    arcs: list[Arc]
    # Pairs left out because all they could exchange is less than their smallest matchable
    # quantity (a share that would be stored as 0.000 in the offer's or the request's unit).
    pairs_too_small: int = 0

    def quantity_for(self, offer_id: str, request_id: str, mass_kg: float) -> float:
        """An allocated mass as a quantity in the request's unit."""
        pair = self.candidates[(offer_id, request_id)].pair
        return pair.request_remaining * mass_kg / self.demands[request_id].mass_kg


def allocation_problem(candidates: list[Candidate]) -> AllocationProblem:
    """The flow works in kilograms: candidates whose mass is unknown (m3 or pieces without a
    mass) stay out, to be matched by hand. Arc lengths are road estimates (x DETOUR_FACTOR);
    each arc carries at least the mass of the pair's smallest matchable quantity."""
    weighed = [c for c in candidates if c.mass_kg is not None]
    matchable = [c for c in weighed if c.matchable]
    kept = {(c.pair.offer_id, c.pair.request_id): c for c in matchable}
    supplies: dict[str, Supply] = {}
    demands: dict[str, Demand] = {}
    arcs: list[Arc] = []
    for (offer_id, request_id), candidate in kept.items():
        p = candidate.pair
        offer_mass = (
            remaining_mass_kg(p.offer_quantity, p.offer_remaining, p.offer_unit, p.offer_mass_kg)
            or 0.0
        )
        lot = 0.0 if p.offer_min_lot is None else offer_mass * p.offer_min_lot / p.offer_remaining
        supplies[offer_id] = Supply(offer_id, offer_mass, lot)
        request_mass = (
            remaining_mass_kg(
                p.request_quantity, p.request_remaining, p.request_unit, p.request_mass_kg
            )
            or 0.0
        )
        demands[request_id] = Demand(request_id, request_mass)
        least_kg = candidate.smallest_quantity * request_mass / p.request_remaining
        arcs.append(Arc(offer_id, request_id, p.distance_m / 1000 * DETOUR_FACTOR, least_kg))
    return AllocationProblem(kept, supplies, demands, arcs, len(weighed) - len(matchable))
