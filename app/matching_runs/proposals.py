"""What a matching run proposes, worked out in the run's child process from the database: the
candidate graph read there (on a connection of its own, as the service's role), the allocation
problem built over its columns, the flow allocated, and each allocation scored and given as a
quantity in the request's unit. Plain data goes back, a few objects per proposal: the worker's
event loop decodes, pickles and scores nothing of the graph, whose hundreds of thousands of pairs
would hold it (its heartbeat and its other jobs) for seconds."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import NullPool, create_engine
from sqlalchemy.engine import make_url

from app.candidates.repository import read_candidate_graph
from matching.allocation import Allocation, Prices, allocate_flow
from matching.problem import allocation_problem, graph_columns
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


@dataclass(frozen=True)
class Step:
    """A step of the run's pipeline, done: what the child tells the worker as it goes."""

    name: str
    seconds: float
    detail: str = ""


def propose_for_run(
    database_url: str,
    area: dict[str, Any],
    prices: Prices,
    tell: Callable[[Step], None],
) -> RunProposals:
    """The proposals of a run over the candidate graph of `area` (family, lon, lat, radius_m),
    read from `database_url` (the service's own, as its role), less the pairs that have an
    active match already. Each step is told as it ends."""
    clock = time.perf_counter()

    def done(name: str, detail: str = "") -> None:
        nonlocal clock
        now = time.perf_counter()
        tell(Step(name, now - clock, detail))
        clock = now

    engine = create_engine(
        make_url(database_url).set(drivername="postgresql+psycopg"), poolclass=NullPool
    )
    try:
        with engine.connect() as connection:
            # One snapshot for the pairs and their listings.
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                graph = read_candidate_graph(connection, **area)
    finally:
        engine.dispose()
    done(
        "reading the candidate graph",
        f"{len(graph.arc_offer):,} pairs, {len(graph.offers):,} offers, "
        f"{len(graph.requests):,} requests",
    )
    problem = allocation_problem(
        graph_columns(
            graph.offers, graph.requests, graph.arc_offer, graph.arc_request, graph.arc_distance_m
        )
    )
    flow = problem.flow
    done("building the problem", f"{len(problem.arcs):,} arcs")
    loads = allocate_flow(flow, prices)
    done("min-cost flow", f"{int((loads > 0).sum()):,} arcs loaded")
    proposals = []
    for arc in (loads > 0).nonzero()[0].tolist():
        at = int(problem.arcs[arc])
        pair = graph.pair(
            int(graph.arc_offer[at]), int(graph.arc_request[at]), float(graph.arc_distance_m[at])
        )
        candidate = score_candidate(pair)
        # A pair of the problem has a mass, so it is scored.
        assert candidate is not None
        mass_kg = float(loads[arc])
        proposals.append(
            Proposal(
                Allocation(pair.offer_id, pair.request_id, mass_kg, float(flow.arc_km[arc])),
                candidate,
                problem.quantity_for(arc, mass_kg),
            )
        )
    done("scoring the proposals", f"{len(proposals):,} proposals")
    return RunProposals(
        proposals,
        len(problem.offers),
        len(problem.requests),
        len(problem.arcs),
        problem.pairs_too_small,
    )
