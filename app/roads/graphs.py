"""The road networks held in memory by the process that plans (the worker): each network's
edges read once from its table into a sparse directed graph, read again when the table
changes, and the shortest distances between many vertices at once by scipy's multi-source
Dijkstra, on the network cut down to what those vertices need (`app.roads.contraction`). The
Dijkstra runs in child processes (`distances_by_network`), each from its part of the vertices:
scipy's holds the GIL throughout (a thread beside the event loop held it for 1.8 s on 64
sources).

pgRouting's `pgr_dijkstraCostMatrix` answers the same distances, but reads the whole edge
table and builds its graph again on every call; on the Brussels network that made a
500-shipment plan wait 13 s for its matrices (bench/roads.py measures both).

A network's tables are built anew by `python -m app.cli roads` (DROP and CREATE, in
`app.roads.loader`), which gives them new oids; their row count and highest edge id tell of
edges added or taken out in place (a cost changed in place is not seen: the loader never does
that). Those, with the database's name and port, are the network's version, which every plan
reads (one cheap query) before it trusts the graph in memory."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from sqlalchemy import TextClause, text

from app.kit.statement_deadline import StatementDeadline
from app.roads.contraction import reduced_graph, shortest_of_parallel
from app.roads.networks import known_network

# Sources per Dijkstra call: each call answers a row per source over every vertex of the
# network (8,000 in Brussels once cut down, 8 bytes each), of which the matrix keeps a few
# columns.
SOURCES_PER_CALL = 64


def _version_sql(network: str) -> TextClause:
    name = known_network(network)
    return text(f"""
SELECT current_database() AS database, inet_server_port() AS port,
       'roads.edges_{name}'::regclass::oid AS edges, 'roads.vertices_{name}'::regclass::oid AS vertices,
       count(*) AS rows, max(id) AS last_id
  FROM roads.edges_{name}
""")


def _edges_sql(network: str) -> TextClause:
    """The network's edges as four arrays: one row to decode rather than one per edge."""
    return text(f"""
SELECT array_agg(source) AS sources, array_agg(target) AS targets,
       array_agg(cost) AS costs, array_agg(reverse_cost) AS reverse_costs
  FROM roads.edges_{known_network(network)}
""")


@dataclass(frozen=True)
class RoadGraph:
    """A network as pgRouting reads it (`directed => true`): an edge leads from its source to
    its target at its cost, and back at its reverse cost; a negative cost is no way."""

    # The network's vertex ids, sorted: the graph's row and column `i` are `vertices[i]`.
    vertices: np.ndarray
    graph: csr_matrix

    @classmethod
    def from_edges(
        cls,
        sources: Sequence[int],
        targets: Sequence[int],
        costs: Sequence[float],
        reverse_costs: Sequence[float],
    ) -> "RoadGraph":
        source = np.asarray(sources, dtype=np.int64)
        target = np.asarray(targets, dtype=np.int64)
        cost = np.asarray(costs, dtype=np.float64)
        reverse_cost = np.asarray(reverse_costs, dtype=np.float64)
        forward, backward = cost >= 0, reverse_cost >= 0
        tails = np.concatenate([source[forward], target[backward]])
        heads = np.concatenate([target[forward], source[backward]])
        weights = np.concatenate([cost[forward], reverse_cost[backward]])
        vertices = np.unique(np.concatenate([source, target]))
        # Of parallel edges the shortest counts, as in pgRouting.
        rows, columns, weights = shortest_of_parallel(
            np.searchsorted(vertices, tails), np.searchsorted(vertices, heads), weights
        )
        size = len(vertices)
        graph = csr_matrix((weights, (rows, columns)), shape=(size, size), dtype=np.float64)
        return cls(vertices, graph)

    def distances_m(self, vertices: Sequence[int]) -> np.ndarray:
        """The shortest distance (metres, float) from each of `vertices` to each, `inf` where
        there is no way; a vertex the network does not have reaches only itself."""
        return assembled(vertices, [self.rows_m(vertices)])

    def rows_m(self, vertices: Sequence[int], part: int = 0, parts: int = 1) -> np.ndarray:
        """The shortest distances from one in `parts` of the distinct `vertices` (sorted), from
        the `part`-th on, to each of them: the rows of `part` that `assembled` puts together.
        The Dijkstra searches the network cut down to what these vertices need
        (`app.roads.contraction`)."""
        distinct = np.unique(np.asarray(vertices, dtype=np.int64))
        position = np.searchsorted(self.vertices, distinct).clip(max=len(self.vertices) - 1)
        known = self.vertices[position] == distinct if len(self.vertices) else distinct < 0
        sources = np.arange(part, len(distinct), parts)
        between = np.full((len(sources), len(distinct)), np.inf)
        columns = np.flatnonzero(known)
        rows = np.flatnonzero(known[sources])
        if not len(rows):
            return between
        graph, at = reduced_graph(self.graph, position[columns])
        # Each known vertex's position in the reduced graph.
        reduced = np.zeros(len(distinct), dtype=np.int64)
        reduced[columns] = at
        for start in range(0, len(rows), SOURCES_PER_CALL):
            chunk = rows[start : start + SOURCES_PER_CALL]
            reached = dijkstra(graph, directed=True, indices=reduced[sources[chunk]])
            between[np.ix_(chunk, columns)] = reached[:, at]
        return between


def assembled(vertices: Sequence[int], parts: Sequence[np.ndarray]) -> np.ndarray:
    """The distances between `vertices` from the rows of each part (`RoadGraph.rows_m`)."""
    distinct, back = np.unique(np.asarray(vertices, dtype=np.int64), return_inverse=True)
    between = np.empty((len(distinct), len(distinct)))
    for part, rows in enumerate(parts):
        between[part :: len(parts)] = rows
    np.fill_diagonal(between, 0.0)
    answer: np.ndarray = between[np.ix_(back, back)]
    return answer


def distances_by_network(
    graphs: dict[str, RoadGraph], vertices: dict[str, list[int]], part: int = 0, parts: int = 1
) -> dict[str, np.ndarray]:
    """Each network's rows of `part` of `parts` (`RoadGraph.rows_m`): what each of a plan's
    child processes runs, the parts side by side on the plan's share of the worker's cores."""
    return {
        network: graph.rows_m(vertices[network], part, parts) for network, graph in graphs.items()
    }


@dataclass(frozen=True)
class _Held:
    version: tuple[Any, ...]
    graph: RoadGraph


class RoadGraphs:
    """The graphs of the networks this process has read, each with the version it was read
    at; one reading at a time per network, however many plans ask at once."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}
        self._reading: dict[str, asyncio.Lock] = {}

    async def graph(self, deadline: StatementDeadline, network: str) -> RoadGraph:
        """The network's graph as its tables are now: the one held, or read again, by the
        deadline."""
        async with self._reading.setdefault(network, asyncio.Lock()):
            version = tuple((await deadline.all(_version_sql(network), {}))[0])
            held = self._held.get(network)
            if held is None or held.version != version:
                edges = (await deadline.all(_edges_sql(network), {}))[0]
                graph = await asyncio.to_thread(
                    RoadGraph.from_edges,
                    edges.sources or [],
                    edges.targets or [],
                    edges.costs or [],
                    edges.reverse_costs or [],
                )
                held = self._held[network] = _Held(version, graph)
            return held.graph


# The worker's networks, read by its first road plan.
ROAD_GRAPHS = RoadGraphs()
