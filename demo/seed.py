"""The demo data `make run` seeds, built from `shared/data/brussels/`: organizations, their
sites, offers and requests, and a day of parcels for the port's hubs, created through the
services so that every rule applies. Loading twice changes nothing: the demo organizations have
fixed ids."""

import csv
import json
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.fleet.schemas import VehicleCreate
from app.fleet.service import create_vehicle, list_vehicles
from app.hubs.access import HUB_KINDS
from app.hubs.capacity import set_hub_settings
from app.hubs.schemas import HubSettings
from app.kit.local_time import BRUSSELS
from app.kit.pagination import PageParams
from app.kit.principal import Principal
from app.kit.private_files import write_private_file
from app.kit.quantity import Quantity
from app.listings.offers import OFFERS, OfferCreate
from app.listings.requests import REQUESTS, RequestCreate
from app.listings.service import create_listing
from app.models import Organization, Site
from app.offers.service import OFFER_EFFECTS
from app.organizations.schemas import OrganizationCreate
from app.organizations.service import create_organization
from app.requests.service import REQUEST_EFFECTS
from app.settings import Settings
from app.shipments.schemas import ShipmentCreate
from app.shipments.service import create_shipment
from app.sites.schemas import SiteCreate
from app.sites.service import create_site

SITES_FILE = Path("data/brussels/brussels_demo_sites.csv")
_NAMESPACE = uuid.UUID("6f1c2d4e-0b0c-4c1e-9a51-b0c1e0000000")


@dataclass(frozen=True)
class DemoOrganization:
    slug: str
    name: str
    roles: tuple[str, ...]
    # Site ids of the CSV (or a category prefix) and the kind each becomes.
    sites: tuple[tuple[str, str], ...]
    # Whether its yards and hubs are in the open data (the real ones are public places).
    publishes_hubs: bool = False


ORGANIZATIONS = (
    DemoOrganization(
        "bruxelles-proprete",
        "Bruxelles-Propreté (Recy-K, Recyparks)",
        ("supplier", "hub_operator"),
        (
            ("recy-k", "yard"),
            ("recypark-nord", "yard"),
            ("recypark-sud", "yard"),
            ("container_park", "yard"),
        ),
        publishes_hubs=True,
    ),
    DemoOrganization(
        "rotor", "Rotor Deconstruction", ("supplier", "consumer"), (("rotor-dc", "yard"),)
    ),
    DemoOrganization(
        "mpro", "MPRO Bruxelles", ("supplier", "consumer"), (("mpro-bruxelles", "production"),)
    ),
    DemoOrganization(
        "port",
        "Port de Bruxelles (hypothetical hubs)",
        ("hub_operator", "carrier"),
        (
            ("tir-centre", "hub"),
            ("tour-taxis", "hub"),
            ("mabru", "hub"),
            ("abattoir", "hub"),
            ("schaerbeek-formation", "hub"),
        ),
    ),
    DemoOrganization(
        "chantiers",
        "Chantiers bruxellois (demo builder)",
        ("supplier", "consumer"),
        (("commune_centroid", "construction_site"),),
    ),
    DemoOrganization(
        "commerces",
        "Commerces de quartier (demo shops)",
        ("supplier", "consumer"),
        (("shopping_street", "shop"),),
    ),
)

# EWC code, title, unit, typical quantity range, condition.
ListingTemplate = tuple[str, str, str, tuple[float, float], str]
SUPPLY: dict[str, list[ListingTemplate]] = {
    "yard": [
        ("170201", "Reclaimed timber", "t", (0.5, 6), "B"),
        ("170102", "Used bricks", "t", (1, 12), "B"),
        ("170405", "Steel sections", "t", (0.2, 3), "A"),
        ("170802", "Gypsum board offcuts", "t", (0.5, 4), "C"),
        ("200110", "Sorted textiles", "kg", (100, 900), "B"),
    ],
    "production": [
        ("170101", "Crushed concrete", "t", (5, 40), "C"),
        ("170504", "Excavated soil", "t", (10, 60), "C"),
    ],
    "construction_site": [
        ("170504", "Excavated soil", "t", (5, 50), "C"),
        ("170107", "Concrete and brick mix", "t", (2, 20), "C"),
        ("170201", "Formwork timber", "t", (0.3, 2), "B"),
        ("170202", "Window glass", "piece", (4, 40), "A"),
    ],
    "shop": [
        ("150101", "Cardboard packaging", "kg", (50, 400), "A"),
        ("200108", "Food surplus", "kg", (20, 200), "A"),
        ("200110", "Unsold clothes", "kg", (20, 150), "A"),
    ],
}
DEMAND: dict[str, list[ListingTemplate]] = {
    "construction_site": [
        ("1705", "Fill material", "t", (5, 30), "C"),
        ("170201", "Timber for hoarding", "t", (0.5, 3), "B"),
        ("170102", "Bricks for a facade", "t", (1, 8), "B"),
        ("1704", "Metal for a workshop", "t", (0.2, 2), "B"),
    ],
    "shop": [
        ("170201", "Timber for shop fittings", "t", (0.2, 1), "A"),
        ("1501", "Packaging", "kg", (20, 200), "A"),
    ],
    "yard": [("17", "Construction materials to recondition", "t", (1, 10), "C")],
    "production": [("170101", "Crushed concrete for aggregates", "t", (10, 50), "C")],
}


