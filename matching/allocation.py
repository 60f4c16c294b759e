"""Global allocation of open offers to open requests.

Quantities are split across many offers and requests to maximise the matched mass net of a
transport cost per tonne-km: maximise sum over arcs of x_ij * (value_per_t - cost_per_tkm * d_ij)
subject to each offer's and each request's remaining quantity. That is a min-cost flow
(source -> offers -> requests -> sink, plus a free bypass arc so that unprofitable mass stays
unmatched), solved exactly by OR-Tools. Its constraint matrix is a network matrix, so with
integral quantities the flow optimum is also the optimum of the linear programme.

Min lots make the problem non-convex (an arc carries 0 or at least the lot), and so does the
smallest quantity a pair can be matched in (`Arc.min_kg`: less would be stored as 0.000 in the
offer's or the request's unit); arcs that cannot carry their least load are left out, and the
arcs the flow loads below it are removed and the flow solved again (`allocate_flow`), which
keeps every proposal sellable and storable at the price of optimality on those arcs.

The flow is built from columns (`FlowProblem`), so that a graph of hundreds of thousands of
arcs costs no object per arc."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

# Quantities enter the flow as whole kilograms; costs as micro-units of value per kilogram.
_COST_SCALE = 1_000_000
# A flow of this many arcs at most is solved again for each arc removed, which is quick
# (`allocate_flow`).
_ONE_BY_ONE_ARCS = 2_000


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
    smallest quantity the pair can be matched in."""
    return _whole_kg_up(max(supply.min_lot_kg, arc.min_kg))


def _whole_kg_up(mass_kg: float) -> int:
    # round() first, so that float noise above a whole kilogram does not round up to the next.
    return math.ceil(round(mass_kg, 6))


def whole_up(values: np.ndarray) -> np.ndarray:
    """`math.ceil(round(x, 6))` of each value (`_whole_kg_up`), over an array: numpy's ceiling,
    but for the values within a millionth above a whole number, which round() may bring down
    to it and are worked out as there."""
    up = np.ceil(values)
    fraction = values - np.floor(values)
    close = (fraction > 0) & (fraction <= 1e-6)
    up[close] = [math.ceil(round(v, 6)) for v in values[close].tolist()]
    return up


@dataclass(frozen=True)
class FlowProblem:
    """The allocation problem in columns, for graphs of hundreds of thousands of arcs: one
    entry per offer (supply), per request (demand) and per arc, arcs naming their offer and
    request by position."""

    supply_kg: np.ndarray
    supply_lot_kg: np.ndarray
    demand_kg: np.ndarray
    arc_supply: np.ndarray
    arc_demand: np.ndarray
    arc_km: np.ndarray
    # The least mass each pair can be matched in, when at all.
    arc_min_kg: np.ndarray


def allocate_flow(problem: FlowProblem, prices: Prices) -> np.ndarray:
    """The whole kilograms on each arc in the allocation of greatest net value, every loaded
    arc at least the offer's min lot and the pair's smallest matchable mass.

    Arcs that cannot carry their least load, or do not pay for their transport, are left out.
    Arcs the flow loads below their least are removed, in rounds. A small flow
    (`_ONE_BY_ONE_ARCS`) loses its most under-loaded arc each round, and is solved whole
    again. A larger one loses the most under-loaded arc of every offer that has one (as
    removing them one by one would, without a solve for each), and each round solves again
    only around them: the arcs of the offers and of the requests those arcs joined, with what
    the other arcs carry kept as it is. The first solve is the only whole one, so that a graph
    of 5,000 offers by 5,000 requests in min lots takes one whole solve and rounds of a few
    thousand arcs, not a thousand whole solves (0.2 % of the net value below solving each round
    whole, on the bench's graph)."""
    least = whole_up(
        np.maximum(problem.supply_lot_kg[problem.arc_supply], problem.arc_min_kg)
    ).astype(np.int64)
    reach = np.minimum(problem.supply_kg[problem.arc_supply], problem.demand_kg[problem.arc_demand])
    pays = (prices.value_per_t - prices.cost_per_tkm * problem.arc_km) / 1000 > 0
    active = pays & (reach >= np.maximum(least, 1))
    supply_kg, demand_kg = np.floor(problem.supply_kg), np.floor(problem.demand_kg)
    used = np.flatnonzero(active)
    loaded = np.zeros(len(active), dtype=np.int64)
    if len(used) <= _ONE_BY_ONE_ARCS:
        while True:
            flows = _solve_flow(problem, supply_kg, demand_kg, used, prices)
            under = (flows > 0) & (flows < least[used])
            if not under.any():
                loaded[used] = flows
                return loaded
            arcs, loads = used[under], flows[under]
            active[arcs[np.lexsort((arcs, loads))[0]]] = False
            used = np.flatnonzero(active)
    while True:
        # What the arcs not solved again carry stays; the solved ones share what is left.
        kept = loaded.copy()
        kept[used] = 0
        supply_left = supply_kg - np.bincount(
            problem.arc_supply, weights=kept, minlength=len(supply_kg)
        )
        demand_left = demand_kg - np.bincount(
            problem.arc_demand, weights=kept, minlength=len(demand_kg)
        )
        flows = _solve_flow(problem, supply_left, demand_left, used, prices)
        loaded[used] = flows
        under = (flows > 0) & (flows < least[used])
        if not under.any():
            return loaded
        arcs, loads = used[under], flows[under]
        offers = problem.arc_supply[arcs]
        order = np.lexsort((arcs, loads, offers))
        first_of_offer = np.ones(len(order), dtype=bool)
        first_of_offer[1:] = offers[order][1:] != offers[order][:-1]
        removed = arcs[order][first_of_offer]
        active[removed] = False
        loaded[removed] = 0
        around_offer = np.zeros(len(supply_kg), dtype=bool)
        around_offer[offers] = True
        around_request = np.zeros(len(demand_kg), dtype=bool)
        around_request[problem.arc_demand[arcs]] = True
        used = np.flatnonzero(
            active & (around_offer[problem.arc_supply] | around_request[problem.arc_demand])
        )


