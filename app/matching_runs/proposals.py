"""What a matching run proposes, from the rows of its candidate graph: each pair scored, the
flow allocated and each allocation as a quantity in the request's unit. Plain data in and
out, for the run's child process: scoring a graph of a few hundred offers and requests takes
seconds of CPU, which would otherwise stop the worker's event loop, its heartbeat and its
other jobs."""

from dataclasses import dataclass
from typing import Any

from app.candidates.repository import pair_from_row
from matching.allocation import Allocation, Prices, allocate_offers_to_requests
from matching.problem import allocation_problem
from matching.scoring import Candidate, score_candidate


@dataclass(frozen=True)
class Proposal:
    """One allocation of the flow, with its candidate and its quantity in the request's unit."""

    allocation: Allocation
    candidate: Candidate
    quantity: float


@dataclass(frozen=True)
class RunProposals:
    # In the flow's order.
    proposals: list[Proposal]
    offers: int
    requests: int
    arcs: int
    pairs_too_small: int


def propose_from_candidate_graph(
    columns: list[str],
    rows: list[tuple[Any, ...]],
    taken: set[tuple[str, str]],
    prices: Prices,
) -> RunProposals:
    """`rows` of the candidate graph (with `columns`), less the pairs `taken` by an active
    match already."""
    scored = (score_candidate(pair_from_row(dict(zip(columns, row, strict=True)))) for row in rows)
    problem = allocation_problem(
        [c for c in scored if c is not None and (c.pair.offer_id, c.pair.request_id) not in taken]
    )
    result = allocate_offers_to_requests(
        list(problem.supplies.values()), list(problem.demands.values()), problem.arcs, prices
    )
    proposals = [
        Proposal(
            a,
            problem.candidates[(a.supply_id, a.demand_id)],
            problem.quantity_for(a.supply_id, a.demand_id, a.mass_kg),
        )
        for a in result.allocations
    ]
    return RunProposals(
        proposals,
        len(problem.supplies),
        len(problem.demands),
        len(problem.arcs),
        problem.pairs_too_small,
    )