def demo_id(*parts: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, "/".join(parts))


def _sites_for(rows: list[dict[str, str]], selector: str) -> list[dict[str, str]]:
    return [r for r in rows if selector in (r["id"], r["category"])]


# The demo day: three hypothetical hubs, their fleet, and parcels between demo sites.
DEMO_HUBS = ("tir-centre", "tour-taxis", "abattoir")
DEMO_PICKUP_CATEGORIES = (
    "reuse_hub",
    "recypark",
    "materials_distributor",
    "logistics_market",
    "port_logistics",
)
DEMO_DELIVERY_CATEGORIES = ("shopping_street", "shopping_mall", "commune_centroid")
DEMO_SHIPMENTS = 60


async def load_demo_day(
    session: AsyncSession, settings: Settings, site_rows: list[dict[str, str]], day: date
) -> int:
    """6 cargo bikes and 2 vans at three hubs of the port's demo organization, and 60 parcels
    for `day` between demo sites; answers how many shipments it created."""
    carrier = Principal(organization_id=demo_id("port"), roles=("hub_operator", "carrier"))
    if await list_vehicles(session, carrier, PageParams(limit=1, after=None)):
        return 0
    rng = random.Random(14083)
    by_id = {row["id"]: row for row in site_rows}
    hubs = [_lonlat_point(by_id[h]) for h in DEMO_HUBS]
    for k in range(6):
        await create_vehicle(
            session,
            settings,
            carrier,
            VehicleCreate.model_validate(
                {"name": f"Cargo bike {k + 1}", "type": "cargo_bike", "start": hubs[k % 3]}
            ),
        )
    for k in range(2):
        await create_vehicle(
            session,
            settings,
            carrier,
            VehicleCreate.model_validate({"name": f"Van {k + 1}", "type": "van", "start": hubs[k]}),
        )
    pickups = [r for r in site_rows if r["category"] in DEMO_PICKUP_CATEGORIES]
    deliveries = [r for r in site_rows if r["category"] in DEMO_DELIVERY_CATEGORIES]

    def moment(hour: int) -> str:
        return datetime.combine(day, time(hour), tzinfo=BRUSSELS).isoformat()

    for k in range(DEMO_SHIPMENTS):
        await create_shipment(
            session,
            settings,
            carrier,
            ShipmentCreate.model_validate(
                {
                    "reference": f"demo-{k + 1:02d}",
                    "pickup": {
                        "location": _lonlat_point(rng.choice(pickups)),
                        "window_from": moment(8),
                        "window_until": moment(13),
                        "service_s": 180,
                    },
                    "delivery": {
                        "location": _lonlat_point(rng.choice(deliveries)),
                        "window_from": moment(9),
                        "window_until": moment(18),
                        "service_s": 240,
                    },
                    "load_kg": rng.choice([5, 10, 15, 20, 30, 40]),
                    "load_m3": rng.choice([0.05, 0.1, 0.2]),
                }
            ),
        )
    return DEMO_SHIPMENTS


def _lonlat_point(row: dict[str, str]) -> dict[str, object]:
    return {"type": "Point", "coordinates": [float(row["lon"]), float(row["lat"])]}


def demo_keys_by_id(keys: dict[str, Any]) -> dict[str, dict[str, str]]:
    """A keys file as this version writes it: by organization id, each with its name and key.
    Files written before were keyed by name, which no answer of the API carries."""
    by_name = {demo.name: str(demo_id(demo.slug)) for demo in ORGANIZATIONS}
    return {
        (by_name.get(key, key) if isinstance(entry, str) else key): (
            {"name": key, "api_key": entry} if isinstance(entry, str) else entry
        )
        for key, entry in keys.items()
    }