def _solve_flow(
    problem: FlowProblem,
    supply_kg: np.ndarray,
    demand_kg: np.ndarray,
    used: np.ndarray,
    prices: Prices,
) -> np.ndarray:
    """The min-cost flow over the arcs `used` with these supplies and demands (whole kg):
    source -> offers -> requests -> sink, and a free bypass from source to sink for the mass
    not worth moving."""
    supplies, demands = len(problem.supply_kg), len(problem.demand_kg)
    source, sink = 0, 1
    supply_node = 2 + np.arange(supplies)
    demand_node = 2 + supplies + np.arange(demands)
    supply_cap = supply_kg.astype(np.int64)
    demand_cap = demand_kg.astype(np.int64)
    arc_supply, arc_demand = problem.arc_supply[used], problem.arc_demand[used]
    net_per_kg = (prices.value_per_t - prices.cost_per_tkm * problem.arc_km[used]) / 1000
    total = int(supply_cap.sum())
    tails = np.concatenate(
        [np.full(supplies, source), demand_node, supply_node[arc_supply], [source]]
    )
    heads = np.concatenate([supply_node, np.full(demands, sink), demand_node[arc_demand], [sink]])
    capacities = np.concatenate(
        [
            supply_cap,
            demand_cap,
            np.minimum(supply_cap[arc_supply], demand_cap[arc_demand]),
            [total],
        ]
    )
    costs = np.concatenate([np.zeros(supplies + demands), -np.round(net_per_kg * _COST_SCALE), [0]])
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32),
        heads.astype(np.int32),
        capacities.astype(np.int64),
        costs.astype(np.int64),
    )
    flow.set_node_supply(source, total)
    flow.set_node_supply(sink, -total)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow ended with status {status}")
    first_pair_arc = supplies + demands
    return np.asarray(flow.flows(arcs[first_pair_arc : first_pair_arc + len(used)]), np.int64)


def allocate_offers_to_requests(
    supplies: Sequence[Supply],
    demands: Sequence[Demand],
    arcs: Sequence[Arc],
    prices: Prices = Prices(),
) -> AllocationResult:
    """The allocation of greatest net value, every allocated lot at least the offer's min lot
    and the pair's smallest matchable mass (`allocate_flow`)."""
    supply_index = {s.id: i for i, s in enumerate(supplies)}
    demand_index = {d.id: j for j, d in enumerate(demands)}
    known = [a for a in arcs if a.supply_id in supply_index and a.demand_id in demand_index]
    problem = FlowProblem(
        supply_kg=np.array([s.mass_kg for s in supplies], dtype=float),
        supply_lot_kg=np.array([s.min_lot_kg for s in supplies], dtype=float),
        demand_kg=np.array([d.mass_kg for d in demands], dtype=float),
        arc_supply=np.array([supply_index[a.supply_id] for a in known], dtype=np.int64),
        arc_demand=np.array([demand_index[a.demand_id] for a in known], dtype=np.int64),
        arc_km=np.array([a.distance_km for a in known], dtype=float),
        arc_min_kg=np.array([a.min_kg for a in known], dtype=float),
    )
    loads = allocate_flow(problem, prices)
    allocations = [
        Allocation(arc.supply_id, arc.demand_id, float(load), arc.distance_km)
        for arc, load in zip(known, loads.tolist(), strict=True)
        if load > 0
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
