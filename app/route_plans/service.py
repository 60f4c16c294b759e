"""Route plans: the fleet and the shipments are frozen into the plan's inputs, the job turns
them into a `logistics` problem, solves it and stores the routes, KPIs and the baseline."""

import itertools
import json
import time as clock_time
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import Principal
from app.errors import ValidationFailed
from app.fleet.schemas import DEFAULTS
from app.fleet.service import FLEET_ROLES, get_vehicle
from app.jobs import PLANS_QUEUE, JobKind, defer_in_transaction
from app.kit.child_process import call_in_child_process
from app.kit.geo import Point
from app.kit.job_quota import reserve_job_slot
from app.kit.ownership import load_readable
from app.kit.statement_deadline import DeadlinePassed, StatementDeadline, statement_deadline
from app.kit.tracked_jobs import JobFailure, TrackedJob, run_tracked
from app.models import RoutePlan, ShipmentRow, Site, Vehicle
from app.route_plans.bounds import check_plan_profiles, check_plan_size
from app.route_plans.schemas import PlanStatus, RoutePlanCreate
from app.settings import Settings
from app.shipments.service import get_shipment
from app.sites.service import place_of
from app.webhooks.service import emit
from logistics import model
from logistics.kpis import PlanFigures, plan_figures
from logistics.matrices import Profile, haversine_m, straight_line
from logistics.model import Matrices
from logistics.road import (
    cost_matrix_sql,
    legs_geometry_sql,
    matrices_from_costs,
    nearest_vertices_sql,
)
from logistics.solver import SolverOptions, solve
from logistics.two_tier import TransferHub, leg_id, solve_two_tier, split_leg_id

SOLVE_ROUTE_PLAN = JobKind("logistics:solve_route_plan", PLANS_QUEUE)
PLAN_JOB = TrackedJob(SOLVE_ROUTE_PLAN, RoutePlan, "plan_id", "planner")
# Road matrices get the plan's time limit, at least this long, and the search what they left
# of it, at least half.
ROAD_MATRICES_MIN_TIMEOUT_S = 10.0
BRUSSELS = ZoneInfo("Europe/Brussels")
BASELINE_VAN = Profile("van@baseline", float(DEFAULTS["van"]["speed_kmh"] or 22))  # type: ignore[index]
BIKE_TYPES = ("cargo_bike", "cargo_trike")
# Costs enter the solver as integers in 1/10,000 of a euro.
COST_SCALE = 10_000


def _lonlat(geometry: Any) -> list[float]:
    return list(Point.model_validate(geometry).coordinates)


def vehicle_input(row: Vehicle) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "type": row.type,
        "capacity_kg": row.capacity_kg,
        "capacity_m3": row.capacity_m3,
        "speed_kmh": row.speed_kmh,
        "range_km": row.range_km,
        "start": _lonlat(row.start_location),
        "end": _lonlat(row.end_location),
        "shift_start": row.shift_start.isoformat(),
        "shift_end": row.shift_end.isoformat(),
        "cost_per_km": row.cost_per_km,
        "cost_per_hour": row.cost_per_hour,
        "fixed_cost": row.fixed_cost,
        "co2_g_per_km": row.co2_g_per_km,
        "stop_time_s": row.stop_time_s,
    }


def shipment_input(row: ShipmentRow) -> dict[str, Any]:
    def end(prefix: str) -> dict[str, Any]:
        return {
            "location": _lonlat(getattr(row, f"{prefix}_location")),
            "from": getattr(row, f"{prefix}_from").isoformat(),
            "until": getattr(row, f"{prefix}_until").isoformat(),
            "service_s": getattr(row, f"{prefix}_service_s"),
        }

    return {
        "id": str(row.id),
        "reference": row.reference,
        "pickup": end("pickup"),
        "delivery": end("delivery"),
        "load_kg": row.load_kg,
        "load_m3": row.load_m3,
    }


