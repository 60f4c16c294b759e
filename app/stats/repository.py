"""The queries of the statistics: each organization's contributions to a month, read from
`stats.flow_facts` (the migrations that make it say what each measure is), and the published
months and their cells in `stats.published_months` and `stats.published_cells`."""

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import run_alone
from app.stats.kept import PublicationState
from app.stats.months import next_month
from app.stats.suppression import Contribution, PublishedCell

ROUTE_KM = "route_km"


def figure_name(measure: str, vehicle_type: str | None) -> str:
    """A figure of the suppression: the measure, or `route_km.<vehicle type>`."""
    return measure if vehicle_type is None else f"{measure}.{vehicle_type}"


def figure_parts(figure: str) -> tuple[str, str | None]:
    measure, _, vehicle_type = figure.partition(".")
    return measure, vehicle_type or None


class StoredCell(NamedTuple):
    """A published cell as the API reads it (a tuple: a year's cells are thousands)."""

    month: str
    measure: str
    vehicle_type: str | None
    commune: str | None
    material: str | None
    value: float | None


async def published_months(session: AsyncSession, first: date, last: date) -> set[date]:
    rows = await session.execute(
        text("SELECT month FROM stats.published_months WHERE month BETWEEN :first AND :last"),
        {"first": first, "last": last},
    )
    return {month for (month,) in rows.all()}


# What an answer over [first, last] is written from: the publication of each published month of
# these, oldest first, and the reference data's edition, read together.
_PUBLICATION_STATE = text(
    """SELECT coalesce(array_agg(month ORDER BY month), '{}') AS months,
              coalesce(array_agg(publication ORDER BY month), '{}') AS publications,
              (SELECT edition FROM stats.reference_edition) AS edition
         FROM stats.published_months
        WHERE month BETWEEN :first AND :last"""
)


def _publication_state(row: Mapping[Any, Any]) -> PublicationState:
    return PublicationState(
        tuple(zip(row["months"], row["publications"], strict=True)), row["edition"]
    )


async def publication_state(session: AsyncSession, first: date, last: date) -> PublicationState:
    """The publication state as the session's transaction sees it (after it published)."""
    parameters = {"first": first, "last": last}
    row = (await session.execute(_PUBLICATION_STATE, parameters)).mappings().one()
    return _publication_state(row)


async def publication_state_alone(engine: AsyncEngine, first: date, last: date) -> PublicationState:
    """The publication state read alone, as a request's first read: on the driver, a third of
    the processor a statement through the session costs, which every read of a kept answer
    pays (`app.db.run_alone`)."""
    [row] = await run_alone(engine, _PUBLICATION_STATE, {"first": first, "last": last})
    return _publication_state(row)


async def claim_month(session: AsyncSession, month: date) -> bool:
    """Marks the month published in the caller's transaction, or answers False when another
    transaction did: a concurrent one waits here until that one commits, then finds it."""
    claimed = await session.execute(
        text(
            "INSERT INTO stats.published_months (month) VALUES (:month) "
            "ON CONFLICT DO NOTHING RETURNING month"
        ),
        {"month": month},
    )
    return claimed.first() is not None


async def month_contributions(session: AsyncSession, month: date) -> list[Contribution]:
    """Each organization's sum of each figure in each commune and finest material (the
    sub-chapter, or the chapter of a request that names none) over the month's days."""
    rows = await session.execute(
        text(
            """SELECT measure, vehicle_type, commune, left(material, 4) AS material,
                      organization_id::text AS organization, counted, sum(value) AS amount
                 FROM stats.flow_facts
                WHERE day >= :first AND day < :next
                GROUP BY measure, vehicle_type, commune, left(material, 4), organization_id,
                         counted"""
        ),
        {"first": month, "next": next_month(month)},
    )
    return [
        Contribution(
            figure=figure_name(row.measure, row.vehicle_type),
            commune=row.commune,
            material=row.material,
            organization=row.organization,
            amount=Decimal(row.amount),
            counted=row.counted,
        )
        for row in rows
        if row.amount is not None
    ]


async def store_cells(session: AsyncSession, month: date, cells: Sequence[PublishedCell]) -> None:
    if not cells:
        return
    rows: list[dict[str, Any]] = []
    for cell in cells:
        measure, vehicle_type = figure_parts(cell.figure)
        rows.append(
            {
                "month": month,
                "measure": measure,
                "vehicle_type": vehicle_type,
                "commune_level": cell.place.commune_level,
                "commune": cell.place.commune,
                "material_level": cell.place.material_level,
                "material": cell.place.material,
                "value": cell.value,
                "suppressed": cell.suppressed.value if cell.suppressed else None,
            }
        )
    await session.execute(
        text(
            """INSERT INTO stats.published_cells
                      (month, measure, vehicle_type, commune_level, commune, material_level,
                       material, value, suppressed)
               VALUES (:month, :measure, :vehicle_type, :commune_level, :commune,
                       :material_level, :material, :value, :suppressed)"""
        ),
        rows,
    )


async def stored_cells(
    session: AsyncSession, first: date, last: date, commune_level: str, material_level: str
) -> list[StoredCell]:
    """The published cells of these months at one level of each dimension."""
    rows = await session.execute(
        text(
            """SELECT to_char(month, 'YYYY-MM') AS month, measure, vehicle_type, commune,
                      material, value::float8 AS value
                 FROM stats.published_cells
                WHERE month BETWEEN :first AND :last
                  AND commune_level = :commune_level AND material_level = :material_level"""
        ),
        {
            "first": first,
            "last": last,
            "commune_level": commune_level,
            "material_level": material_level,
        },
    )
    return [StoredCell(*row) for row in rows]


async def material_titles(session: AsyncSession) -> dict[str, str]:
    """The title of every chapter (2 digits) and sub-chapter (4 digits)."""
    rows = await session.execute(
        text(
            "SELECT DISTINCT chapter, chapter_title FROM materials "
            "UNION SELECT DISTINCT subchapter, subchapter_title FROM materials"
        )
    )
    return {code: title for code, title in rows.all()}


async def commune_names(session: AsyncSession) -> dict[str, str]:
    """Each commune's name, by NIS code, in NIS code order."""
    rows = await session.execute(text("SELECT nis_code, name FROM communes ORDER BY nis_code"))
    return {code: name for code, name in rows.all()}


async def outline_geometries(session: AsyncSession) -> dict[str, dict[str, Any]]:
    """Each commune's outline as RFC 7946 wants it: exterior rings counterclockwise,
    coordinates to the 6th decimal (0.1 m)."""
    rows = await session.execute(
        text(
            "SELECT nis_code, ST_AsGeoJSON(ST_ForcePolygonCCW(geom), 6)::json "
            "FROM communes ORDER BY nis_code"
        )
    )
    return {code: geometry for code, geometry in rows.all()}
