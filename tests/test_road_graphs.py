"""The road networks held in memory (`app.roads.graphs`) answer pgRouting's distances to the
metre on the suite's Brussels network, for the same points snapped the same way; and a graph
is read again when its network's table changes."""

import itertools
from collections.abc import AsyncIterator

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.kit.statement_deadline import StatementDeadline
from app.roads.graphs import RoadGraph, RoadGraphs
from app.roads.routing import (
    matrices_at,
    nearest_vertices,
    pgrouting_distances_m,
    road_matrices,
)
from logistics.matrices import Profile

# The Brussels-Capital Region's box.
WEST, SOUTH, EAST, NORTH = 4.25, 50.78, 4.47, 50.91


@pytest.fixture
async def session(database_url: str) -> AsyncIterator[AsyncSession]:
    """A session of the suite's superuser, whose transaction is rolled back at the end."""
    engine = create_async_engine(database_url)
    try:
        async with AsyncSession(engine) as session:
            yield session
            await session.rollback()
    finally:
        await engine.dispose()


def _points(count: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    return [
        (float(lon), float(lat))
        for lon, lat in zip(
            rng.uniform(WEST, EAST, count), rng.uniform(SOUTH, NORTH, count), strict=True
        )
    ]


@pytest.mark.parametrize("network", ["bike", "van"])
async def test_the_graph_in_memory_answers_pgrouting_s_distances_to_the_metre(
    session: AsyncSession, network: str
) -> None:
    deadline = StatementDeadline(session, 120)
    # Forty places over the region, two of them on the same spot: the same vertex twice.
    points = _points(39, seed=28)
    points.append(points[3])
    vertices = await nearest_vertices(deadline, network, points)
    assert len(set(vertices)) >= 35
    graph = await RoadGraphs().graph(deadline, network)

    in_memory = graph.distances_m(vertices)
    by_pgrouting = await pgrouting_distances_m(deadline, network, vertices)

    # The network is its largest strongly connected part: every place reaches every other.
    assert np.isfinite(by_pgrouting).all() and np.isfinite(in_memory).all()
    assert np.abs(in_memory - by_pgrouting).max() < 1e-6
    assert (matrices_at(in_memory, 15).distance == matrices_at(by_pgrouting, 15).distance).all()
    # Streets, not a straight line: one-way streets make some trips longer one way.
    assert in_memory.max() > 5_000 and (in_memory != in_memory.T).any()
    assert (np.diag(in_memory) == 0).all() and in_memory[3, 39] == 0


async def test_one_distance_matrix_per_network_gives_each_profile_its_times(
    session: AsyncSession,
) -> None:
    deadline = StatementDeadline(session, 120)
    points = _points(12, seed=7)
    profiles = [Profile("bike@12.0", 12), Profile("bike@18.0", 18), Profile("van@22.0", 22)]
    matrices, snapped = await road_matrices(deadline, points, profiles, 1024, RoadGraphs())

    slow, fast, van = (matrices[p.name] for p in profiles)
    assert (slow.distance == fast.distance).all() and snapped["bike@12.0"] == snapped["bike@18.0"]
    assert (slow.duration == np.ceil(slow.distance / (12 / 3.6))).all()
    assert (fast.duration == np.ceil(fast.distance / (18 / 3.6))).all()
    by_pgrouting = await pgrouting_distances_m(deadline, "van", snapped["van@22.0"])
    assert (van.distance == np.rint(by_pgrouting)).all()
    # The networks differ: bikes take no motorway, vans no footway.
    assert (van.distance != slow.distance).any()


async def test_the_places_split_over_two_processes_get_the_same_matrices(
    session: AsyncSession,
) -> None:
    deadline = StatementDeadline(session, 120)
    points = _points(25, seed=11)
    profiles = [Profile("bike@15.0", 15), Profile("van@22.0", 22)]
    graphs = RoadGraphs()
    alone, snapped = await road_matrices(deadline, points, profiles, 1024, graphs)
    split, split_snapped = await road_matrices(deadline, points, profiles, 1024, graphs, 2)

    assert split_snapped == snapped
    for profile in profiles:
        assert (split[profile.name].distance == alone[profile.name].distance).all()
        assert (split[profile.name].duration == alone[profile.name].duration).all()


async def test_a_graph_is_read_again_when_its_network_changes(session: AsyncSession) -> None:
    deadline = StatementDeadline(session, 120)
    graphs = RoadGraphs()
    first = await graphs.graph(deadline, "van")
    assert await graphs.graph(deadline, "van") is first

    # An edit of the table (rolled back with the session's transaction): the graph follows.
    await session.execute(
        text("DELETE FROM roads.edges_van WHERE id = (SELECT max(id) FROM roads.edges_van)")
    )
    edited = await graphs.graph(deadline, "van")
    assert edited is not first
    assert edited.graph.nnz < first.graph.nnz


def test_the_shortest_of_parallel_edges_counts_and_a_negative_cost_is_no_way() -> None:
    # 1 -> 2 twice (5 m and 3 m), 2 -> 3 one way only, 3 -> 1 both ways.
    graph = RoadGraph.from_edges(
        sources=[1, 1, 2, 3],
        targets=[2, 2, 3, 1],
        costs=[5, 3, 4, 10],
        reverse_costs=[5, 3, -1, 10],
    )
    distances = graph.distances_m([1, 2, 3, 99])
    assert distances[0].tolist() == [0, 3, 7, np.inf]
    assert distances[2].tolist() == [10, 13, 0, np.inf]
    assert distances[1].tolist() == [3, 0, 4, np.inf]
    assert distances[3].tolist() == [np.inf, np.inf, np.inf, 0]


def test_the_network_cut_down_to_the_places_changes_no_distance() -> None:
    """The Dijkstra searches the network without the dead ends and the small junctions that
    none of the places is on (`app.roads.contraction`): the same distances as the whole
    network, for places anywhere on it, one-way streets included."""
    rng = np.random.default_rng(5)
    side, edges = 12, []
    # Junctions on a grid, each street cut into one to three pieces (a chain), some one way.
    next_vertex = side * side
    for a in range(side * side):
        for b in (a + 1, a + side):
            if (b == a + 1 and b % side == 0) or b >= side * side:
                continue
            chain = [a, *range(next_vertex, next_vertex + int(rng.integers(0, 3))), b]
            next_vertex += len(chain) - 2
            one_way = rng.random() < 0.3
            for tail, head in itertools.pairwise(chain):
                length = float(rng.uniform(10, 200))
                edges.append((tail, head, length, -1.0 if one_way else length))
    # Dead ends of one to four pieces, from anywhere (some from another dead end).
    for _ in range(40):
        at = int(rng.integers(0, next_vertex))
        for _ in range(int(rng.integers(1, 5))):
            length = float(rng.uniform(10, 200))
            edges.append((at, next_vertex, length, length))
            at, next_vertex = next_vertex, next_vertex + 1
    sources, targets, costs, reverse_costs = zip(*edges, strict=True)
    graph = RoadGraph.from_edges(sources, targets, costs, reverse_costs)
    places = rng.choice(next_vertex, 30, replace=False).tolist()

    distances = graph.distances_m(places)

    at = np.searchsorted(graph.vertices, places)
    whole = dijkstra(graph.graph, directed=True, indices=at)[:, at]
    assert np.isfinite(whole).any() and (whole > 0).sum() > 800
    assert np.array_equal(np.isinf(distances), np.isinf(whole))
    finite = np.isfinite(whole)
    assert np.abs(distances[finite] - whole[finite]).max() < 1e-9
