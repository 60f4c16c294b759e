"""From the candidate graph to the allocation problem the flow solves, in kilograms, in columns:
a global run's graph has hundreds of thousands of pairs, which are never made objects. The rules
per pair are those of `matching.scoring` (what the offer can supply towards the request, its
mass, the smallest matchable quantity), written here over arrays; tests/test_allocation_problem.py
holds the two to the same answers."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matching.allocation import FlowProblem, whole_up
from matching.scoring import DETOUR_FACTOR, remaining_mass_kg

# math.isclose's default: a quantity this close to the smallest matchable one reaches it.
_REL_TOL = 1e-9
_THOUSANDTHS_PER_UNIT = 1000


@dataclass(frozen=True)
class GraphColumns:
    """The candidate graph: one entry per offer, per request, and per arc (a compatible pair,
    naming its offer and its request by position). Masses are those of the remaining quantity,
    NaN when unknown (m3, or pieces with no mass)."""

    offer_remaining: np.ndarray
    offer_unit: np.ndarray
    offer_mass_kg: np.ndarray
    offer_lot_kg: np.ndarray
    request_remaining: np.ndarray
    request_unit: np.ndarray
    request_mass_kg: np.ndarray
    arc_offer: np.ndarray
    arc_request: np.ndarray
    arc_distance_m: np.ndarray


def graph_columns(
    offers: Sequence[Mapping[str, Any]],
    requests: Sequence[Mapping[str, Any]],
    arc_offer: np.ndarray,
    arc_request: np.ndarray,
    arc_distance_m: np.ndarray,
) -> GraphColumns:
    """The columns of offers and requests given as `CandidatePair`'s offer_* and request_*
    fields (numbers of any kind: the database's decimals too), and of arcs given as positions
    in them."""
    offers = [_floats(o, _OFFER_NUMBERS) for o in offers]
    requests = [_floats(r, _REQUEST_NUMBERS) for r in requests]
    offer_mass = [
        remaining_mass_kg(
            o["offer_quantity"], o["offer_remaining"], o["offer_unit"], o["offer_mass_kg"]
        )
        for o in offers
    ]
    request_mass = [
        remaining_mass_kg(
            r["request_quantity"], r["request_remaining"], r["request_unit"], r["request_mass_kg"]
        )
        for r in requests
    ]
    units = {
        u: i
        for i, u in enumerate(
            {o["offer_unit"] for o in offers} | {r["request_unit"] for r in requests}
        )
    }
    return GraphColumns(
        offer_remaining=np.array([o["offer_remaining"] for o in offers], dtype=float),
        offer_unit=np.array([units[o["offer_unit"]] for o in offers], dtype=np.int64),
        offer_mass_kg=np.array([math.nan if m is None else m for m in offer_mass], dtype=float),
        offer_lot_kg=np.array(
            [
                0.0
                if o["offer_min_lot"] is None
                else (m or 0.0) * o["offer_min_lot"] / o["offer_remaining"]
                for o, m in zip(offers, offer_mass, strict=True)
            ],
            dtype=float,
        ),
        request_remaining=np.array([r["request_remaining"] for r in requests], dtype=float),
        request_unit=np.array([units[r["request_unit"]] for r in requests], dtype=np.int64),
        request_mass_kg=np.array([math.nan if m is None else m for m in request_mass], dtype=float),
        arc_offer=np.asarray(arc_offer, dtype=np.int64),
        arc_request=np.asarray(arc_request, dtype=np.int64),
        arc_distance_m=np.asarray(arc_distance_m, dtype=float),
    )


_OFFER_NUMBERS = ("offer_quantity", "offer_remaining", "offer_mass_kg", "offer_min_lot")
_REQUEST_NUMBERS = ("request_quantity", "request_remaining", "request_mass_kg")


def _floats(side: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {**side, **{n: None if side[n] is None else float(side[n]) for n in names}}


@dataclass(frozen=True)
class AllocationProblem:
    """The flow's problem, and where its parts come from in the graph."""

    flow: FlowProblem
    # The graph's positions of the flow's arcs, supplies and demands.
    arcs: np.ndarray
    offers: np.ndarray
    requests: np.ndarray
    # Each demand's remaining quantity, in its request's unit.
    demand_remaining: np.ndarray
    # Pairs left out because all they could exchange is less than their smallest matchable
    # quantity (a share that would be stored as 0.000 in the offer's or the request's unit).
    pairs_too_small: int

    def quantity_for(self, arc: int, mass_kg: float) -> float:
        """A mass allocated on the flow's arc as a quantity in its request's unit."""
        demand = int(self.flow.arc_demand[arc])
        remaining, demand_kg = self.demand_remaining[demand], self.flow.demand_kg[demand]
        return float(remaining * mass_kg / demand_kg)


def allocation_problem(graph: GraphColumns) -> AllocationProblem:
    """The flow works in kilograms: pairs whose mass is unknown (m3 or pieces without a mass)
    stay out, to be matched by hand. Arc lengths are road estimates (x DETOUR_FACTOR); each arc
    carries at least the mass of the pair's smallest matchable quantity."""
    s, r = graph.arc_offer, graph.arc_request
    same_unit = graph.offer_unit[s] == graph.request_unit[r]
    offer_remaining, request_remaining = graph.offer_remaining[s], graph.request_remaining[r]
    offer_mass, request_mass = graph.offer_mass_kg[s], graph.request_mass_kg[r]
    with np.errstate(invalid="ignore", divide="ignore"):
        # What the offer can supply towards the request, in the request's unit, and its mass
        # (`scoring.supplyable`): NaN when the two cannot be compared.
        same_quantity = np.minimum(offer_remaining, request_remaining)
        other_mass = np.minimum(offer_mass, request_mass)
        mass = np.where(same_unit, offer_mass * same_quantity / offer_remaining, other_mass)
        quantity = np.where(same_unit, same_quantity, request_remaining * other_mass / request_mass)
        weighed = ~np.isnan(mass)
        # Offer units per request unit (`scoring.share_of_offer` of one request unit).
        per_unit = np.where(
            same_unit, 1.0, offer_remaining * (request_mass * 1.0 / request_remaining) / offer_mass
        )
        thousandths = np.maximum(1.0, 1.0 / per_unit)
    # `scoring.smallest_matchable_quantity`, with Python's round() on each, as there.
    smallest = np.zeros(len(s))
    smallest[weighed] = whole_up(thousandths[weighed]) / _THOUSANDTHS_PER_UNIT
    matchable = weighed & (
        (quantity >= smallest)
        | (np.abs(quantity - smallest) <= _REL_TOL * np.maximum(np.abs(quantity), np.abs(smallest)))
    )
    arcs = np.flatnonzero(matchable)
    offers, arc_supply = np.unique(s[arcs], return_inverse=True)
    requests, arc_demand = np.unique(r[arcs], return_inverse=True)
    demand_kg = np.nan_to_num(graph.request_mass_kg[requests], nan=0.0)
    least_kg = smallest[arcs] * demand_kg[arc_demand] / request_remaining[arcs]
    flow = FlowProblem(
        supply_kg=np.nan_to_num(graph.offer_mass_kg[offers], nan=0.0),
        supply_lot_kg=graph.offer_lot_kg[offers],
        demand_kg=demand_kg,
        arc_supply=arc_supply.reshape(-1),
        arc_demand=arc_demand.reshape(-1),
        arc_km=graph.arc_distance_m[arcs] / 1000 * DETOUR_FACTOR,
        arc_min_kg=least_kg,
    )
    return AllocationProblem(
        flow,
        arcs,
        offers,
        requests,
        graph.request_remaining[requests],
        int(weighed.sum()) - len(arcs),
    )
