"""The statistics as CSV (one row a cell, a column a figure) and as GeoJSON (one commune's
polygon a cell, carrying its figures: a choropleth in QGIS as it is)."""

import csv
import io

from app.fleet.schemas import VehicleType
from app.stats.schemas import (
    CO2_MEASURES,
    TONNE_MEASURES,
    VEHICLE_TYPES,
    CommuneOutline,
    Dimension,
    FlowCell,
    FlowCellTonnes,
    FlowFeature,
    FlowFeatureCollection,
    FlowStats,
)

CSV_MEDIA_TYPE = "text/csv"
FIGURE_COLUMNS = (
    *TONNE_MEASURES,
    *(f"route_km_{vehicle_type}" for vehicle_type in VEHICLE_TYPES),
    *CO2_MEASURES,
)
_LABELS = {
    Dimension.material: ("material", "material_title"),
    Dimension.commune: ("commune", "commune_name"),
    Dimension.month: ("month",),
}


def _figure(cell: FlowCell, column: str) -> float | None:
    if column.startswith("route_km_"):
        return cell.route_km.get(VehicleType(column.removeprefix("route_km_")), 0.0)
    value: float | None = getattr(cell, column)
    return value


def stats_csv(stats: FlowStats) -> str:
    """A hidden figure is an empty field, and the `suppressed` column names it."""
    labels = [label for d in stats.group_by for label in _LABELS[d]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*labels, *FIGURE_COLUMNS, "suppressed"])
    for cell in stats.cells:
        figures = [_figure(cell, column) for column in FIGURE_COLUMNS]
        writer.writerow(
            [
                *(getattr(cell, label) for label in labels),
                *("" if figure is None else figure for figure in figures),
                ";".join(cell.suppressed),
            ]
        )
    return out.getvalue()


def stats_geojson(stats: FlowStats, outlines: dict[str, CommuneOutline]) -> str:
    """The cells placed in a commune, each on its polygon, as JSON text (written by pydantic:
    a year by commune is some 30,000 positions). Route plans cross communes and have no place
    here (they are in the JSON and the CSV), nor have places outside the communes."""
    features = [
        FlowFeature(
            id="/".join(str(getattr(cell, d.value)) for d in stats.group_by),
            geometry=outlines[cell.commune],
            properties=FlowCellTonnes.model_validate(
                cell.model_dump(include=set(FlowCellTonnes.model_fields))
            ),
        )
        for cell in stats.cells
        if cell.commune in outlines
    ]
    collection = FlowFeatureCollection(
        features=features,
        min_organizations=stats.min_organizations,
        max_share_pct=stats.max_share_pct,
        attribution="Commune boundaries © OpenStreetMap contributors (ODbL)",
    )
    return collection.model_dump_json()