def save_demo_keys(path: Path, keys: dict[str, dict[str, str]]) -> None:
    """Adds the new keys to the file, by organization id (a file of an earlier version, keyed
    by name, is rewritten so)."""
    if not keys and not path.exists():
        return
    known = demo_keys_by_id(json.loads(path.read_text())) if path.exists() else {}
    write_private_file(path, json.dumps({**known, **keys}, indent=2, ensure_ascii=False) + "\n")


async def load_demo(
    session: AsyncSession, settings: Settings, today: date
) -> dict[str, dict[str, str]]:
    """Creates what is missing; answers the API keys of organizations created now, by their
    id: `{"<id>": {"name": ..., "api_key": ...}}`."""
    with (settings.shared_dir / SITES_FILE).open(encoding="utf-8", newline="") as f:
        site_rows = list(csv.DictReader(f))
    rng = random.Random(2026)
    new_keys: dict[str, dict[str, str]] = {}
    for demo in ORGANIZATIONS:
        org_id = demo_id(demo.slug)
        if await session.get(Organization, org_id) is not None:
            continue
        _, key = await create_organization(
            session,
            OrganizationCreate.model_validate({"name": demo.name, "roles": demo.roles}),
            org_id,
        )
        new_keys[str(org_id)] = {"name": demo.name, "api_key": key}
        principal = Principal(organization_id=org_id, roles=demo.roles)
        for selector, kind in demo.sites:
            for row in _sites_for(site_rows, selector):
                site = await create_site(
                    session,
                    settings,
                    principal,
                    SiteCreate.model_validate(
                        {
                            "name": row["name"],
                            "kind": kind,
                            "address": row["address"] or None,
                            "location": {
                                "type": "Point",
                                "coordinates": [float(row["lon"]), float(row["lat"])],
                            },
                            "access_notes": row["note"] or None,
                        }
                    ),
                )
                if demo.publishes_hubs and kind in HUB_KINDS:
                    await set_hub_settings(
                        session, principal, site.id, HubSettings(public=True), None
                    )
                await _post_listings(session, settings, principal, site, kind, rng, today)
    await load_demo_day(session, settings, site_rows, today + timedelta(days=1))
    return new_keys


async def _post_listings(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    site: Site,
    kind: str,
    rng: random.Random,
    today: date,
) -> None:
    if "supplier" in principal.roles or "hub_operator" in principal.roles:
        for code, title, unit, (low, high), condition in rng.sample(
            SUPPLY.get(kind, []), k=min(2, len(SUPPLY.get(kind, [])))
        ):
            start = today + timedelta(days=rng.randint(0, 20))
            await create_listing(
                OFFERS,
                OFFER_EFFECTS,
                session,
                settings,
                principal,
                OfferCreate(
                    site_id=site.id,
                    material=code,
                    title=title,
                    condition=condition,
                    quantity=Quantity.model_validate(
                        {"value": _amount(rng, low, high, unit), "unit": unit}
                    ),
                    mass_kg=rng.randint(15, 40) * 1.0 if unit == "piece" else None,
                    available_from=start,
                    available_until=start + timedelta(days=rng.randint(14, 60)),
                    price_per_unit=round(rng.uniform(-20, 60), 2),
                ),
            )
    if "consumer" in principal.roles:
        for code, title, unit, (low, high), condition in rng.sample(
            DEMAND.get(kind, []), k=min(1, len(DEMAND.get(kind, [])))
        ):
            start = today + timedelta(days=rng.randint(5, 25))
            await create_listing(
                REQUESTS,
                REQUEST_EFFECTS,
                session,
                settings,
                principal,
                RequestCreate(
                    site_id=site.id,
                    material=code,
                    title=title,
                    min_condition=condition,
                    quantity=Quantity.model_validate(
                        {"value": _amount(rng, low, high, unit), "unit": unit}
                    ),
                    needed_from=start,
                    needed_by=start + timedelta(days=rng.randint(10, 40)),
                    max_distance_km=rng.choice([5, 10, 15, 25]),
                ),
            )


def _amount(rng: random.Random, low: float, high: float, unit: str) -> float:
    value = rng.uniform(low, high)
    return float(round(value)) if unit in ("piece", "kg") else round(value, 1)
