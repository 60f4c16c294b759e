"""`make demo`: a day in Brussels, played through the HTTP API as its users would.

Suppliers post offers (timber, bricks, excavated soil, textiles, food surplus) at demo sites,
consumers and the Recy-K yard post requests, the Region runs the matching, both sides accept,
the accepted matches become shipments, the yard takes its lots in, and a carrier plans the day
in two tiers: vans feed the TIR hub, cargo bikes serve the shopping streets from it. Then the
shops of two shopping districts book deliveries into the carrier's shared rounds
(`demo.shopping`). It ends with a short report and the plan as GeoJSON."""

import csv
import json
import random
import secrets
import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from app.kit.local_time import BRUSSELS
from app.main import create_app
from app.settings import Settings
from app.worker.process import work_until_idle
from demo.seed import SITES_FILE
from demo.shopping import play_shopping_day
from logistics.matrices import haversine_m

OSM_CREDIT = "© OpenStreetMap contributors (ODbL)"
# Larger than a van carries: left to a tipper truck, outside the day's rounds.
ROUND_MAX_KG = 1000

# (organization, roles, site id in the demo sites, site kind)
ACTORS = {
    "builder-south": (
        "Chantier Forest-Saint-Gilles",
        ("supplier",),
        "commune-21007",
        "construction_site",
    ),
    "builder-uccle": ("Terrassements Uccle", ("supplier",), "commune-21016", "construction_site"),
    "builder-north": (
        "Rénovations Schaerbeek",
        ("consumer",),
        "commune-21015",
        "construction_site",
    ),
    "builder-ixelles": (
        "Atelier façades Ixelles",
        ("consumer",),
        "commune-21009",
        "construction_site",
    ),
    "builder-anderlecht": (
        "Voirie Anderlecht",
        ("consumer",),
        "commune-21001",
        "construction_site",
    ),
    "fashion": ("Boutiques Rue Neuve", ("supplier",), "shop-rue-neuve", "shop"),
    "market": ("Marché des Abattoirs", ("supplier",), "abattoir", "production"),
    "kitchen": ("Resto social Wayez", ("consumer",), "shop-wayez", "shop"),
    "recy-k": ("Bruxelles-Propreté (Recy-K)", ("hub_operator", "consumer"), "recy-k", "yard"),
    "carrier": ("Coopérative de livraison", ("carrier", "hub_operator"), "tir-centre", "hub"),
    "region": ("Région de Bruxelles-Capitale", ("admin",), None, None),
}
# (supplier, EWC code, title, quantity, unit, condition)
OFFERS = [
    ("builder-south", "170201", "Formwork timber", 0.6, "t", "B"),
    ("builder-south", "170102", "Reclaimed bricks", 0.8, "t", "B"),
    ("builder-uccle", "170504", "Excavated soil", 12, "t", "C"),
    ("fashion", "200110", "Unsold clothes", 300, "kg", "A"),
    ("market", "200108", "Food surplus", 120, "kg", "A"),
]
# (consumer, EWC code or group, title, quantity, unit, worst condition accepted)
REQUESTS = [
    ("builder-north", "1702", "Timber for hoarding", 0.35, "t", "B"),
    ("builder-ixelles", "170102", "Bricks for a facade", 0.8, "t", "B"),
    ("builder-anderlecht", "1705", "Fill for a trench", 10, "t", "C"),
    ("kitchen", "200108", "Food for the kitchen", 120, "kg", "A"),
    ("recy-k", "2001", "Textiles to sort and resell", 300, "kg", "C"),
    ("recy-k", "170201", "Timber to recondition", 0.25, "t", "C"),
]
# Where the retail parcels of the day come from and go to.
PARCEL_ORIGINS = ("rotor-dc", "recypark-sud", "schaerbeek-formation", "pac-uccle")
PARCEL_DESTINATIONS = ("shopping_street", "shopping_mall")
# The shopping streets and galleries the TIR hub's bikes serve.
ZONE_KM = 3.5
PARCELS = 24
VAN_DEPOT = "port-hq"
# The carrier's own figures where they differ from the defaults: its vans start at 06:30 and
# a van with its driver costs 50 EUR an hour in Brussels; the cargo-bike riders start at
# 09:00 and a loaded bike does some 25 km in a day.
VAN = {"type": "van", "cost_per_hour": 50, "shift_start": "06:30:00", "shift_end": "16:00:00"}
BIKE = {"type": "cargo_bike", "range_km": 25, "shift_start": "09:00:00", "shift_end": "18:00:00"}
HUB = "tir-centre"


