"""An attacker's audit of one published month, written apart from app/stats/suppression.py so
that it checks it rather than repeats it. From the cells alone (the value of each shown one,
None for each hidden one, a cell not there being 0), it writes every equation a reader knows:
each total of the table of communes x materials is the sum of its parts, along each dimension,
and the exact relations between the figures of one cell. A hidden cell is disclosed when its
unit vector lies in the row space of those equations restricted to the hidden cells: adding it
does not raise the rank."""

from collections.abc import Mapping, Sequence

import numpy as np

# (figure, commune level, commune, material level, material), as stats.published_cells.
CellKey = tuple[str, str, str | None, str, str | None]
Equation = dict[CellKey, float]


def _chapter(material: str | None) -> str | None:
    return material[:2] if material is not None else None


def equations(
    cells: Mapping[CellKey, float | None], relations: Sequence[Mapping[str, float]] = ()
) -> list[Equation]:
    figures = {k[0] for k in cells}
    communes = {k[2] for k in cells if k[1] == "commune"}
    subchapters = {k[4] for k in cells if k[3] == "subchapter"}
    chapters = {k[4] for k in cells if k[3] == "chapter"} | {_chapter(s) for s in subchapters}
    commune_nodes = [("commune", c) for c in communes] + [("all", None)]
    material_nodes = (
        [("subchapter", s) for s in subchapters]
        + [("chapter", c) for c in chapters]
        + [("all", None)]
    )
    found: list[Equation] = []
    for f in figures:
        for cl, c in commune_nodes:
            for chapter in chapters:
                parts = [s for s in subchapters if _chapter(s) == chapter]
                found.append(
                    {(f, cl, c, "chapter", chapter): 1.0}
                    | {(f, cl, c, "subchapter", s): -1.0 for s in parts}
                )
            found.append(
                {(f, cl, c, "all", None): 1.0}
                | {(f, cl, c, "chapter", chapter): -1.0 for chapter in chapters}
            )
        for ml, m in material_nodes:
            found.append(
                {(f, "all", None, ml, m): 1.0} | {(f, "commune", c, ml, m): -1.0 for c in communes}
            )
    places = {k[1:] for k in cells}
    for relation in relations:
        for place in places:
            found.append({(f, *place): coefficient for f, coefficient in relation.items()})
    return found


def disclosed(
    cells: Mapping[CellKey, float | None], relations: Sequence[Mapping[str, float]] = ()
) -> list[CellKey]:
    """The hidden cells that the shown ones give exactly."""
    hidden = sorted((k for k, v in cells.items() if v is None), key=repr)
    if not hidden:
        return []
    column = {key: j for j, key in enumerate(hidden)}
    rows = []
    for equation in equations(cells, relations):
        row = np.zeros(len(hidden))
        for key, coefficient in equation.items():
            if key in column:
                row[column[key]] = coefficient
        if row.any():
            rows.append(row)
    if not rows:
        return []
    system = np.array(rows)
    rank = np.linalg.matrix_rank(system)
    return [
        key
        for key, j in column.items()
        if np.linalg.matrix_rank(np.vstack([system, np.eye(len(hidden))[j]])) == rank
    ]


def additivity_errors(
    cells: Mapping[CellKey, float | None],
    relations: Sequence[Mapping[str, float]] = (),
    tolerance: float = 0.0015,
) -> list[Equation]:
    """The equations whose cells are all shown and that do not hold (within the rounding of
    each figure to 3 decimals)."""
    wrong = []
    for equation in equations(cells, relations):
        values = [(cells.get(k, 0.0), c) for k, c in equation.items()]
        if all(v is not None for v, _ in values):
            total = sum(float(v) * c for v, c in values if v is not None)
            if abs(total) > tolerance * len(values):
                wrong.append(equation)
    return wrong
