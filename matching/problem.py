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

    def quantity_for(self, offer_id: str, request_id: str, mass_kg: float) -> float:
        """An allocated mass as a quantity in the request's unit."""
        pair = self.candidates[(offer_id, request_id)].pair
        return pair.request_remaining * mass_kg / self.demands[request_id].mass_kg


def allocation_problem(candidates: list[Candidate]) -> AllocationProblem:
    """The flow works in kilograms: candidates whose mass is unknown (m3 or pieces without a
    mass) stay out, to be matched by hand. Arc lengths are road estimates (x DETOUR_FACTOR)."""
    kept = {(c.pair.offer_id, c.pair.request_id): c for c in candidates if c.mass_kg is not None}
    supplies: dict[str, Supply] = {}
    demands: dict[str, Demand] = {}
    for candidate in kept.values():
        p = candidate.pair
        offer_mass = (
            remaining_mass_kg(p.offer_quantity, p.offer_remaining, p.offer_unit, p.offer_mass_kg)
            or 0.0
        )
        lot = 0.0 if p.offer_min_lot is None else offer_mass * p.offer_min_lot / p.offer_remaining
        supplies[p.offer_id] = Supply(p.offer_id, offer_mass, lot)
        request_mass = remaining_mass_kg(
            p.request_quantity, p.request_remaining, p.request_unit, p.request_mass_kg
        )
        demands[p.request_id] = Demand(p.request_id, request_mass or 0.0)
    arcs = [Arc(o, r, c.pair.distance_m / 1000 * DETOUR_FACTOR) for (o, r), c in kept.items()]
    return AllocationProblem(kept, supplies, demands, arcs)
