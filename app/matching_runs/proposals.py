"""What a matching run proposes, worked out in the run's child process from the database: the
candidate graph read there (on a connection of its own, as the service's role), the allocation
problem built over its columns, the flow allocated, and each allocation scored and given as a
quantity in the request's unit. Plain data goes back, a few objects per proposal: the worker's
event loop decodes, pickles and scores nothing of the graph, whose hundreds of thousands of pairs
would hold it (its heartbeat and its other jobs) for seconds."""

import pickle
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import NullPool, create_engine
from sqlalchemy.engine import make_url

from app.candidates.graph import read_candidate_graph
from matching.allocation import Allocation, Prices, allocate_flow
from matching.problem import allocation_problem, graph_columns
from matching.scoring import Candidate, score_candidate

# Proposals stored (and unpickled) at a time by the worker.
PROPOSAL_BATCH = 100


@dataclass(frozen=True)
class Proposal:
    """One allocation of the flow, with its candidate and its quantity in the request's unit."""

    allocation: Allocation
    candidate: Candidate
    quantity: float


@dataclass(frozen=True)
class RunProposals:
    # The proposals in the flow's order, PROPOSAL_BATCH in each batch, each batch pickled
    # apart: the worker unpickles the answer of its child in one go, which holds its event
    # loop (the GIL) for as long, and a batch at a time as it stores them.
    batches: list[bytes]
    offers: int
    requests: int
    arcs: int
    pairs_too_small: int

    def proposals(self) -> Iterator[list[Proposal]]:
        for batch in self.batches:
            proposals: list[Proposal] = pickle.loads(batch)
            yield proposals


@dataclass(frozen=True)
class Step:
    """A step of the run's pipeline, done: what the child tells the worker as it goes."""

    name: str
    seconds: float
    detail: str = ""
    # The processor time the step took, in this process (waits for the database excluded).
    cpu_seconds: float | None = None


def propose_for_run(
    database_url: str,
    area: dict[str, Any],
    prices: Prices,
    tell: Callable[[Step], None],
) -> RunProposals:
    """The proposals of a run over the candidate graph of `area` (family, lon, lat, radius_m),
    read from `database_url` (the service's own, as its role), less the pairs that have an
    active match already. Each step is told as it ends."""
    clock, cpu = time.perf_counter(), time.process_time()

    def done(name: str, detail: str = "") -> None:
        nonlocal clock, cpu
        now, cpu_now = time.perf_counter(), time.process_time()
        tell(Step(name, now - clock, detail, cpu_now - cpu))
        clock, cpu = now, cpu_now

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
        if candidate is None:
            raise RuntimeError("a pair of the allocation problem has no score")
        mass_kg = float(loads[arc])
        proposals.append(
            Proposal(
                Allocation(pair.offer_id, pair.request_id, mass_kg, float(flow.arc_km[arc])),
                candidate,
                problem.quantity_for(arc, mass_kg),
            )
        )
    batches = [
        pickle.dumps(proposals[first : first + PROPOSAL_BATCH])
        for first in range(0, len(proposals), PROPOSAL_BATCH)
    ]
    done("scoring the proposals", f"{len(proposals):,} proposals")
    return RunProposals(
        batches,
        len(problem.offers),
        len(problem.requests),
        len(problem.arcs),
        problem.pairs_too_small,
    )
