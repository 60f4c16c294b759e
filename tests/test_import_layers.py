"""The code's layers point one way: read from the source's imports, not from a list kept by
hand, so a new import that closes a cycle fails here.

A package is `app.<name>` (a module directly under app/ counts as a package of its own), or
one of the engines (`matching`, `logistics`)."""

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("app", "matching", "logistics", "demo", "bench")


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "app" and len(parts) > 1 else parts[0]


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _module_of(path: Path) -> str:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return module.removesuffix(".__init__")


def _import_graph(top: tuple[str, ...]) -> dict[str, dict[str, set[str]]]:
    """package -> imported package -> the modules that import it."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for folder in top:
        for path in sorted((ROOT / folder).rglob("*.py")):
            module = _module_of(path)
            for imported in _imports(path):
                if imported.split(".")[0] not in OURS:
                    continue
                source, target = _package(module), _package(imported)
                if source != target:
                    graph[source][target].add(module)
    return graph


def _cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


GRAPH = _import_graph(("app", "matching", "logistics"))


def test_no_cycle_between_packages() -> None:
    cycles = _cycles(GRAPH)
    described = [
        " -> ".join(cycle)
        + ": "
        + "; ".join(
            f"{source} imports {target} in {', '.join(sorted(GRAPH[source][target]))}"
            for source in cycle
            for target in cycle
            if target in GRAPH[source]
        )
        for cycle in cycles
    ]
    assert not cycles, "\n".join(described)


def test_the_kit_imports_nothing_of_the_app_above_it() -> None:
    above = {
        target: sorted(modules)
        for target, modules in GRAPH["app.kit"].items()
        if target.startswith("app.")
    }
    assert not above, above


@pytest.mark.parametrize("engine", ["matching", "logistics"])
def test_the_engines_take_plain_data(engine: str) -> None:
    """The engines know nothing of the app, its database or its web framework."""
    forbidden = ("app", "sqlalchemy", "geoalchemy2", "fastapi", "asyncpg", "procrastinate")
    found = {
        f"{_module_of(path)} imports {name}"
        for path in (ROOT / engine).rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in forbidden
    }
    assert not found, sorted(found)


def test_the_app_runs_without_the_demo_and_the_benchmarks() -> None:
    leaks = {
        target: sorted(modules)
        for source, targets in GRAPH.items()
        for target, modules in targets.items()
        if target in ("demo", "bench", "tests")
    }
    assert not leaks, leaks


def test_the_graph_is_read() -> None:
    """The rules above hold of a graph that has the app's packages in it."""
    assert {"app.kit", "app.matches", "app.hubs", "app.listings"} <= set(GRAPH)
