"""The result of a route plan, as the API answers it and as `route_plans.result` stores it
(JSON). Results stored by earlier versions load as they are: what was added since has a
default."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.kit.pickled_as_json import PickledAsJSON
from logistics.two_tier import Tier

_LOCAL = "Local time in Brussels, with its offset."
_TIER = (
    "trunk (a van or truck, door to door or to and from a hub) or last_mile (a cargo bike or trike)"
)


def _is_none(value: object) -> bool:
    return value is None


def only_when_set(description: str) -> Any:
    """A field that plans without it (direct plans, straight-line plans) answer without its
    key, as they always have."""
    return Field(default=None, exclude_if=_is_none, description=description)


class StopTimes(BaseModel):
    """A stop but its place."""

    kind: Literal["start", "pickup", "delivery", "end"] = Field(
        description="start and end: the vehicle's; pickup and delivery: a shipment's."
    )
    shipment_id: str | None = Field(
        description="The shipment picked up or delivered; null at the start and the end."
    )
    arrival: datetime = Field(description=f"When the vehicle gets there. {_LOCAL}")
    start: datetime = Field(
        description=f"When the service starts: the arrival, or the window's opening after a "
        f"wait. {_LOCAL}"
    )
    departure: datetime = Field(description=f"When the vehicle leaves. {_LOCAL}")
    load_kg: float = Field(description="On board after the stop, kg.")
    load_m3: float = Field(description="On board after the stop, m3.")
    km: float = Field(description="Driven from the route's start to here, km.")
    leg: Literal["trunk", "last_mile", "door_to_door"] | None = only_when_set(
        "two_tier plans, stops of a shipment: the leg it travels, by van to or from the hub "
        "(trunk), by bike between the hub and its end (last_mile), or the whole way "
        "(door_to_door)."
    )


class PlannedStop(StopTimes):
    location: tuple[float, float] = Field(description="[lon, lat] in WGS84.")


class LineString(BaseModel):
    type: Literal["LineString"] = Field(default="LineString", description="GeoJSON's type.")
    coordinates: list[tuple[float, float]] = Field(description="[lon, lat] in WGS84.")


class RouteFigures(BaseModel):
    """A route but its stops and its line."""

    vehicle_id: str = Field(description="The vehicle's id, or inline-<n> for the n-th inline one.")
    vehicle_name: str = Field(description="The vehicle's name.")
    vehicle_type: str = Field(description="cargo_bike, cargo_trike, e_van, van or truck.")
    km: float = Field(description="Driven from start to end, km.")
    hours: float = Field(description="From leaving the start to reaching the end, hours.")
    co2_kg: float = Field(description="kg CO2e: the vehicle's factor x its km (GLEC).")
    tonne_km: float = Field(description="Tonnes carried x km driven with them.")
    tier: Tier | None = only_when_set(f"two_tier plans: {_TIER}.")


class PlannedRoute(RouteFigures):
    stops: list[PlannedStop] = Field(description="In order, from the start to the end.")
    geometry: LineString | None = only_when_set(
        "road plans: the route along the streets it takes (© OpenStreetMap contributors)."
    )


class UnassignedShipment(BaseModel):
    shipment_id: str = Field(description="The shipment's id, or its reference when inline.")
    reason: Literal["too_heavy", "out_of_range", "window_unreachable", "no_room"] = Field(
        description="too_heavy: more than any vehicle carries; out_of_range: farther than any "
        "vehicle able to carry it drives; window_unreachable: no vehicle reaches its windows "
        "within its shift, even carrying it alone; no_room: it could go alone, but the plan "
        "found no room for it beside the others (or no engine found a plan in time)."
    )
    detail: str = Field(description="The reason in a sentence.")


class Kpis(BaseModel):
    km: float = Field(description="Driven by every vehicle, km.")
    hours: float = Field(description="On the road, every vehicle's hours added up.")
    vehicles: int = Field(description="Vehicles used.")
    co2_kg: float = Field(description="kg CO2e, ISO 14083 / GLEC: vehicle factor x distance.")
    tonne_km: float = Field(description="Tonnes carried x km driven with them.")


class KpisByTier(BaseModel):
    trunk: Kpis = Field(description="Vans and trucks.")
    last_mile: Kpis = Field(description="Cargo bikes and trikes.")


class PlanKpis(Kpis):
    by_tier: KpisByTier | None = only_when_set("two_tier plans: the figures of each tier.")


class Baseline(BaseModel):
    description: str = Field(description="What the plan is compared with.")
    km: float = Field(description="Its km.")
    co2_kg: float = Field(description="Its kg CO2e.")


class Saving(BaseModel):
    km: float = Field(description="Baseline km less the plan's km.")
    co2_kg: float = Field(description="Baseline kg CO2e less the plan's.")
    km_pct: float = Field(description="The km saved, % of the baseline's (0 when it is 0).")
    co2_pct: float = Field(description="The CO2e saved, % of the baseline's (0 when it is 0).")


class EngineAnswer(BaseModel):
    engine: str = Field(description="pyvrp or ortools.")
    feasible: bool = Field(
        description="Whether its plan kept every rule when checked again; one that did not "
        "is never chosen."
    )
    vehicles: int = Field(description="Vehicles its plan uses.")
    km: float = Field(description="Its plan's km.")
    unassigned: int = Field(description="Shipments (or legs) its plan leaves out.")
    objective_value: float = Field(
        description="Its plan measured by the objective searched: EUR under cost (as every "
        "two_tier plan is decided), km otherwise."
    )


class SolverRun(BaseModel):
    seconds: float = Field(description="Search time, seconds.")
    objective: str = Field(description="The plan's objective, as asked.")
    engine: str = Field(
        default="",
        description="The engine whose plan was kept, pyvrp or ortools; empty when there was "
        "nothing to search (no shipment any vehicle can serve) or no engine found a plan.",
    )
    engines: list[EngineAnswer] = Field(
        default_factory=list, description="What each engine of the portfolio answered."
    )
    decided_by: str | None = only_when_set(
        "two_tier plans: what chose between the plans compared (cost)."
    )
    chosen: Literal["direct", "all_via_hub", "mixed"] | None = only_when_set(
        "two_tier plans: the plan kept among those compared (compared_costs_eur)."
    )


class TransferTimes(BaseModel):
    """A hand-over at a hub but its place."""

    shipment_id: str = Field(description="The shipment handed over.")
    hub_id: str = Field(
        description="The hub's site id, or hub-<n> for the n-th hub given by location."
    )
    hub_name: str = Field(description="The hub's name.")
    inbound_vehicle_id: str = Field(description="The vehicle bringing the goods to the hub.")
    unloaded_at: datetime = Field(description=f"When it has unloaded them there. {_LOCAL}")
    outbound_vehicle_id: str = Field(description="The vehicle taking them on.")
    loaded_at: datetime = Field(
        description=f"When it loads them: at least the hub's handling time later. {_LOCAL}"
    )


class HubTransfer(TransferTimes):
    location: tuple[float, float] = Field(description="The hub, [lon, lat] in WGS84.")


class RoutePlanResult(PickledAsJSON):
    matrix: Literal["straight_line", "road"] = Field(description="The travel matrix used.")
    mode: Literal["direct", "two_tier"] = Field(default="direct", description="As asked.")
    routes: list[PlannedRoute] = Field(description="One per vehicle used.")
    unassigned: list[UnassignedShipment] = Field(description="The shipments left out, and why.")
    kpis: PlanKpis = Field(description="The plan's figures.")
    co2_kg_by_shipment: dict[str, float] = Field(
        description="Each served shipment's share of the plan's kg CO2e, allocated by tonne-km."
    )
    baseline: Baseline = Field(
        description="Each served shipment carried alone by a diesel van from its pickup to "
        "its delivery."
    )
    saving: Saving = Field(description="The plan against the baseline.")
    solver: SolverRun = Field(description="How it was searched, and what each engine found.")
    via_hub: dict[str, str] | None = only_when_set(
        "two_tier plans: the shipments sent through a hub, with the hub's id."
    )
    transfers: list[HubTransfer] | None = only_when_set("two_tier plans: each hand-over at a hub.")
    compared_costs_eur: dict[str, float] | None = only_when_set(
        "two_tier plans: the cost of each plan compared (direct, all_via_hub, and mixed when "
        "it differed), EUR."
    )
