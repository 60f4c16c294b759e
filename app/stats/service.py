"""The Region's statistics: the figures of `repository.figure_sums` laid out in cells, one per
value of the dimensions grouped by, with the figures hidden there named."""

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Principal
from app.errors import ValidationFailed
from app.stats.repository import communes, figure_sums, material_titles
from app.stats.schemas import (
    CO2_MEASURES,
    MIN_ORGANIZATIONS,
    TONNE_MEASURES,
    Dimension,
    FlowCell,
    FlowStats,
    MaterialLevel,
)

STATS_ROLES = ("admin", "observer")
ROUTE_KM = "route_km"


def parse_group_by(raw: str) -> list[Dimension]:
    """`material,commune,month` or any part of it, each once; empty for the Region's totals."""
    names = [name.strip() for name in raw.split(",") if name.strip()]
    known = {d.value for d in Dimension}
    unknown = [name for name in names if name not in known]
    if unknown or len(set(names)) != len(names):
        raise ValidationFailed.field(
            "group_by",
            "known_dimensions",
            f"group_by takes material, commune and month, each at most once, separated by "
            f"commas; {', '.join(unknown) or 'a dimension twice'} is not one of them.",
            "query",
        )
    return [Dimension(name) for name in names]


def _empty_cell(keys: dict[Dimension, str | None]) -> dict[str, Any]:
    return {
        **{d.value: keys.get(d) for d in Dimension},
        **dict.fromkeys((*TONNE_MEASURES, *CO2_MEASURES), 0.0),
        ROUTE_KM: {},
        "suppressed": [],
    }


def _sort_key(cell: dict[str, Any], group_by: list[Dimension]) -> tuple[tuple[bool, str], ...]:
    return tuple((cell[d.value] is None, cell[d.value] or "") for d in group_by)


async def flow_stats(
    session: AsyncSession,
    principal: Principal,
    group_by: list[Dimension],
    level: MaterialLevel,
    since: date | None,
    until: date | None,
) -> FlowStats:
    principal.require_role(*STATS_ROLES)
    if since is not None and until is not None and until < since:
        raise ValidationFailed.field(
            "to",
            "not_before_from",
            "`to` is the last day counted: it cannot come before `from`.",
            "query",
        )
    cells: dict[tuple[str | None, ...], dict[str, Any]] = {}
    for figure in await figure_sums(session, group_by, level, since, until):
        key = tuple(figure.keys[d] for d in group_by)
        cell = cells.setdefault(key, _empty_cell(figure.keys))
        if figure.measure == ROUTE_KM:
            name = f"{ROUTE_KM}.{figure.vehicle_type}"
            cell[ROUTE_KM][figure.vehicle_type] = figure.shown
        else:
            name = figure.measure
            cell[figure.measure] = figure.shown
        if figure.shown is None:
            cell["suppressed"].append(name)
    titles = await material_titles(session, level) if Dimension.material in group_by else {}
    outlines = await communes(session) if Dimension.commune in group_by else {}
    if group_by == [Dimension.commune]:
        # Every commune, so that a choropleth has no holes.
        for code in outlines:
            cells.setdefault((code,), _empty_cell({Dimension.commune: code}))
    ordered = sorted(cells.values(), key=lambda cell: _sort_key(cell, group_by))
    for cell in ordered:
        cell["material_title"] = titles.get(cell["material"]) if cell["material"] else None
        commune = outlines.get(cell["commune"]) if cell["commune"] else None
        cell["commune_name"] = commune[0] if commune else None
        cell["suppressed"].sort()
    return FlowStats(
        group_by=group_by,
        material_level=level,
        since=since,
        until=until,
        min_organizations=MIN_ORGANIZATIONS,
        suppressed_figures=sum(len(cell["suppressed"]) for cell in ordered),
        cells=[FlowCell.model_validate(cell) for cell in ordered],
    )


async def commune_outlines(session: AsyncSession) -> dict[str, dict[str, Any]]:
    return {code: geometry for code, (_, geometry) in (await communes(session)).items()}
