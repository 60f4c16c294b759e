"""Which figures of one month may be published: decided once for the whole linked table of
the month, from the organizations' contributions, with no SQL (plain data in, plain data out).

The table of a figure (`offered_t`, `route_km.van`, ...) holds every cell of communes crossed
with materials: each commune, the cell of no commune and the Region's total, crossed with each
EWC sub-chapter (or chapter, for a request that names no sub-chapter), each chapter, the cell
of no material and the total of all materials. A total is the sum of its parts along each
dimension, and every grouping the API offers, and the open data, read their cells from it.

Primary suppression hides a cell that fewer than `min_organizations` organizations contribute
a non-zero amount to, or to which one of them contributes more than `max_share` of the
absolute amounts (figures such as a CO2e saving may be negative). A flow of two organizations
(a match) carries its amount on both sides: the owner's side is counted, and the other side
must pass the rule too, so that neither the seller's nor the buyer's volumes show.

Secondary suppression then hides more cells until no hidden cell can be computed from the
shown ones. Written out, the equations of the table (each total less its parts, and the exact
relations between the figures of one cell) restricted to the hidden cells make a system, and
a hidden cell can be computed exactly when its unit vector lies in the system's row space. For
the figures no relation ties to another, the system is a graph's (see `table_graph`) and that
test is whether the cell is a bridge of the hidden cells; the cheapest path of shown cells
between its two ends, hidden too, protects it: the smallest non-zero figures first, finer cells
before totals. The figures tied by relations (the CO2e of route plans and their km, a few
cells each) take numpy's rank test, and the cheapest shown cell whose hiding protects the
cell. A cell no organization contributes to is a true 0: shown as 0, it is no unknown."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

import numpy as np

from app.stats import table_graph

ALL = "all"
COMMUNE = "commune"
CHAPTER = "chapter"
SUBCHAPTER = "subchapter"
PUBLISHED_DECIMALS = Decimal("0.001")
# A null-space vector's entry this small is 0: the entries are those of orthonormal vectors,
# far larger than this wherever a hidden cell is free.
_FREE = 1e-9
_MATERIAL_DEPTH = {SUBCHAPTER: 0, CHAPTER: 1, ALL: 2}


class Why(StrEnum):
    primary = "primary"
    secondary = "secondary"


@dataclass(frozen=True)
class Place:
    """Where a cell is in the table, whatever its figure. `commune` is a NIS code, or None for
    no commune (and at the level `all`); `material` is a sub-chapter (4 digits) or, at the
    level `subchapter`, the chapter of a request that names no sub-chapter; a chapter at the
    level `chapter`; None for no material (and at the level `all`)."""

    commune_level: str
    commune: str | None
    material_level: str
    material: str | None


Key = tuple[str, Place]


@dataclass(frozen=True)
class Contribution:
    """One organization's amount of a figure in one commune and finest material."""

    figure: str
    commune: str | None
    material: str | None
    organization: str
    amount: Decimal
    # False for the other side of a two-sided flow (a match's buyer): the same amount as
    # the counted side, checked by the rule but not added twice.
    counted: bool = True


@dataclass(frozen=True)
class Rule:
    min_organizations: int
    max_share: Decimal
    # Figures of one place hidden together when one of them is.
    hidden_together: tuple[frozenset[str], ...] = ()
    # Exact relations between the figures of one place: sum(coefficient * figure) = 0.
    relations: tuple[Mapping[str, float], ...] = ()


@dataclass(frozen=True)
class PublishedCell:
    figure: str
    place: Place
    value: Decimal | None
    suppressed: Why | None


@dataclass
class _Cell:
    value: Decimal
    suppressed: Why | None = None


Cells = dict[Key, _Cell]


def place_sort_key(place: Place) -> tuple[object, ...]:
    return (
        place.commune_level != COMMUNE,
        place.commune is None,
        place.commune or "",
        _MATERIAL_DEPTH[place.material_level],
        place.material is None,
        place.material or "",
    )


def _key_order(key: Key) -> tuple[object, ...]:
    return (key[0], place_sort_key(key[1]))