async def start_plan(
    session: AsyncSession, settings: Settings, principal: Principal, data: RoutePlanCreate
) -> RoutePlan:
    principal.require_role(*FLEET_ROLES)
    check_plan_size(settings, data)
    vehicles = [vehicle_input(await get_vehicle(session, principal, i)) for i in data.vehicle_ids]
    for k, inline in enumerate(data.vehicles):
        start = await place_of(session, settings, principal, inline.start_site_id, inline.start)
        has_end = inline.end_site_id is not None or inline.end is not None
        end = (
            await place_of(session, settings, principal, inline.end_site_id, inline.end)
            if has_end
            else start
        )
        given = inline.model_dump(
            exclude_none=True, exclude={"start_site_id", "start", "end_site_id", "end"}
        )
        row = Vehicle(
            id=uuid.uuid4(),
            start_location=start,
            end_location=end,
            **{**DEFAULTS[inline.type], **given},
        )
        vehicles.append({**vehicle_input(row), "id": f"inline-{k + 1}"})
    check_plan_profiles(settings, {vehicle_profile(v).name for v in vehicles})
    shipments = [
        shipment_input(await get_shipment(session, principal, i)) for i in data.shipment_ids
    ]
    for k, item in enumerate(data.shipments):
        pickup = await place_of(
            session, settings, principal, item.pickup.site_id, item.pickup.location
        )
        delivery = await place_of(
            session, settings, principal, item.delivery.site_id, item.delivery.location
        )
        row_s = ShipmentRow(
            id=uuid.uuid4(),
            reference=item.reference,
            pickup_location=pickup,
            delivery_location=delivery,
            pickup_from=item.pickup.window_from,
            pickup_until=item.pickup.window_until,
            pickup_service_s=item.pickup.service_s,
            delivery_from=item.delivery.window_from,
            delivery_until=item.delivery.window_until,
            delivery_service_s=item.delivery.service_s,
            load_kg=item.load_kg,
            load_m3=item.load_m3,
        )
        shipments.append({**shipment_input(row_s), "id": item.reference or f"inline-{k + 1}"})
    if not vehicles:
        raise ValidationFailed.field("vehicles", "not_empty", "Give vehicle_ids or vehicles.")
    if not shipments:
        raise ValidationFailed.field("shipments", "not_empty", "Give shipment_ids or shipments.")
    hubs = await _plan_hubs(session, settings, principal, data, vehicles)
    await reserve_job_slot(session, settings, principal.organization_id)
    plan = RoutePlan(
        id=uuid.uuid4(),
        organization_id=principal.organization_id,
        date=data.date,
        status=PlanStatus.queued.value,
        matrix=data.matrix,
        objective=data.objective,
        time_limit_s=data.time_limit_s,
        mode=data.mode,
        inputs={"vehicles": vehicles, "shipments": shipments, "mode": data.mode, "hubs": hubs},
    )
    session.add(plan)
    await session.flush()
    await defer_in_transaction(session, SOLVE_ROUTE_PLAN, {"plan_id": str(plan.id)})
    await session.commit()
    return plan


