"""Global allocation of open offers to open requests.

Quantities are split across many offers and requests to maximise the matched mass net of a
transport cost per tonne-km: maximise sum over arcs of x_ij * (value_per_t - cost_per_tkm * d_ij)
subject to each offer's and each request's remaining quantity. That is a min-cost flow
(source -> offers -> requests -> sink, plus a free bypass arc so that unprofitable mass stays
unmatched), solved exactly by OR-Tools. Its constraint matrix is a network matrix, so with
integral quantities the flow optimum is also the optimum of the linear programme.

Min lots make the problem non-convex (an arc carries 0 or at least the lot), and so does the
smallest quantity a pair can be matched in (`Arc.min_kg`: less would be stored as 0.000 in the
offer's or the request's unit); arcs that cannot carry their least load are left out, and an
arc the flow loads below it is removed and the flow solved again, which keeps every proposal
sellable and storable at the price of optimality on those arcs."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.graph.python import min_cost_flow

# Quantities enter the flow as whole kilograms; costs as micro-units of value per kilogram.
_COST_SCALE = 1_000_000


@dataclass(frozen=True)
class Supply:
    id: str
    mass_kg: float
    min_lot_kg: float = 0.0


@dataclass(frozen=True)
class Demand:
    id: str
    mass_kg: float


@dataclass(frozen=True)
class Arc:
    """A candidate pair: this offer can serve this request over this distance."""

    supply_id: str
    demand_id: str
    distance_km: float
    # The least mass the pair can be matched in, when at all.
    min_kg: float = 0.0


@dataclass(frozen=True)
class Allocation:
    supply_id: str
    demand_id: str
    mass_kg: float
    distance_km: float


@dataclass(frozen=True)
class AllocationResult:
    allocations: list[Allocation]
    matched_kg: float
    tonne_km: float
    # The objective: value of the matched tonnes less their transport cost.
    net_value: float


@dataclass(frozen=True)
class Prices:
    """What a matched tonne is worth and what moving it costs, in one unit of value."""

    value_per_t: float = 1.0
    cost_per_tkm: float = 0.02

    def net_per_kg(self, distance_km: float) -> float:
        return (self.value_per_t - self.cost_per_tkm * distance_km) / 1000


def summarise(allocations: list[Allocation], prices: Prices) -> AllocationResult:
    return AllocationResult(
        allocations=allocations,
        matched_kg=sum(a.mass_kg for a in allocations),
        tonne_km=sum(a.mass_kg / 1000 * a.distance_km for a in allocations),
        net_value=sum(a.mass_kg * prices.net_per_kg(a.distance_km) for a in allocations),
    )


def _least_load(arc: Arc, supply: Supply) -> int:
    """The whole kilograms an arc carries at least, if anything: a lot of the offer, and the
    smallest quantity the pair can be matched in. round() first, so that float noise above a
    whole kilogram does not round up to the next one."""
    return math.ceil(round(max(supply.min_lot_kg, arc.min_kg), 6))


def _usable_arcs(
    supplies: dict[str, Supply], demands: dict[str, Demand], arcs: Sequence[Arc], prices: Prices
) -> list[Arc]:
    """Arcs that pay for their transport and can carry their least load."""
    return [
        arc
        for arc in arcs
        if arc.supply_id in supplies
        and arc.demand_id in demands
        and prices.net_per_kg(arc.distance_km) > 0
        and min(supplies[arc.supply_id].mass_kg, demands[arc.demand_id].mass_kg)
        >= max(_least_load(arc, supplies[arc.supply_id]), 1)
    ]


def _solve_flow(
    supplies: dict[str, Supply], demands: dict[str, Demand], arcs: list[Arc], prices: Prices
) -> list[int]:
    supply_index = {sid: 2 + i for i, sid in enumerate(supplies)}
    demand_index = {did: 2 + len(supplies) + i for i, did in enumerate(demands)}
    source, sink = 0, 1
    total = sum(int(s.mass_kg) for s in supplies.values())

    flow = min_cost_flow.SimpleMinCostFlow()
    for sid, node in supply_index.items():
        flow.add_arc_with_capacity_and_unit_cost(source, node, int(supplies[sid].mass_kg), 0)
    for did, node in demand_index.items():
        flow.add_arc_with_capacity_and_unit_cost(node, sink, int(demands[did].mass_kg), 0)
    first_pair_arc = flow.num_arcs()
    for arc in arcs:
        capacity = int(min(supplies[arc.supply_id].mass_kg, demands[arc.demand_id].mass_kg))
        cost = -round(prices.net_per_kg(arc.distance_km) * _COST_SCALE)
        flow.add_arc_with_capacity_and_unit_cost(
            supply_index[arc.supply_id], demand_index[arc.demand_id], capacity, cost
        )
    # Mass that is not worth moving goes straight to the sink, for free.
    flow.add_arc_with_capacity_and_unit_cost(source, sink, total, 0)
    flow.set_node_supply(source, total)
    flow.set_node_supply(sink, -total)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow ended with status {status}")
    return [flow.flow(first_pair_arc + i) for i in range(len(arcs))]


def allocate_offers_to_requests(
    supplies: Sequence[Supply],
    demands: Sequence[Demand],
    arcs: Sequence[Arc],
    prices: Prices = Prices(),
) -> AllocationResult:
    """The allocation of greatest net value, every allocated lot at least the offer's min lot
    and the pair's smallest matchable mass."""
    supply_by_id = {s.id: s for s in supplies}
    demand_by_id = {d.id: d for d in demands}
    usable = _usable_arcs(supply_by_id, demand_by_id, arcs, prices)
    while True:
        flows = _solve_flow(supply_by_id, demand_by_id, usable, prices)
        below_least = [
            (flow, i)
            for i, (arc, flow) in enumerate(zip(usable, flows, strict=True))
            if 0 < flow < _least_load(arc, supply_by_id[arc.supply_id])
        ]
        if not below_least:
            break
        _, worst = min(below_least)
        usable = usable[:worst] + usable[worst + 1 :]
    allocations = [
        Allocation(arc.supply_id, arc.demand_id, float(flow), arc.distance_km)
        for arc, flow in zip(usable, flows, strict=True)
        if flow > 0
    ]
    return summarise(allocations, prices)


def allocate_nearest_first(
    supplies: Sequence[Supply],
    demands: Sequence[Demand],
    arcs: Sequence[Arc],
    prices: Prices = Prices(),
) -> AllocationResult:
    """The greedy baseline: shortest pairs first, each taking all it can."""
    supply_left = {s.id: int(s.mass_kg) for s in supplies}
    demand_left = {d.id: int(d.mass_kg) for d in demands}
    supply_by_id = {s.id: s for s in supplies}
    allocations = []
    for arc in sorted(arcs, key=lambda a: (a.distance_km, a.supply_id, a.demand_id)):
        if arc.supply_id not in supply_left or arc.demand_id not in demand_left:
            continue
        if prices.net_per_kg(arc.distance_km) <= 0:
            continue
        mass = min(supply_left[arc.supply_id], demand_left[arc.demand_id])
        if mass <= 0 or mass < _least_load(arc, supply_by_id[arc.supply_id]):
            continue
        supply_left[arc.supply_id] -= mass
        demand_left[arc.demand_id] -= mass
        allocations.append(Allocation(arc.supply_id, arc.demand_id, float(mass), arc.distance_km))
    return summarise(allocations, prices)
