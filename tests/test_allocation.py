"""The allocation engine against an independent LP and against greedy nearest-first."""

import random

import numpy as np
import pytest
from scipy.optimize import linprog

from matching.allocation import (
    Arc,
    Demand,
    Prices,
    Supply,
    allocate_nearest_first,
    allocate_offers_to_requests,
)


def lp_optimum(
    supplies: list[Supply], demands: list[Demand], arcs: list[Arc], prices: Prices
) -> float:
    """Maximise sum x_a * net_a under supply and demand limits, with HiGHS."""
    net = np.array([prices.net_per_kg(a.distance_km) for a in arcs])
    rows, limits = [], []
    for s in supplies:
        rows.append([1.0 if a.supply_id == s.id else 0.0 for a in arcs])
        limits.append(s.mass_kg)
    for d in demands:
        rows.append([1.0 if a.demand_id == d.id else 0.0 for a in arcs])
        limits.append(d.mass_kg)
    result = linprog(
        -net, A_ub=np.array(rows), b_ub=np.array(limits), bounds=(0, None), method="highs"
    )
    assert result.status == 0
    return float(-result.fun)


@pytest.mark.parametrize("seed", range(25))
def test_allocation_equals_the_lp_optimum_on_random_cases(seed: int) -> None:
    rng = random.Random(seed)
    supplies = [Supply(f"o{i}", rng.randint(100, 20_000)) for i in range(rng.randint(1, 8))]
    demands = [Demand(f"r{j}", rng.randint(100, 20_000)) for j in range(rng.randint(1, 8))]
    arcs = [
        Arc(s.id, d.id, round(rng.uniform(0.2, 60), 3))
        for s in supplies
        for d in demands
        if rng.random() < 0.6
    ]
    arcs = arcs or [Arc(supplies[0].id, demands[0].id, 1.0)]
    prices = Prices(value_per_t=1.0, cost_per_tkm=rng.choice([0.005, 0.02, 0.05]))
    result = allocate_offers_to_requests(supplies, demands, arcs, prices)
    assert result.net_value == pytest.approx(
        lp_optimum(supplies, demands, arcs, prices), rel=1e-6, abs=1e-6
    )
    for s in supplies:
        assert sum(a.mass_kg for a in result.allocations if a.supply_id == s.id) <= s.mass_kg
    for d in demands:
        assert sum(a.mass_kg for a in result.allocations if a.demand_id == d.id) <= d.mass_kg


def test_greedy_nearest_first_is_strictly_worse_on_a_crossed_case() -> None:
    # Offer A is near both requests, offer B only near request 1. Nearest-first gives A to
    # request 1 (0.5 km) and leaves request 2 unserved and B idle; the flow sends A to
    # request 2 and B to request 1 and matches twice the mass.
    supplies = [Supply("A", 10_000), Supply("B", 10_000)]
    demands = [Demand("r1", 10_000), Demand("r2", 10_000)]
    arcs = [Arc("A", "r1", 0.5), Arc("A", "r2", 2.0), Arc("B", "r1", 3.0)]
    greedy = allocate_nearest_first(supplies, demands, arcs)
    best = allocate_offers_to_requests(supplies, demands, arcs)
    assert greedy.matched_kg == 10_000 and best.matched_kg == 20_000
    assert best.net_value > greedy.net_value
    assert best.net_value == pytest.approx(lp_optimum(supplies, demands, arcs, Prices()))


def test_transport_that_costs_more_than_the_material_is_left_unmatched() -> None:
    prices = Prices(value_per_t=1.0, cost_per_tkm=0.05)  # break-even at 20 km
    result = allocate_offers_to_requests(
        [Supply("A", 5_000)], [Demand("r", 5_000)], [Arc("A", "r", 25)], prices
    )
    assert result.allocations == [] and result.net_value == 0


def test_every_allocated_lot_respects_the_offers_min_lot() -> None:
    # 3 t with a 2 t minimum lot cannot be split 1.5 t + 1.5 t between two requests.
    supplies = [Supply("A", 3_000, min_lot_kg=2_000)]
    demands = [Demand("r1", 1_500), Demand("r2", 2_500)]
    arcs = [Arc("A", "r1", 1.0), Arc("A", "r2", 2.0)]
    result = allocate_offers_to_requests(supplies, demands, arcs)
    assert [(a.demand_id, a.mass_kg) for a in result.allocations] == [("r2", 2_500.0)]
