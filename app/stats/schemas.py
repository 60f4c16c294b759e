from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.fleet.schemas import VehicleType
from app.kit.geo import GeoFeature

MIN_ORGANIZATIONS = 3
# No organization may contribute more than this share of a shown figure.
MAX_SHARE_PCT = 85


class Dimension(StrEnum):
    material = "material"
    commune = "commune"
    month = "month"


class MaterialLevel(StrEnum):
    chapter = "chapter"
    subchapter = "subchapter"


class StatsFormat(StrEnum):
    json = "json"
    csv = "csv"
    geojson = "geojson"


# The tonnes of each flow, in the order the answers give them.
TONNE_MEASURES = (
    "offered_t",
    "requested_t",
    "proposed_t",
    "accepted_t",
    "fulfilled_t",
    "yard_intake_t",
    "yard_dispatch_t",
)
CO2_MEASURES = ("plan_co2e_kg", "baseline_co2e_kg", "saving_co2e_kg")
VEHICLE_TYPES = tuple(v.value for v in VehicleType)
_HIDDEN = "null when hidden (see `suppressed`)"
SUPPRESSION_RULE = (
    f"A figure is hidden when fewer than {MIN_ORGANIZATIONS} organizations contribute a "
    f"non-zero amount to it or one of them more than {MAX_SHARE_PCT} % of it (a match counts "
    "on the offer's side, and its buyers must pass the rule too), and also when it could "
    "otherwise be computed from the figures shown: a total less its shown parts, another "
    "grouping of the same month, the open data."
)


class FlowCellTonnes(BaseModel):
    """The tonnes of one cell: one value of each dimension grouped by."""

    material: str | None = Field(
        default=None,
        description="Grouped by material: the EWC chapter (2 digits) or sub-chapter (4 digits); "
        "null for the figures of route plans, which carry mixed loads.",
        examples=["17"],
    )
    material_title: str | None = Field(
        default=None, description="The chapter's or sub-chapter's title."
    )
    commune: str | None = Field(
        default=None,
        description="Grouped by commune: its NIS code (21001-21019); null for route plans, which "
        "cross communes, and for places outside the 19 communes.",
        examples=["21004"],
    )
    commune_name: str | None = Field(default=None, description="The commune's name (FR - NL).")
    month: str = Field(
        description="The month (YYYY-MM, Brussels time): every cell is one month.",
        examples=["2026-11"],
    )
    offered_t: float | None = Field(description=f"Tonnes offered (offers posted), {_HIDDEN}.")
    requested_t: float | None = Field(description=f"Tonnes requested, {_HIDDEN}.")
    proposed_t: float | None = Field(
        description=f"Tonnes in matches proposed, whatever became of them, {_HIDDEN}."
    )
    accepted_t: float | None = Field(
        description=f"Tonnes in matches accepted by both sides (fulfilled ones too), {_HIDDEN}."
    )
    fulfilled_t: float | None = Field(description=f"Tonnes in matches fulfilled, {_HIDDEN}.")
    yard_intake_t: float | None = Field(
        description=f"Tonnes taken in by yards and hubs, {_HIDDEN}."
    )
    yard_dispatch_t: float | None = Field(
        description=f"Tonnes dispatched by yards and hubs, {_HIDDEN}."
    )
    suppressed: list[str] = Field(
        description="The figures of this cell that are hidden (route_km.<type> for km). "
        + SUPPRESSION_RULE
    )


class FlowCell(FlowCellTonnes):
    """The figures of one cell: one value of each dimension grouped by."""

    route_km: dict[VehicleType, float | None] = Field(
        description=f"Km driven in the route plans done, by vehicle type, each {_HIDDEN}.",
        examples=[{"cargo_bike": 42.5, "van": 61.0}],
    )
    plan_co2e_kg: float | None = Field(description=f"kg CO2e of the route plans, {_HIDDEN}.")
    baseline_co2e_kg: float | None = Field(
        description=f"kg CO2e of their baselines (each shipment alone in a van), {_HIDDEN}."
    )
    saving_co2e_kg: float | None = Field(description=f"Baseline less plan, kg CO2e, {_HIDDEN}.")


class FlowStats(BaseModel):
    group_by: list[Dimension] = Field(
        description="The dimensions grouped by: `month` always, and those asked."
    )
    material_level: MaterialLevel = Field(description="How finely `material` groups.")
    since: str = Field(description="The first month counted (`from`), YYYY-MM.")
    until: str = Field(description="The last month counted (`to`), YYYY-MM.")
    min_organizations: int = Field(
        description="A figure that fewer organizations contribute a non-zero amount to is hidden."
    )
    max_share_pct: int = Field(
        description="A figure that one organization contributes more than this % of is hidden."
    )
    suppressed_figures: int = Field(description="How many figures are hidden, in all cells.")
    cells: list[FlowCell] = Field(
        description="One cell per value of the dimensions grouped by, in their order. "
        "Grouped without material, every month has its cell (grouped by commune, every "
        "commune has one); a cell that is not there is 0 throughout."
    )


# [longitude, latitude]: a list rather than a tuple, whose `prefixItems` some OpenAPI tools
# cannot read in a schema given in place.
Position = Annotated[list[float], Field(min_length=2, max_length=2)]


class CommuneOutline(BaseModel):
    """A commune's outline as RFC 7946 wants it: WGS84 [longitude, latitude] to the 6th
    decimal, exterior rings counterclockwise."""

    type: Literal["Polygon", "MultiPolygon"] = Field(description="Polygon or MultiPolygon.")
    coordinates: list[list[Position]] | list[list[list[Position]]] = Field(
        description="The rings of the polygon (the first the exterior), or the polygons of a "
        "multipolygon."
    )


class FlowFeature(GeoFeature[CommuneOutline, FlowCellTonnes]):
    """One cell placed on its commune."""

    id: str = Field(
        description="The cell's values of the dimensions grouped by, joined by `/`.",
        examples=["2026-11/21004"],
    )


class FlowFeatureCollection(BaseModel):
    """The cells placed in a commune, each on its polygon: a choropleth in QGIS as it is.
    Route plans cross communes and are left out (they are in the JSON and the CSV)."""

    type: Literal["FeatureCollection"] = Field(
        default="FeatureCollection", description="Always `FeatureCollection`."
    )
    features: list[FlowFeature] = Field(description="One feature per cell placed in a commune.")
    min_organizations: int = Field(
        description="A figure that fewer organizations contribute a non-zero amount to is hidden."
    )
    max_share_pct: int = Field(
        description="A figure that one organization contributes more than this % of is hidden."
    )
    attribution: str = Field(description="The credit the commune boundaries need.")
