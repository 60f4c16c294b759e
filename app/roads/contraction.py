"""A road network cut down to what the shortest distances between a plan's vertices need, so
that each Dijkstra from one of them settles fewer vertices: on the Brussels networks 27,813
bike vertices become 8,051 and 22,762 van vertices 5,135, with no more edges, and each
Dijkstra takes a third of the time.

Two cuts leave every distance between the vertices kept as it was:

- a vertex with one neighbour (the end of a dead end) that is not kept: a path through it
  comes back the way it went, so no shortest path needs it;
- a vertex with two to four neighbours that is not kept: a path through it goes from one
  neighbour `a` to another `b`, so an edge `a -> b` at the sum of the two costs (the shorter,
  where `a` already had one to `b`) for each such way replaces it. Beyond four neighbours the
  edges added outnumber those taken out.

Each cut makes others possible (a junction left with fewer neighbours), so they repeat until
none is left. The sums are added in another order than a Dijkstra through the vertices would
add them: the distances differ from pgRouting's by some 1e-11 m."""

import numpy as np
from scipy.sparse import csr_matrix

# The most neighbours a vertex taken out has: more, and the Dijkstra gains no more time.
MOST_NEIGHBOURS = 4


def reduced_graph(graph: csr_matrix, kept: np.ndarray) -> tuple[csr_matrix, np.ndarray]:
    """`graph` (square, directed, non-negative costs) without the vertices that none of the
    shortest paths between `kept` (vertex positions) needs to name; and the position of each
    of `kept` in it."""
    size = graph.shape[0]
    edges = graph.tocoo()
    tails, heads = edges.row.astype(np.int64), edges.col.astype(np.int64)
    costs = edges.data.astype(np.float64)
    loops = tails == heads
    tails, heads, costs = tails[~loops], heads[~loops], costs[~loops]
    removable = np.ones(size, dtype=bool)
    removable[kept] = False
    alive = np.ones(size, dtype=bool)
    # A random order of the vertices picks those to take out at once, no two side by side.
    priority = np.random.default_rng(0).permutation(size)
    while True:
        pairs = np.sort(np.minimum(tails, heads) * size + np.maximum(tails, heads))
        pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]
        one, other = pairs // size, pairs % size
        neighbours = np.bincount(one, minlength=size) + np.bincount(other, minlength=size)
        ends = _dead_ends(one, other, neighbours, removable & alive)
        if ends.any():
            alive &= ~ends
            through = ends[tails] | ends[heads]
            tails, heads, costs = tails[~through], heads[~through], costs[~through]
            continue
        middle = removable & alive & (neighbours >= 2) & (neighbours <= MOST_NEIGHBOURS)
        side_by_side = middle[one] & middle[other]
        chosen = middle.copy()
        chosen[np.where(priority[one] > priority[other], one, other)[side_by_side]] = False
        if not chosen.any():
            break
        alive &= ~chosen
        tails, heads, costs = shortest_of_parallel(*_bypass(tails, heads, costs, chosen))
    position = np.cumsum(alive) - 1
    rows, columns = position[tails], position[heads]
    count = int(alive.sum())
    reduced = csr_matrix((costs, (rows, columns)), shape=(count, count), dtype=np.float64)
    kept_at: np.ndarray = position[kept]
    return reduced, kept_at


def _dead_ends(
    one: np.ndarray, other: np.ndarray, neighbours: np.ndarray, removable: np.ndarray
) -> np.ndarray:
    """The `removable` vertices of the dead ends, given each pair of neighbours once (`one`,
    `other`) and each vertex's count of neighbours: peeled from their ends inwards."""
    size = len(neighbours)
    ends = removable & (neighbours <= 1)
    if not ends.any():
        return ends
    adjacency = csr_matrix(
        (np.ones(2 * len(one), dtype=np.int8), (np.r_[one, other], np.r_[other, one])),
        shape=(size, size),
    )
    left = neighbours.copy()
    peel = np.flatnonzero(ends)
    while len(peel):
        starts, counts = adjacency.indptr[peel], np.diff(adjacency.indptr)[peel]
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        reached = adjacency.indices[np.repeat(starts, counts) + offsets]
        reached = reached[~ends[reached]]
        left -= np.bincount(reached, minlength=size)
        reached = np.unique(reached)
        peel = reached[removable[reached] & (left[reached] <= 1)]
        ends[peel] = True
    return ends


def _bypass(
    tails: np.ndarray, heads: np.ndarray, costs: np.ndarray, chosen: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges without those of the `chosen` vertices (no two side by side), and an edge for
    each way through one of them."""
    into, out_of = chosen[heads], chosen[tails]
    by_vertex = np.argsort(tails[out_of], kind="stable")
    out_vertex = tails[out_of][by_vertex]
    out_head, out_cost = heads[out_of][by_vertex], costs[out_of][by_vertex]
    in_vertex, in_tail, in_cost = heads[into], tails[into], costs[into]
    first = np.searchsorted(out_vertex, in_vertex, side="left")
    count = np.searchsorted(out_vertex, in_vertex, side="right") - first
    new_tails, new_heads, new_costs = [], [], []
    # Each way in paired with each way out, the k-th way out of each vertex at once.
    for k in range(int(count.max(initial=0))):
        has = count > k
        head = out_head[first[has] + k]
        tail = in_tail[has]
        way = tail != head
        new_tails.append(tail[way])
        new_heads.append(head[way])
        new_costs.append((in_cost[has] + out_cost[first[has] + k])[way])
    other = ~(into | out_of)
    return (
        np.concatenate([tails[other], *new_tails]),
        np.concatenate([heads[other], *new_heads]),
        np.concatenate([costs[other], *new_costs]),
    )


def shortest_of_parallel(
    tails: np.ndarray, heads: np.ndarray, costs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One edge per (tail, head), the shortest (scipy would add parallel edges up), in the
    order of (tail, head)."""
    if not len(tails):
        return tails, heads, costs
    keys = tails.astype(np.int64) * (int(max(tails.max(), heads.max())) + 1) + heads
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return tails[order][first], heads[order][first], np.minimum.reduceat(costs[order], first)
