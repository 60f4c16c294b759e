"""The queries of the statistics: sums over `stats.flow_facts` (the migration that makes it
says what each measure is), each with the number of organizations behind it, and the rule of
`stats.shown` that hides a sum resting on fewer than 3 of them."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.stats.schemas import Dimension, MaterialLevel

# What each dimension groups on; only these strings reach the SQL.
_KEYS = {
    Dimension.commune: "commune",
    Dimension.month: "to_char(day, 'YYYY-MM')",
}
_MATERIAL_KEYS = {
    MaterialLevel.chapter: "left(material, 2)",
    MaterialLevel.subchapter: "left(material, 4)",
}


@dataclass(frozen=True)
class FigureSum:
    keys: dict[Dimension, str | None]
    measure: str
    vehicle_type: str | None
    # None when hidden: fewer than 3 organizations stand behind it.
    shown: float | None


def _key_sql(dimension: Dimension, level: MaterialLevel) -> str:
    return _MATERIAL_KEYS[level] if dimension is Dimension.material else _KEYS[dimension]


async def figure_sums(
    session: AsyncSession,
    group_by: list[Dimension],
    level: MaterialLevel,
    since: date | None,
    until: date | None,
) -> list[FigureSum]:
    keys = [f"{_key_sql(d, level)} AS {d.value}" for d in group_by]
    grouping = ", ".join([*(_key_sql(d, level) for d in group_by), "measure", "vehicle_type"])
    statement = text(
        f"""SELECT {", ".join([*keys, "measure", "vehicle_type"])},
                   stats.shown(sum(value), count(DISTINCT organization_id)) AS shown
              FROM stats.flow_facts
             WHERE (CAST(:since AS date) IS NULL OR day >= :since)
               AND (CAST(:until AS date) IS NULL OR day <= :until)
             GROUP BY {grouping}"""
    )
    rows = (await session.execute(statement, {"since": since, "until": until})).mappings()
    return [
        FigureSum(
            keys={d: row[d.value] for d in group_by},
            measure=row["measure"],
            vehicle_type=row["vehicle_type"],
            shown=None if row["shown"] is None else float(row["shown"]),
        )
        for row in rows
    ]


async def material_titles(session: AsyncSession, level: MaterialLevel) -> dict[str, str]:
    column = "chapter" if level is MaterialLevel.chapter else "subchapter"
    rows = await session.execute(text(f"SELECT DISTINCT {column}, {column}_title FROM materials"))
    return {code: title for code, title in rows.all()}


async def communes(session: AsyncSession) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each commune's name and outline as RFC 7946 wants it: exterior rings counterclockwise,
    coordinates to the 6th decimal (0.1 m)."""
    rows = await session.execute(
        text(
            "SELECT nis_code, name, ST_AsGeoJSON(ST_ForcePolygonCCW(geom), 6)::json "
            "FROM communes ORDER BY nis_code"
        )
    )
    return {code: (name, geometry) for code, name, geometry in rows.all()}
