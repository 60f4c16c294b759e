import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from app.fleet.schemas import VehicleCreate
from app.kit.geo import PointIn
from app.kit.pagination import Link
from app.kit.schema import InputModel
from app.models import RoutePlan as RoutePlanRow
from app.route_plans.result_schema import RoutePlanResult
from app.settings import Settings
from app.shipments.schemas import ShipmentCreate

# A field named `date` cannot be annotated `date` and given a Field in one class body.
Day = date


class PlanStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class PlanPhase(StrEnum):
    road_distances = "road_distances"
    searching = "searching"
    drawing_routes = "drawing_routes"


class BestPlanSoFar(BaseModel):
    """The best plan any engine has found so far, ranked as the search ranks its answers:
    fewest shipments left out, then (under vehicles_then_distance) fewest vehicles, then the
    objective. Each update improves on the last; the plan answered is the best at the end."""

    vehicles: int = Field(description="Vehicles it uses.", ge=0, examples=[3])
    km: float = Field(description="Its distance, km.", ge=0, examples=[41.7])
    unassigned: int = Field(
        description="Shipments it leaves out (in a two_tier plan, legs).", ge=0, examples=[0]
    )
    engine: str = Field(description="The engine that found it (pyvrp or ortools).")
    compared_plan: str | None = Field(
        description="In a two_tier plan, which of the plans compared it belongs to: direct, "
        "all_via_hub or mixed (see `result.solver.compared_costs_eur`); null in a direct plan."
    )
    found_at: datetime = Field(description="When the worker heard of it.")


class PlanProgress(BaseModel):
    """Where a running plan is."""

    phase: PlanPhase | None = Field(
        description="road_distances: measuring the distances between its places along the "
        "streets (road plans); searching: the engines search for rounds; drawing_routes: "
        "laying the rounds found along the streets. Null before the first phase begins."
    )
    phase_started_at: datetime | None = Field(description="When the phase began.")
    elapsed_s: float = Field(description="Seconds since the attempt started.", examples=[7.5])
    search_s: float | None = Field(
        default=None,
        description="While searching: how long the search may take, seconds (the time limit "
        "less what the road distances took, at least half of it).",
    )
    best_so_far: BestPlanSoFar | None = Field(
        default=None,
        description="From the first plan the engines find: the best so far, updated about "
        "once a second while searching; null before.",
    )


class PlanHub(InputModel):
    """A hub where vans hand over to cargo bikes, and the zone its bikes serve."""

    site_id: uuid.UUID | None = Field(default=None, description="One of your sites.")
    location: PointIn | None = Field(default=None, description="When no site is named.")
    name: str | None = Field(
        default=None,
        max_length=200,
        description="What the answer calls it; the site's name by default.",
    )
    zone_radius_km: float = Field(
        default=2.0, gt=0, le=15, description="Shipment ends within it can go by bike."
    )
    handling_min: float = Field(
        default=20,
        ge=0,
        le=240,
        description="From a van's unloading to the earliest bike departure with the goods.",
    )


def _default_limit(setting: str) -> int:
    limit: int = Settings.model_fields[setting].default
    return limit


# The limits are settings (`BOUCLE_PLAN_MAX_*`), checked by `app.route_plans.bounds`; the
# document gives their defaults.
_SHIPMENTS_LIMIT = (
    f"With shipment_ids and shipments together, a plan takes at most "
    f"{_default_limit('plan_max_shipments')} shipments."
)
_VEHICLES_LIMIT = (
    f"With vehicle_ids and vehicles together, a plan takes at most "
    f"{_default_limit('plan_max_vehicles')} vehicles, of at most "
    f"{_default_limit('plan_max_profiles')} travel profiles (a network, bike or van, and a "
    "speed: each needs a travel matrix of its own)."
)


