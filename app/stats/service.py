"""The Region's statistics: the published cells of the months asked for (published on the way
if they are not yet), laid out one per value of the dimensions grouped by, with the figures
hidden there named, written as JSON, CSV or GeoJSON; an answer written once is kept (`kept`)
and sent again while its months and the reference data are as it was written from."""

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.kit.geo import GEOJSON_MEDIA_TYPE
from app.kit.local_time import brussels_today
from app.kit.principal import Principal
from app.kit.problems import ValidationFailed
from app.stats.formats import CSV_MEDIA_TYPE, stats_csv, stats_geojson
from app.stats.kept import Answer, KeptAnswers
from app.stats.months import month_text, months_from, published_range
from app.stats.publication import publish_months
from app.stats.repository import (
    ROUTE_KM,
    commune_names,
    material_titles,
    outline_geometries,
    publication_state,
    publication_state_alone,
    stored_cells,
)
from app.stats.schemas import (
    CO2_MEASURES,
    MAX_SHARE_PCT,
    MIN_ORGANIZATIONS,
    TONNE_MEASURES,
    CommuneOutline,
    Dimension,
    FlowCell,
    FlowStats,
    MaterialLevel,
    StatsFormat,
)
from app.stats.suppression import ALL, COMMUNE

STATS_ROLES = ("admin", "observer")


def parse_group_by(raw: str) -> list[Dimension]:
    """`material,commune,month` or any part of it, each once; `month` is always grouped by,
    first unless placed elsewhere."""
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
    dimensions = [Dimension(name) for name in names]
    return dimensions if Dimension.month in dimensions else [Dimension.month, *dimensions]


def _empty_cell(month: str, commune: str | None, material: str | None) -> dict[str, Any]:
    return {
        Dimension.month.value: month,
        Dimension.commune.value: commune,
        Dimension.material.value: material,
        **dict.fromkeys((*TONNE_MEASURES, *CO2_MEASURES), 0.0),
        ROUTE_KM: {},
        "suppressed": [],
    }


def _sort_key(cell: dict[str, Any], fields: list[str]) -> tuple[tuple[bool, str], ...]:
    return tuple((cell[f] is None, cell[f] or "") for f in fields)


async def flow_answer(
    session: AsyncSession,
    engine: AsyncEngine,
    principal: Principal,
    group_by: list[Dimension],
    level: MaterialLevel,
    since: str | None,
    until: str | None,
    answer_format: StatsFormat,
    kept: KeptAnswers,
) -> Answer:
    """The answer written in `answer_format`: the one kept when its months have not been
    published again since, nor the reference data loaded again, else written anew (and the
    months not yet published, published first)."""
    principal.require_role(*STATS_ROLES)
    first, last = published_range(since, until, brussels_today())
    months = months_from(first, last)
    question = (tuple(group_by), level, first, last, answer_format)
    # Before the state: a publication heard after this leaves the answer to be checked again.
    generation = kept.generation
    answer = kept.unchanged(question)
    if answer is not None:
        return answer
    # Read before the cells: an answer is kept under the state it was read after, so that a
    # month published again meanwhile leaves it no older than that state says.
    state = await publication_state_alone(engine, first, last)
    if state.covers(months):
        answer = kept.get(question, state, generation)
        if answer is not None:
            return answer
    else:
        await publish_months(session, months)
        state = await publication_state(session, first, last)
    stats = await _flow_stats(session, group_by, level, first, last)
    answer = await _written(session, stats, answer_format)
    if state.covers(months):
        kept.keep(question, state, answer, generation)
    return answer


async def _written(session: AsyncSession, stats: FlowStats, answer_format: StatsFormat) -> Answer:
    if answer_format is StatsFormat.csv:
        return Answer(stats_csv(stats).encode(), f"{CSV_MEDIA_TYPE}; charset=utf-8")
    if answer_format is StatsFormat.geojson:
        outlines = await commune_outlines(session)
        return Answer(stats_geojson(stats, outlines).encode(), GEOJSON_MEDIA_TYPE)
    return Answer(stats.model_dump_json().encode(), "application/json")


async def _flow_stats(
    session: AsyncSession,
    group_by: list[Dimension],
    level: MaterialLevel,
    first: date,
    last: date,
) -> FlowStats:
    """The cells of these months, all published."""
    months = months_from(first, last)
    by_commune = Dimension.commune in group_by
    by_material = Dimension.material in group_by
    stored = await stored_cells(
        session,
        first,
        last,
        COMMUNE if by_commune else ALL,
        level.value if by_material else ALL,
    )
    names = await commune_names(session) if by_commune else {}
    cells: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
    if not by_material:
        # Every month, and grouped by commune every commune: a series or a choropleth with
        # no holes.
        for month in map(month_text, months):
            for commune in names if by_commune else [None]:
                cells[(month, commune, None)] = _empty_cell(month, commune, None)
    for figure in stored:
        key = (figure.month, figure.commune, figure.material)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = _empty_cell(*key)
        if figure.measure == ROUTE_KM:
            name = f"{ROUTE_KM}.{figure.vehicle_type}"
            cell[ROUTE_KM][figure.vehicle_type] = figure.value
        else:
            name = figure.measure
            cell[figure.measure] = figure.value
        if figure.value is None:
            cell["suppressed"].append(name)
    titles = await material_titles(session) if by_material else {}
    fields = [d.value for d in group_by]
    ordered = sorted(cells.values(), key=lambda cell: _sort_key(cell, fields))
    for cell in ordered:
        cell["material_title"] = titles.get(cell["material"]) if cell["material"] else None
        cell["commune_name"] = names.get(cell["commune"]) if cell["commune"] else None
        cell["suppressed"].sort()
    return FlowStats(
        group_by=group_by,
        material_level=level,
        since=month_text(first),
        until=month_text(last),
        min_organizations=MIN_ORGANIZATIONS,
        max_share_pct=MAX_SHARE_PCT,
        suppressed_figures=sum(len(cell["suppressed"]) for cell in ordered),
        cells=[FlowCell.model_validate(cell) for cell in ordered],
    )


async def commune_outlines(session: AsyncSession) -> dict[str, CommuneOutline]:
    """Each commune's outline, read and checked once for all the cells placed on it."""
    return {
        code: CommuneOutline.model_validate(geometry)
        for code, geometry in (await outline_geometries(session)).items()
    }
