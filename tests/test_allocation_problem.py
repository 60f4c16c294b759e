"""The allocation problem built in columns (`matching.problem`) against the rules of
`matching.scoring` applied to each pair one by one."""

import random
from datetime import date
from typing import Any

import numpy as np
import pytest

from matching.candidates import CandidatePair
from matching.problem import allocation_problem, graph_columns
from matching.scoring import DETOUR_FACTOR, remaining_mass_kg, score_candidate

UNITS = ["kg", "t", "m3", "piece"]


def _side(rng: random.Random, prefix: str, index: int) -> dict[str, Any]:
    unit = rng.choice(UNITS)
    quantity = rng.choice([1, 3, 7.5, 20, 250, 1000, 12_345.678])
    remaining = round(quantity * rng.choice([1, 0.5, 0.001, 0.333]), 3) or quantity
    mass = None if rng.random() < 0.3 else rng.choice([0.5, 20, 1500, 20_000, 3.3])
    side = {
        f"{prefix}_id": f"{prefix}{index}",
        f"{prefix}_quantity": float(quantity),
        f"{prefix}_remaining": float(remaining),
        f"{prefix}_unit": unit,
        f"{prefix}_mass_kg": mass,
    }
    if prefix == "offer":
        side["offer_min_lot"] = (
            None if rng.random() < 0.5 else round(remaining * rng.uniform(0.01, 1), 3) or None
        )
    return side


def _pair(offer: dict[str, Any], request: dict[str, Any], distance_m: float) -> CandidatePair:
    return CandidatePair(
        **offer,
        **request,
        offer_organization_id="a",
        request_organization_id="b",
        offer_material="170101",
        request_material="1701",
        condition="A",
        min_condition="C",
        price_per_unit=None,
        max_price_per_unit=None,
        available_from=date(2027, 1, 1),
        available_until=None,
        needed_from=date(2027, 1, 1),
        needed_by=date(2027, 2, 1),
        max_distance_km=50,
        distance_m=distance_m,
    )


def _one_by_one(pairs: list[CandidatePair]) -> tuple[dict[Any, Any], dict[Any, Any], int]:
    """Arcs (least kg, km) and supplies (kg, lot) of the pairs scored one by one."""
    scored = [c for c in (score_candidate(p) for p in pairs) if c is not None]
    weighed = [c for c in scored if c.mass_kg is not None]
    matchable = [c for c in weighed if c.matchable]
    arcs, supplies = {}, {}
    for c in matchable:
        p = c.pair
        offer_mass = (
            remaining_mass_kg(p.offer_quantity, p.offer_remaining, p.offer_unit, p.offer_mass_kg)
            or 0.0
        )
        lot = 0.0 if p.offer_min_lot is None else offer_mass * p.offer_min_lot / p.offer_remaining
        supplies[p.offer_id] = (offer_mass, lot)
        request_mass = (
            remaining_mass_kg(
                p.request_quantity, p.request_remaining, p.request_unit, p.request_mass_kg
            )
            or 0.0
        )
        least_kg = c.smallest_quantity * request_mass / p.request_remaining
        arcs[(p.offer_id, p.request_id)] = (
            least_kg,
            p.distance_m / 1000 * DETOUR_FACTOR,
            request_mass,
            p.request_remaining * 1234.5 / request_mass if request_mass else None,
        )
    return arcs, supplies, len(weighed) - len(matchable)


@pytest.mark.parametrize("seed", range(20))
def test_the_problem_in_columns_is_the_pairs_scored_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    offers = [_side(rng, "offer", i) for i in range(12)]
    requests = [_side(rng, "request", j) for j in range(12)]
    arcs = [
        (i, j, rng.uniform(10, 40_000))
        for i in range(len(offers))
        for j in range(len(requests))
        if rng.random() < 0.6
    ]
    pairs = [_pair(offers[i], requests[j], d) for i, j, d in arcs]
    expected_arcs, expected_supplies, too_small = _one_by_one(pairs)

    problem = allocation_problem(
        graph_columns(
            offers,
            requests,
            np.array([i for i, _, _ in arcs], dtype=np.int64),
            np.array([j for _, j, _ in arcs], dtype=np.int64),
            np.array([d for _, _, d in arcs]),
        )
    )
    flow = problem.flow
    got_arcs = {}
    for k in range(len(problem.arcs)):
        offer = offers[problem.offers[flow.arc_supply[k]]]["offer_id"]
        request = requests[problem.requests[flow.arc_demand[k]]]["request_id"]
        demand_kg = flow.demand_kg[flow.arc_demand[k]]
        got_arcs[(offer, request)] = (
            flow.arc_min_kg[k],
            flow.arc_km[k],
            demand_kg,
            problem.quantity_for(k, 1234.5) if demand_kg else None,
        )
    got_supplies = {
        offers[o]["offer_id"]: (flow.supply_kg[i], flow.supply_lot_kg[i])
        for i, o in enumerate(problem.offers)
    }
    assert got_arcs == expected_arcs
    assert got_supplies == expected_supplies
    assert problem.pairs_too_small == too_small