def _sites(settings: Settings) -> dict[str, dict[str, str]]:
    with (settings.shared_dir / SITES_FILE).open(encoding="utf-8", newline="") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


def _point(row: dict[str, str]) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [float(row["lon"]), float(row["lat"])]}


class _Api:
    """The API as a client sees it; every call must succeed."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.keys: dict[str, str] = {}

    async def call(self, actor: str | None, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[actor or 'admin']}"}
        response = await self.client.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None


async def run_demo_day(
    settings: Settings, day: date, matrix: str, time_limit_s: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Plays the day on the database of `settings` (reference data loaded; the road network
    too for the road matrix); answers the figures and the plan as GeoJSON."""
    admin_token = secrets.token_urlsafe(16)
    app = create_app(settings.model_copy(update={"admin_token": SecretStr(admin_token)}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://boucle.demo") as client:
            api = _Api(client)
            api.keys["admin"] = admin_token

            return await _play(api, app, settings, day, matrix, time_limit_s)


async def _play(
    api: _Api,
    app: FastAPI,
    settings: Settings,
    day: date,
    matrix: str,
    time_limit_s: float,
) -> tuple[dict[str, Any], dict[str, Any]]:
    sites = _sites(settings)
    run_tag = uuid.uuid4().hex[:6]
    site_ids: dict[str, str] = {}
    for actor, (name, roles, site, kind) in ACTORS.items():
        org = await api.call(
            None, "POST", "/v1/organizations", json={"name": f"{name} ({run_tag})", "roles": roles}
        )
        api.keys[actor] = org["api_key"]
        if site is not None:
            created = await api.call(
                actor,
                "POST",
                "/v1/sites",
                json={"name": sites[site]["name"], "kind": kind, "location": _point(sites[site])},
            )
            site_ids[actor] = created["id"]

    # Supply and demand of the day, then the Region's matching run.
    window = {
        "available_from": day.isoformat(),
        "available_until": (day + timedelta(days=14)).isoformat(),
    }
    owner: dict[str, str] = {}
    for actor, code, title, value, unit, condition in OFFERS:
        offer = await api.call(
            actor,
            "POST",
            "/v1/offers",
            json={
                "site_id": site_ids[actor],
                "material": code,
                "title": title,
                "quantity": {"value": value, "unit": unit},
                "condition": condition,
                **window,
            },
        )
        owner[offer["id"]] = actor
    for actor, code, title, value, unit, condition in REQUESTS:
        request = await api.call(
            actor,
            "POST",
            "/v1/requests",
            json={
                "site_id": site_ids[actor],
                "material": code,
                "title": title,
                "quantity": {"value": value, "unit": unit},
                "min_condition": condition,
                "needed_from": day.isoformat(),
                "needed_by": (day + timedelta(days=14)).isoformat(),
                "max_distance_km": 15,
            },
        )
        owner[request["id"]] = actor
    centre = [float(sites["tir-centre"]["lon"]), float(sites["tir-centre"]["lat"])]
    run = await api.call(
        "region", "POST", "/v1/matching/runs", json={"near": centre, "radius_km": 20}
    )
    await work_until_idle(app)
    run = await api.call("region", "GET", f"/v1/matching/runs/{run['id']}")
    if run["status"] != "done":
        raise RuntimeError(f"matching run {run['status']}: {run['error']}")
    accepted = []
    for proposed in run["matches"]:
        if proposed["offer_id"] not in owner or proposed["request_id"] not in owner:
            continue  # listings of an earlier day on the same database
        supplier, consumer = owner[proposed["offer_id"]], owner[proposed["request_id"]]
        for actor in (consumer, supplier):
            match = await api.call(actor, "POST", f"/v1/matches/{proposed['id']}/accept")
        accepted.append((match, supplier, consumer))

    # The accepted matches a van can carry become the day's shipments; the rest goes by truck.
    shipments = []
    by_truck_kg = 0.0
    for match, _, consumer in accepted:
        if (match["mass_kg"] or 0) > ROUND_MAX_KG:
            by_truck_kg += match["mass_kg"]
            continue
        shipment = await api.call(consumer, "POST", f"/v1/matches/{match['id']}/shipment", json={})
        shipments.append(_inline(shipment, f"match-{consumer}-{match['id'][:8]}"))
    shipments += _parcels(sites, day)

    # The carrier's fleet: vans at the port, cargo bikes at the TIR hub.
    hub, depot = _point(sites[HUB]), _point(sites[VAN_DEPOT])
    vehicles = [{"name": f"Van {k + 1}", "start": depot, **VAN} for k in range(2)]
    vehicles += [{"name": f"Cargo bike {k + 1}", "start": hub, **BIKE} for k in range(4)]
    started = await api.call(
        "carrier",
        "POST",
        "/v1/route-plans",
        json={
            "date": day.isoformat(),
            "shipments": shipments,
            "vehicles": vehicles,
            "matrix": matrix,
            "objective": "cost",
            "mode": "two_tier",
            "hubs": [
                {"site_id": site_ids["carrier"], "zone_radius_km": ZONE_KM, "handling_min": 15}
            ],
            "time_limit_s": time_limit_s,
        },
    )
    await work_until_idle(app)
    plan = await api.call("carrier", "GET", f"/v1/route-plans/{started['id']}")
    if plan["status"] != "done":
        raise RuntimeError(f"route plan {plan['status']}: {plan['error']}")
    result = plan["result"]

    # Recy-K takes in the small lots matched to it, once delivered.
    lots = []
    for match, _, consumer in accepted:
        if consumer == "recy-k" and (match["mass_kg"] or 0) <= ROUND_MAX_KG:
            movement = await api.call(
                "recy-k",
                "POST",
                f"/v1/hubs/{site_ids['recy-k']}/movements",
                json={
                    "kind": "intake",
                    "offer_id": match["offer_id"],
                    "quantity": match["offer_quantity"],
                },
            )
            lots.append(movement)
    stock = await api.call("recy-k", "GET", f"/v1/hubs/{site_ids['recy-k']}/stock")

    geojson = await api.call(
        "carrier", "GET", f"/v1/route-plans/{started['id']}", params={"format": "geojson"}
    )
    geojson["attribution"] = OSM_CREDIT

    shopping = await play_shopping_day(api, app, day, site_ids["carrier"], run_tag)

    kpis = result["kpis"]
    return {
        "day": day.isoformat(),
        "matrix": matrix,
        "matches": len(accepted),
        "matched_t": round(sum(m["mass_kg"] or 0 for m, _, _ in accepted) / 1000, 3),
        "by_truck_t": round(by_truck_kg / 1000, 3),
        "yard_lots": [
            {"lot": m["lot"], "material": m["material"], "kg": m["mass_kg"]} for m in lots
        ],
        "yard_stock_t": stock["mass_t"],
        "shipments": len(shipments),
        "unassigned": len(result["unassigned"]),
        "via_hub": len(result["via_hub"]),
        "transfers": len(result["transfers"]),
        "kpis": kpis,
        "baseline": result["baseline"],
        "saving": result["saving"],
        "compared_costs_eur": result["compared_costs_eur"],
        "shopping": shopping,
    }, geojson


def _inline(shipment: dict[str, Any], reference: str) -> dict[str, Any]:
    """A shipment of another organization as the carrier receives it: its view's endpoints
    are already what an inline shipment takes."""
    fields = ("pickup", "delivery", "load_kg", "load_m3")
    return {"reference": reference, **{k: shipment[k] for k in fields}}


def _parcels(sites: dict[str, dict[str, str]], day: date) -> list[dict[str, Any]]:
    """The shops' deliveries of the day: crates of reused fittings and goods from the reuse
    yards and logistics sites around town to the shops of the hub's zone."""
    rng = random.Random(12)
    hub = (float(sites[HUB]["lon"]), float(sites[HUB]["lat"]))
    shops = [
        row
        for row in sites.values()
        if row["category"] in PARCEL_DESTINATIONS
        and haversine_m([hub, (float(row["lon"]), float(row["lat"]))])[0, 1] <= ZONE_KM * 1000
    ]

    def at(hour: int, minute: int = 0) -> str:
        return datetime.combine(day, time(hour, minute), tzinfo=BRUSSELS).isoformat()

    return [
        {
            "reference": f"parcel-{k + 1:02d}",
            "pickup": {
                "location": _point(sites[PARCEL_ORIGINS[k % len(PARCEL_ORIGINS)]]),
                "window_from": at(7),
                "window_until": at(10),
                "service_s": 120,
            },
            "delivery": {
                "location": _point(rng.choice(shops)),
                "window_from": at(10),
                "window_until": at(17),
                "service_s": 240,
            },
            "load_kg": rng.choice([30, 45, 60, 80]),
            "load_m3": rng.choice([0.1, 0.2, 0.3]),
        }
        for k in range(PARCELS)
    ]


def write_geojson(path: Path, geojson: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(geojson, ensure_ascii=False), encoding="utf-8")


def print_report(report: dict[str, Any], geojson_path: Path) -> None:
    kpis, baseline, saving = report["kpis"], report["baseline"], report["saving"]
    shop = report["shopping"]
    tiers = kpis["by_tier"]
    lines = [
        f"boucle: a day in Brussels, {report['day']} ({report['matrix']} matrix)",
        f"  matching: {report['matches']} matches accepted, {report['matched_t']} t of material "
        f"({report['by_truck_t']} t of it too heavy for the rounds, left to a tipper truck)",
        f"  Recy-K yard: {len(report['yard_lots'])} lots taken in "
        + ", ".join(f"{lot['material']} {lot['kg']} kg" for lot in report["yard_lots"])
        + f"; {report['yard_stock_t']} t in stock",
        f"  rounds: {report['shipments']} shipments, {report['via_hub']} through the TIR hub "
        f"by cargo bike, {report['unassigned']} unassigned",
        f"    vans (trunk): {tiers['trunk']['km']} km, {tiers['trunk']['co2_kg']} kg CO2e",
        f"    cargo bikes (last mile): {tiers['last_mile']['km']} km, "
        f"{tiers['last_mile']['co2_kg']} kg CO2e",
        f"    total: {kpis['km']} km and {kpis['co2_kg']} kg CO2e, against {baseline['km']} km "
        f"and {baseline['co2_kg']} kg CO2e by vans door to door "
        f"(-{saving['km_pct']} % km, -{saving['co2_pct']} % CO2e)",
        f"    costs compared (EUR): {report['compared_costs_eur']}",
        f"  shopping (COMM 12): {shop['deliveries']} deliveries booked by {shop['shops']} shops "
        f"of {', '.join(shop['districts'])} into shared cargo-bike rounds "
        f"({shop['paid_eur']} EUR VAT included); the morning slot closed and planned: "
        f"{shop['planned']} planned, {shop['bikes_riding']} bikes riding {shop['round_km']} km "
        f"({shop['round_co2_kg']} kg CO2e) against {shop['vans_alone_km']} km and "
        f"{shop['vans_alone_co2_kg']} kg CO2e by vans alone",
        f"  plan as GeoJSON: {geojson_path} (map data {OSM_CREDIT})",
    ]
    print("\n".join(lines))
