"""The additive table of one figure as a graph, for the secondary suppression.

Each equation of the table (a total less its parts) is a node and each cell an edge between
the two equations it is in, once the equations that the others imply are set aside (the sum of
the communes at a chapter follows from the sums at its sub-chapters); the commune level and the
Region's side of the material hierarchy take their equations with the sign turned, so that
every cell is +1 at one end and -1 at the other. The incidence matrix of the graph then spans
the same row space as all the equations, and its kernel restricted to the hidden cells is the
cycle space of the hidden edges: a hidden cell can be computed from the shown ones exactly when
it lies on no cycle of hidden edges, when it is a bridge of the hidden subgraph. Hiding the
shown cells of a path between its two ends puts it on a cycle.

Nodes, for a commune level `k` (a commune, no commune, or the Region):
  (k, "chapter", c)   the cells of chapter c at k are the sum of its sub-chapters at k
  (k, "all")          the total of all materials at k is the sum of its chapters at k
  ("leaf", s)         the Region's cell of sub-chapter s is the sum of the communes' cells
  ("ground",)         the Region's total of all materials is the sum of the communes' totals"""

import heapq
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import TypeVar

Node = tuple[Hashable, ...]
Edge = TypeVar("Edge", bound=Hashable)


def ends(
    commune_level: str, commune: str | None, material_level: str, material: str | None
) -> tuple[Node, Node]:
    """The two equations a cell is in."""
    at = (commune_level, commune)
    if material_level == "subchapter":
        chapter = material[:2] if material is not None else None
        return (at, "chapter", chapter), ("leaf", material)
    if material_level == "chapter":
        return (at, "chapter", material), (at, "all")
    return (at, "all"), ("ground",)


def _adjacency(edges: Mapping[Edge, tuple[Node, Node]]) -> dict[Node, list[tuple[Node, Edge]]]:
    adjacency: dict[Node, list[tuple[Node, Edge]]] = defaultdict(list)
    for edge, (u, v) in edges.items():
        adjacency[u].append((v, edge))
        adjacency[v].append((u, edge))
    return adjacency


def bridges(edges: Mapping[Edge, tuple[Node, Node]]) -> set[Edge]:
    """The edges on no cycle (Tarjan's low links, iteratively; two edges between the same
    nodes make a cycle)."""
    adjacency = _adjacency(edges)
    order: dict[Node, int] = {}
    low: dict[Node, int] = {}
    found: set[Edge] = set()
    for start in adjacency:
        if start in order:
            continue
        order[start] = low[start] = len(order)
        stack: list[tuple[Node, Edge | None, Iterator[tuple[Node, Edge]]]] = [
            (start, None, iter(adjacency[start]))
        ]
        while stack:
            node, via, neighbours = stack[-1]
            for neighbour, edge in neighbours:
                if edge == via:
                    continue
                if neighbour in order:
                    low[node] = min(low[node], order[neighbour])
                else:
                    order[neighbour] = low[neighbour] = len(order)
                    stack.append((neighbour, edge, iter(adjacency[neighbour])))
                    break
            else:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > order[parent]:
                        assert via is not None
                        found.add(via)
    return found


Cost = tuple[float, ...]


def cheapest_path(
    edges: Mapping[Edge, tuple[Node, Node]],
    start: Node,
    goal: Node,
    cost: Callable[[Edge], Cost],
    avoid: Edge,
) -> list[Edge] | None:
    """The edges of the cheapest path from `start` to `goal` that does not take `avoid`, a
    path's cost being the sum, figure by figure, of its edges' costs (Dijkstra); None when
    there is none."""
    adjacency = _adjacency({e: ends for e, ends in edges.items() if e != avoid})
    zero: Cost = tuple(0.0 for _ in cost(avoid))
    best: dict[Node, Cost] = {start: zero}
    came: dict[Node, tuple[Node, Edge]] = {}
    queue: list[tuple[Cost, int, Node]] = [(zero, 0, start)]
    pushed = 1
    while queue:
        spent, _, node = heapq.heappop(queue)
        if node == goal:
            path = []
            while node != start:
                node, edge = came[node]
                path.append(edge)
            return path
        if spent > best[node]:
            continue
        for neighbour, edge in adjacency[node]:
            total = tuple(a + b for a, b in zip(spent, cost(edge), strict=True))
            if neighbour not in best or total < best[neighbour]:
                best[neighbour] = total
                came[neighbour] = (node, edge)
                heapq.heappush(queue, (total, pushed, neighbour))
                pushed += 1
    return None