class RoutePlanCreate(InputModel):
    date: Day = Field(
        description="The day planned: shipment windows and vehicle shifts (local Brussels "
        "times) are read on it.",
        examples=["2026-12-02"],
    )
    shipment_ids: list[uuid.UUID] = Field(
        default_factory=list, description=f"Your shipments to plan. {_SHIPMENTS_LIMIT}"
    )
    shipments: list[ShipmentCreate] = Field(
        default_factory=list, description=f"Shipments given inline. {_SHIPMENTS_LIMIT}"
    )
    vehicle_ids: list[uuid.UUID] = Field(
        default_factory=list, description=f"Your vehicles to use. {_VEHICLES_LIMIT}"
    )
    vehicles: list[VehicleCreate] = Field(
        default_factory=list, description=f"Vehicles given inline. {_VEHICLES_LIMIT}"
    )
    matrix: Literal["straight_line", "road"] = Field(
        default="straight_line",
        description="straight_line: great-circle distance x 1.3 at each vehicle's speed; road: "
        "shortest paths on the OpenStreetMap network of Brussels (pgRouting), by bike or by van, "
        "with route geometries along the roads.",
    )
    objective: Literal["vehicles_then_distance", "distance", "cost"] = Field(
        default="vehicles_then_distance",
        description="What the search minimises: vehicles_then_distance (fewest vehicles, then "
        "km), distance (km), or cost (EUR: the vehicles' cost per km, per hour and fixed cost).",
    )
    time_limit_s: float = Field(
        default=5,
        gt=0,
        le=120,
        description="The whole plan's time, seconds: road distances first (their time comes "
        "out of the search's, which keeps at least half), then the search.",
        examples=[20],
    )
    mode: Literal["direct", "two_tier"] = Field(
        default="direct",
        description="direct: every vehicle carries door to door. two_tier: shipments with "
        "one end in a hub's zone may go by van between the far end and the hub and by cargo "
        "bike between the hub and the near end, where that pays; the choice is made by cost "
        "(per km, per hour, per vehicle used), whatever the objective.",
    )
    hubs: list[PlanHub] = Field(
        default_factory=list, max_length=20, description="For two_tier: the transfer hubs."
    )


class RoutePlan(BaseModel):
    id: uuid.UUID = Field(description="The plan's id.")
    date: Day = Field(description="The day planned.")
    status: PlanStatus = Field(
        description="queued (waiting for a worker), running, done (with its result), failed "
        "(with its error) or cancelled (by its owner)."
    )
    attempts: int = Field(
        description="How many times a worker started it. A worker that dies or is stopped "
        "mid-way leaves it `queued` for the next attempt, from the start; after 3 attempts it "
        "is `failed`, and `error` says why."
    )
    matrix: str = Field(description="straight_line or road, as asked.")
    objective: str = Field(description="vehicles_then_distance, distance or cost, as asked.")
    mode: str = Field(description="direct or two_tier, as asked.")
    time_limit_s: float = Field(description="The plan's time limit, seconds, as asked.")
    result: RoutePlanResult | None = Field(
        description="When done: routes (stops with arrival, start, departure, load after the "
        "stop and cumulative km), unassigned shipments with a reason, kpis, baseline and saving. "
        "A two_tier plan also gives each route its tier (trunk or last_mile), the transfers at "
        "each hub, the shipments sent through a hub, kpis per tier and the costs of the plans "
        "it compared."
    )
    error: str | None = Field(
        description="When failed: why, in a sentence for people; the details are in the "
        "operators' log."
    )
    progress: PlanProgress | None = Field(
        default=None,
        description="While running: its phase, how long it has run and the best plan found so "
        "far; else null.",
    )
    cancel_requested_at: datetime | None = Field(
        default=None,
        description="When its owner asked to cancel it (POST /v1/route-plans/{id}/cancel).",
    )
    created_at: datetime = Field(description="When it was asked for.")
    started_at: datetime | None = Field(description="When its last attempt started.")
    finished_at: datetime | None = Field(description="When it was done, failed or cancelled.")


class RoutePlanPage(BaseModel):
    items: list[RoutePlan] = Field(description="Your plans, newest first.")
    links: list[Link] = Field(description="`next` when there are more.")


def route_plan_view(row: RoutePlanRow) -> RoutePlan:
    """A plan as its owner reads it; a running one with its phase and how long it has run."""
    progress = None
    if row.status == PlanStatus.running.value and row.started_at is not None:
        elapsed = (datetime.now(UTC) - row.started_at).total_seconds()
        progress = {
            "phase": None,
            "phase_started_at": None,
            **(row.progress or {}),
            "elapsed_s": round(elapsed, 1),
        }
    fields = {name: getattr(row, name) for name in RoutePlan.model_fields if name != "progress"}
    return RoutePlan.model_validate({**fields, "progress": progress})