def _cost(cell: _Cell, key: Key) -> tuple[float, float, float]:
    """What hiding a shown cell loses: a 0 last, else the smallest figure first, a finer
    cell before a total."""
    depth = (key[1].commune_level == ALL) + _MATERIAL_DEPTH[key[1].material_level]
    return (float(cell.value == 0), float(abs(cell.value)), float(depth))


def _hidden(cells: Cells) -> int:
    return sum(1 for cell in cells.values() if cell.suppressed)


# Primary suppression


def _places(commune: str | None, material: str | None) -> list[Place]:
    """The cells a contribution of this commune and finest material adds to."""
    chapter = material[:2] if material is not None else None
    materials = [(SUBCHAPTER, material), (CHAPTER, chapter), (ALL, None)]
    communes = [(COMMUNE, commune), (ALL, None)]
    return [Place(cl, c, ml, m) for cl, c in communes for ml, m in materials]


def _passes(amounts: Iterable[Decimal], rule: Rule) -> bool:
    sizes = [abs(a) for a in amounts if a != 0]
    return len(sizes) >= rule.min_organizations and max(sizes) <= rule.max_share * sum(sizes)


def _primary(contributions: Iterable[Contribution], rule: Rule) -> Cells:
    counted: dict[Key, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    other: dict[Key, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    # The keys of the cells of each figure, commune and material, made once: a month's
    # thousands of contributions add to some hundreds of cells.
    keys: dict[tuple[str, str | None, str | None], list[Key]] = {}
    for c in contributions:
        sums = counted if c.counted else other
        at = (c.figure, c.commune, c.material)
        cells_of = keys.get(at)
        if cells_of is None:
            cells_of = keys[at] = [(c.figure, place) for place in _places(c.commune, c.material)]
        for key in cells_of:
            sums[key][c.organization] += c.amount
    cells = {}
    for key, amounts in counted.items():
        if not any(amounts.values()):
            continue  # a true 0: nobody contributes anything
        shown = _passes(amounts.values(), rule) and (
            not any(other[key].values()) or _passes(other[key].values(), rule)
        )
        cells[key] = _Cell(sum(amounts.values(), Decimal(0)), None if shown else Why.primary)
    return cells


def _hide_together(cells: Cells, rule: Rule) -> None:
    for group in rule.hidden_together:
        hidden_places = {p for (f, p), cell in cells.items() if f in group and cell.suppressed}
        for place in hidden_places:
            for figure in group:
                cell = cells.get((figure, place))
                if cell is not None and cell.suppressed is None:
                    cell.suppressed = Why.secondary


# Secondary suppression of a figure that no relation ties to another: a graph's bridges


def _protect_table(figure: str, cells: Cells) -> None:
    edges = {
        key: table_graph.ends(
            key[1].commune_level, key[1].commune, key[1].material_level, key[1].material
        )
        for key in cells
        if key[0] == figure
    }
    while True:
        hidden = {key: ends for key, ends in edges.items() if cells[key].suppressed}
        exposed = min(table_graph.bridges(hidden), key=_key_order, default=None)
        if exposed is None:
            return
        start, goal = edges[exposed]
        path = table_graph.cheapest_path(
            edges,
            start,
            goal,
            lambda key: (0.0, 0.0, 0.0) if cells[key].suppressed else _cost(cells[key], key),
            avoid=exposed,
        )
        # Each organization's amounts satisfy every equation: they circulate on the graph, and
        # the cells of a circulation lie on cycles of their own. So every cell of the table is
        # on a cycle of the table's cells, and a path is always there.
        assert path is not None, exposed
        for key in path:
            if cells[key].suppressed is None:
                cells[key].suppressed = Why.secondary


# Secondary suppression of the figures tied by relations: numpy's rank test


def _equations(cells: Cells, figures: set[str], rule: Rule) -> list[dict[Key, float]]:
    """sum(coefficient * cell) = 0 over the cells of these figures that exist (the others
    are true zeros): each total less its parts along each dimension, and the relations."""
    parts: dict[tuple[Key, str], dict[Key, float]] = defaultdict(dict)
    for key in sorted((k for k in cells if k[0] in figures), key=_key_order):
        figure, p = key
        totals = []
        if p.commune_level == COMMUNE:
            totals.append((Place(ALL, None, p.material_level, p.material), COMMUNE))
        if p.material_level == SUBCHAPTER:
            chapter = p.material[:2] if p.material is not None else None
            totals.append((Place(p.commune_level, p.commune, CHAPTER, chapter), CHAPTER))
        elif p.material_level == CHAPTER:
            totals.append((Place(p.commune_level, p.commune, ALL, None), CHAPTER))
        for total, dimension in totals:
            parts[((figure, total), dimension)][key] = -1.0
    equations = []
    for (total_key, _), terms in parts.items():
        equations.append({**terms, **({total_key: 1.0} if total_key in cells else {})})
    places = sorted({place for figure, place in cells if figure in figures}, key=place_sort_key)
    for relation in rule.relations:
        for place in places:
            terms = {
                (figure, place): coefficient
                for figure, coefficient in relation.items()
                if coefficient and (figure, place) in cells
            }
            if terms:
                equations.append(terms)
    return equations


def _determined(matrix: np.ndarray) -> list[int]:
    """The columns whose unknowns the system `matrix @ x = known` fixes: those where every
    vector of the null space is 0."""
    _, singular, vt = np.linalg.svd(matrix)
    tolerance = singular.max(initial=0.0) * max(matrix.shape) * np.finfo(float).eps
    null_space = vt[int((singular > tolerance).sum()) :]
    free = np.abs(null_space).max(axis=0, initial=0.0) > _FREE
    return [j for j in range(matrix.shape[1]) if not free[j]]


def computable(hidden: set[Key], equations: list[dict[Key, float]]) -> list[Key]:
    """The hidden cells whose unit vector lies in the row space of the equations restricted to
    the hidden cells: those the shown cells fix."""
    columns = sorted(hidden, key=_key_order)
    position = {key: j for j, key in enumerate(columns)}
    rows = [terms for terms in equations if any(k in position for k in terms)]
    if not rows:
        return []
    matrix = np.zeros((len(rows), len(columns)))
    for r, terms in enumerate(rows):
        for key, coefficient in terms.items():
            if key in position:
                matrix[r, position[key]] = coefficient
    return [columns[j] for j in _determined(matrix)]


def _protect_related(cells: Cells, figures: set[str], rule: Rule) -> None:
    """While a hidden cell can be computed, the cheapest shown cell whose hiding protects it
    (else the cheapest of its equations) is hidden too, and the cells hidden together."""
    equations = _equations(cells, figures, rule)
    related = sorted((k for k in cells if k[0] in figures), key=_key_order)

    def hidden(*also: Key) -> set[Key]:
        return {k for k in related if cells[k].suppressed} | set(also)

    while exposed := computable(hidden(), equations):
        key = exposed[0]
        neighbours = {k for terms in equations if key in terms for k in terms}
        shown = sorted(
            (k for k in related if cells[k].suppressed is None),
            key=lambda k: (k not in neighbours, _cost(cells[k], k), _key_order(k)),
        )
        if not shown:
            return
        protecting = (k for k in shown if key not in computable(hidden(k), equations))
        cells[next(protecting, shown[0])].suppressed = Why.secondary
        _hide_together(cells, rule)


def publish(contributions: Iterable[Contribution], rule: Rule) -> list[PublishedCell]:
    """Every cell that an organization contributes to, with its value rounded as published,
    or None and why when it is hidden; the cells left out are true zeros."""
    cells = _primary(contributions, rule)
    related = {figure for relation in rule.relations for figure in relation}
    figures = sorted({figure for figure, _ in cells})
    while True:
        before = _hidden(cells)
        _hide_together(cells, rule)
        for figure in figures:
            if figure not in related:
                _protect_table(figure, cells)
        _protect_related(cells, related, rule)
        if _hidden(cells) == before:
            break
    return [
        PublishedCell(
            figure,
            place,
            None if cell.suppressed else cell.value.quantize(PUBLISHED_DECIMALS, ROUND_HALF_UP),
            cell.suppressed,
        )
        for (figure, place), cell in sorted(cells.items(), key=lambda item: _key_order(item[0]))
    ]