async def _plan_hubs(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    data: RoutePlanCreate,
    vehicles: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The transfer hubs of a two-tier plan, which needs them and vehicles of both tiers."""
    if data.mode == "direct":
        if data.hubs:
            raise ValidationFailed.field(
                "hubs", "only_for_two_tier", "Hubs are for mode two_tier; leave them out."
            )
        return []
    if not data.hubs:
        raise ValidationFailed.field(
            "hubs", "required_for_two_tier", "A two_tier plan names at least one hub."
        )
    tiers = {v["type"] in BIKE_TYPES for v in vehicles}
    if tiers != {True, False}:
        raise ValidationFailed.field(
            "vehicles",
            "both_tiers",
            "A two_tier plan needs vans (or trucks) and cargo bikes (or trikes).",
        )
    hubs = []
    for k, hub in enumerate(data.hubs):
        location = await place_of(session, settings, principal, hub.site_id, hub.location)
        name = hub.name
        if name is None and hub.site_id is not None:
            name = (await session.get_one(Site, hub.site_id)).name
        hubs.append(
            {
                "id": str(hub.site_id) if hub.site_id else f"hub-{k + 1}",
                "name": name or f"hub {k + 1}",
                "location": _lonlat(location),
                "zone_radius_km": hub.zone_radius_km,
                "handling_min": hub.handling_min,
            }
        )
    return hubs


def route_plan_geojson(plan: RoutePlan) -> dict[str, Any]:
    """Routes as LineStrings (along the roads with the road matrix, else through their stops),
    stops as Points, and for a two-tier plan each hand-over at a hub as a Point."""
    features: list[dict[str, Any]] = []
    for route in (plan.result or {}).get("routes", []):
        properties = {k: v for k, v in route.items() if k not in ("stops", "geometry")}
        line = route.get("geometry") or {
            "type": "LineString",
            "coordinates": [s["location"] for s in route["stops"]],
        }
        features.append(
            {"type": "Feature", "geometry": line, "properties": {"feature": "route", **properties}}
        )
        for order, stop in enumerate(route["stops"]):
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": stop["location"]},
                    "properties": {
                        "feature": "stop",
                        "vehicle_id": route["vehicle_id"],
                        "order": order,
                        **{k: v for k, v in stop.items() if k != "location"},
                    },
                }
            )
    for transfer in (plan.result or {}).get("transfers", []):
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": transfer["location"]},
                "properties": {
                    "feature": "transfer",
                    **{k: v for k, v in transfer.items() if k != "location"},
                },
            }
        )
    collection: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "route_plan_id": str(plan.id),
        "status": plan.status,
    }
    if plan.matrix == "road":
        collection["attribution"] = "© OpenStreetMap contributors (ODbL)"
    return collection


async def get_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> RoutePlan:
    return await load_readable(
        session, RoutePlan, plan_id, principal, public=False, noun="route plan"
    )


async def execute_plan(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    plan_id: uuid.UUID,
    attempt: int,
) -> None:
    """The job: matrices, the search, the figures; or why it failed."""

    async def plan_day(session: AsyncSession, plan: RoutePlan) -> None:
        await _plan(session, settings, plan)

    await run_tracked(sessionmaker, PLAN_JOB, plan_id, attempt, settings.job_max_attempts, plan_day)


async def _plan(session: AsyncSession, settings: Settings, plan: RoutePlan) -> None:
    points = plan_points(plan.inputs)
    profiles = {p.name: p for p in map(vehicle_profile, plan.inputs["vehicles"])}
    snapped: dict[str, list[int]] = {}
    started = clock_time.monotonic()
    if plan.matrix == "road":
        matrices = {}
        allowed_s = max(plan.time_limit_s, ROAD_MATRICES_MIN_TIMEOUT_S)
        try:
            async with statement_deadline(session, allowed_s) as deadline:
                for name, profile in profiles.items():
                    matrices[name], snapped[name] = await road_matrices(deadline, points, profile)
                baseline, _ = await road_matrices(deadline, points, BASELINE_VAN)
        except DeadlinePassed as exc:
            raise JobFailure(
                f"The road network took longer than {allowed_s:g} s to measure the distances "
                "between this plan's places; plan fewer places at once, or use the "
                "straight_line matrix."
            ) from exc
    else:
        matrices = {name: straight_line(points, profile) for name, profile in profiles.items()}
        baseline = straight_line(points, BASELINE_VAN)
    search_s = max(plan.time_limit_s - (clock_time.monotonic() - started), plan.time_limit_s / 2)
    # In a process of its own, so that the worker's other jobs go on while OR-Tools searches,
    # and a search that eats memory is stopped alone.
    result = await call_in_child_process(
        plan_routes,
        plan.date,
        plan.inputs,
        plan.objective,
        search_s,
        matrices,
        baseline,
        plan.matrix,
        memory_limit_mb=settings.planner_memory_limit_mb,
    )
    if plan.matrix == "road":
        await _add_road_geometries(session, result, snapped, points, plan.inputs["vehicles"])
    plan.result = result
    await emit(
        session,
        {plan.organization_id},
        "route_plan.completed",
        {"route_plan_id": str(plan.id), "kpis": result["kpis"], "saving": result["saving"]},
    )


async def _add_road_geometries(
    session: AsyncSession,
    result: dict[str, Any],
    snapped: dict[str, list[int]],
    points: list[tuple[float, float]],
    vehicles: list[dict[str, Any]],
) -> None:
    """Each route's line along the roads it takes, leg by leg."""
    index = {p: i for i, p in enumerate(points)}
    profiles = {v["id"]: vehicle_profile(v).name for v in vehicles}
    for route in result["routes"]:
        profile = profiles[route["vehicle_id"]]
        vertices = [
            snapped[profile][index[(s["location"][0], s["location"][1])]] for s in route["stops"]
        ]
        legs = [(a, b) for a, b in itertools.pairwise(vertices) if a != b]
        coordinates: list[list[float]] = []
        if legs:
            rows = (
                await session.execute(
                    text(legs_geometry_sql(network_of(Profile(profile, 1)), legs))
                )
            ).all()
            lines = {(r.start_vid, r.end_vid): json.loads(r.geometry) for r in rows}
            for leg in legs:
                line = lines.get(leg)
                if line and line["type"] == "LineString":
                    coordinates += line["coordinates"]
        route["geometry"] = {
            "type": "LineString",
            "coordinates": coordinates or [s["location"] for s in route["stops"]],
        }


def plan_points(inputs: dict[str, Any]) -> list[tuple[float, float]]:
    """Every place of the plan once, in a fixed order: the rows of its matrices."""
    places = [v[k] for v in inputs["vehicles"] for k in ("start", "end")]
    places += [s[k]["location"] for s in inputs["shipments"] for k in ("pickup", "delivery")]
    places += [h["location"] for h in inputs.get("hubs", [])]
    return list(dict.fromkeys((p[0], p[1]) for p in places))


def vehicle_profile(vehicle: dict[str, Any]) -> Profile:
    """Bikes and trikes ride the bike network, the others drive the van network."""
    mode = "bike" if vehicle["type"] in BIKE_TYPES else "van"
    speed = float(vehicle["speed_kmh"])
    return Profile(f"{mode}@{speed}", speed)


def network_of(profile: Profile) -> str:
    return profile.name.split("@")[0]


async def road_matrices(
    deadline: StatementDeadline, points: list[tuple[float, float]], profile: Profile
) -> tuple[Matrices, list[int]]:
    """Shortest road distances between the points on the profile's network (pgRouting), and
    the network vertex each point was snapped to, by the deadline."""
    network = network_of(profile)
    snapped = await deadline.all(
        text(nearest_vertices_sql(network)),
        {"lons": [p[0] for p in points], "lats": [p[1] for p in points]},
    )
    vertices = [int(r.vertex) for r in snapped]
    costs = await deadline.all(text(cost_matrix_sql(network)), {"vertices": sorted(set(vertices))})
    return matrices_from_costs(
        vertices, [(r.start_vid, r.end_vid, r.agg_cost) for r in costs], profile.speed_kmh
    ), vertices


def plan_routes(
    day: date,
    inputs: dict[str, Any],
    objective: str,
    time_limit_s: float,
    matrices: dict[str, Matrices],
    baseline: Matrices,
    matrix: str,
) -> dict[str, Any]:
    """The plan for one day, from the frozen inputs and the matrices of every vehicle profile
    (rows in `plan_points` order): plain data in, plain data out."""
    midnight = datetime.combine(day, time(0), tzinfo=BRUSSELS)
    points = plan_points(inputs)
    index = {p: i for i, p in enumerate(points)}

    def at(lonlat: list[float]) -> int:
        return index[(lonlat[0], lonlat[1])]

    def seconds(moment: str | time) -> int:
        if isinstance(moment, time):
            return int((datetime.combine(day, moment, tzinfo=BRUSSELS) - midnight).total_seconds())
        return int((datetime.fromisoformat(moment) - midnight).total_seconds())

    vehicles = []
    for v in inputs["vehicles"]:
        profile = vehicle_profile(v).name
        vehicles.append(
            model.Vehicle(
                id=v["id"],
                start=at(v["start"]),
                end=at(v["end"]),
                capacity=(round(v["capacity_kg"] * 1000), round(v["capacity_m3"] * 1000)),
                shift=model.Window(
                    seconds(time.fromisoformat(v["shift_start"])),
                    seconds(time.fromisoformat(v["shift_end"])),
                ),
                profile=profile,
                range=None if v["range_km"] is None else round(v["range_km"] * 1000),
                fixed_cost=round(v["fixed_cost"] * COST_SCALE),
                cost_per_distance=v["cost_per_km"] / 1000 * COST_SCALE,
                cost_per_time=v["cost_per_hour"] / 3600 * COST_SCALE,
                # Plans frozen before vehicles had a stop time have none.
                stop_time=v.get("stop_time_s", 0),
            )
        )
    shipments = []
    for s in inputs["shipments"]:

        def visit(end: dict[str, Any]) -> model.Visit:
            window = model.Window(max(0, seconds(end["from"])), max(0, seconds(end["until"])))
            return model.Visit(at(end["location"]), window, end["service_s"])

        shipments.append(
            model.Shipment(
                id=s["id"],
                pickup=visit(s["pickup"]),
                delivery=visit(s["delivery"]),
                load=(round(s["load_kg"] * 1000), round(s["load_m3"] * 1000)),
            )
        )
    problem = model.Problem(vehicles, shipments, matrices, objective)  # type: ignore[arg-type]
    options = SolverOptions(time_limit_s=time_limit_s)
    names = {v["id"]: (v["name"], v["type"]) for v in inputs["vehicles"]}
    bikes = {v.profile for v in vehicles if names[v.id][1] in BIKE_TYPES}
    via_hub: dict[str, str] = {}
    two_tier = None
    if inputs.get("mode") == "two_tier":
        hubs = [
            TransferHub(
                id=h["id"],
                location=at(h["location"]),
                handling=round(h["handling_min"] * 60),
                zone=frozenset(
                    i
                    for i, p in enumerate(points)
                    if haversine_m([p, tuple(h["location"])])[0, 1] <= h["zone_radius_km"] * 1000
                ),
            )
            for h in inputs["hubs"]
        ]
        two_tier = solve_two_tier(problem, hubs, frozenset(bikes), options)
        solution, via_hub = two_tier.solution, two_tier.via_hub
    else:
        solution = solve(problem, options)
    unassigned = {u.shipment_id for u in solution.unassigned}
    served = [s for s in shipments if s.id not in unassigned]
    mass_g = {s.id: s.load[0] for s in shipments}
    mass_g |= {leg_id(s, tier): mass_g[s] for s in via_hub for tier in ("trunk", "last_mile")}
    co2_per_km = {v["id"]: v["co2_g_per_km"] / 1000 for v in inputs["vehicles"]}
    legs = {s.id: (s.pickup.location, s.delivery.location) for s in served if s.pickup}
    figures = plan_figures(solution.routes, co2_per_km, mass_g, legs, baseline)

    def clock(value: int) -> str:
        return (midnight + timedelta(seconds=value)).isoformat()

    def tier_of(route: model.Route) -> str:
        return "last_mile" if names[route.vehicle_id][1] in BIKE_TYPES else "trunk"

    routes = []
    for route, fig in zip(solution.routes, figures.routes, strict=True):
        stops = []
        for st in route.stops:
            shipment_id, leg = split_leg_id(st.shipment_id) if st.shipment_id else (None, None)
            stop = {
                "kind": st.kind,
                "shipment_id": shipment_id,
                "location": list(points[st.location]),
                "arrival": clock(st.arrival),
                "start": clock(st.start),
                "departure": clock(st.departure),
                "load_kg": st.load[0] / 1000,
                "load_m3": st.load[1] / 1000,
                "km": round(st.distance / 1000, 3),
            }
            if two_tier is not None and shipment_id is not None:
                stop["leg"] = leg or "door_to_door"
            stops.append(stop)
        view = {
            "vehicle_id": route.vehicle_id,
            "vehicle_name": names[route.vehicle_id][0],
            "vehicle_type": names[route.vehicle_id][1],
            "km": round(fig.km, 3),
            "hours": round(fig.hours, 3),
            "co2_kg": round(fig.co2_kg, 3),
            "tonne_km": round(fig.tonne_km, 3),
            "stops": stops,
        }
        if two_tier is not None:
            view["tier"] = tier_of(route)
        routes.append(view)
    co2_by_shipment: dict[str, float] = {}
    for key, co2 in figures.co2_kg_by_shipment.items():
        shipment_id, _ = split_leg_id(key)
        co2_by_shipment[shipment_id] = round(co2_by_shipment.get(shipment_id, 0.0) + co2, 4)
    result: dict[str, Any] = {
        "matrix": matrix,
        "mode": inputs.get("mode", "direct"),
        "routes": routes,
        "unassigned": [
            {"shipment_id": u.shipment_id, "reason": u.reason, "detail": u.detail}
            for u in solution.unassigned
        ],
        "kpis": _kpis(figures),
        "co2_kg_by_shipment": co2_by_shipment,
        "baseline": {
            "description": "each assigned shipment carried alone by a diesel van from its pickup to its delivery",
            "km": round(figures.baseline_km, 3),
            "co2_kg": round(figures.baseline_co2_kg, 3),
        },
        "saving": figures.saving,
        "solver": {"seconds": round(solution.stats.get("seconds", 0), 2), "objective": objective},
    }
    if two_tier is not None:
        by_tier = {}
        for tier in ("trunk", "last_mile"):
            chosen = [r for r in solution.routes if tier_of(r) == tier]
            by_tier[tier] = _kpis(plan_figures(chosen, co2_per_km, mass_g, {}, baseline))
        result["kpis"]["by_tier"] = by_tier
        hub_names = {h["id"]: h["name"] for h in inputs["hubs"]}
        result["via_hub"] = via_hub
        result["transfers"] = [
            {
                "shipment_id": t.shipment_id,
                "hub_id": t.hub_id,
                "hub_name": hub_names[t.hub_id],
                "location": next(h["location"] for h in inputs["hubs"] if h["id"] == t.hub_id),
                "inbound_vehicle_id": t.inbound_vehicle_id,
                "unloaded_at": clock(t.inbound_ready),
                "outbound_vehicle_id": t.outbound_vehicle_id,
                "loaded_at": clock(t.outbound_start),
            }
            for t in two_tier.transfers
        ]
        result["compared_costs_eur"] = {
            plan: round(cost / COST_SCALE, 2) for plan, cost in two_tier.compared.items()
        }
        result["solver"]["decided_by"] = "cost"
    return result


def _kpis(figures: PlanFigures) -> dict[str, Any]:
    return {
        "km": round(figures.km, 3),
        "hours": round(figures.hours, 3),
        "vehicles": figures.vehicles,
        "co2_kg": round(figures.co2_kg, 3),
        "tonne_km": round(figures.tonne_km, 3),
    }
