"""The shopping day of `make demo` (COMM 12): the carrier's cargo-bike co-op publishes shared
rounds over two shopping districts, Rue Neuve and Rue de Brabant, riding from the TIR hub;
four shops of those districts quote and book deliveries to their customers (one customer gives
an address, which the geocoder finds); the co-op closes the morning slot and its rounds are
planned, as at a cut-off. Its figures: what was booked, and the morning round against each
delivery made by a van alone from the hub and back."""

import random
from datetime import date, datetime, time
from typing import Any, Protocol

from fastapi import FastAPI
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import shape

from app.deliveries.pricing import VAN_CO2_G_PER_KM
from app.kit.local_time import BRUSSELS
from app.worker.process import work_until_idle

DISTRICTS = ("rue-neuve-nieuwstraat", "rue-de-brabant-brabantstraat")
# (shop, the demo site it stands at, its district)
SHOPS = (
    ("Librairie de la Rue Neuve", (4.35581, 50.8526), DISTRICTS[0]),
    ("Chaussures Nieuwstraat", (4.3563, 50.8534), DISTRICTS[0]),
    ("Épicerie Brabant", (4.36334, 50.86021), DISTRICTS[1]),
    ("Tissus de Brabant", (4.3625, 50.8592), DISTRICTS[1]),
)
ORDERS_A_SHOP = 3
# A customer who gives an address, not a point: the geocoder finds the door.
ADDRESS = "Rue Neuve 111, 1000 Bruxelles"
BIKES = 2
SERVICE = {
    "name": "Tournées communes Rue Neuve & Brabant",
    "districts": list(DISTRICTS),
    "weekdays": [1, 2, 3, 4, 5, 6, 7],
    "slots": [
        {"start": "09:00", "end": "12:00", "cutoff_before": "PT2H"},
        {"start": "14:00", "end": "17:00", "cutoff_before": "PT2H"},
    ],
    "prices": {"per_delivery_eur": 6.5, "per_kg_eur": 0.2, "included_kg": 5, "vat_rate": 0.21},
    "max_parcel_kg": 30,
    "max_parcel_m3": 0.3,
}


class Api(Protocol):
    keys: dict[str, str]

    async def call(self, actor: str | None, method: str, path: str, **kwargs: Any) -> Any: ...


def _customer(rng: random.Random, outline: Any) -> list[float]:
    """A door within the district, drawn at random."""
    west, south, east, north = outline.bounds
    while True:
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        if outline.contains(ShapelyPoint(lon, lat)):
            return [round(lon, 6), round(lat, 6)]


async def play_shopping_day(
    api: Api, app: FastAPI, day: date, hub_site_id: str, run_tag: str
) -> dict[str, Any]:
    """Plays the shopping day on `day` for the carrier `api.keys["carrier"]`, whose hub is
    `hub_site_id`; answers its figures."""
    bikes = [
        await api.call(
            "carrier",
            "POST",
            "/v1/vehicles",
            json={"name": f"Long John {k}", "type": "cargo_bike", "start_site_id": hub_site_id},
        )
        for k in range(1, BIKES + 1)
    ]
    service = await api.call(
        "carrier",
        "POST",
        "/v1/delivery-services",
        json={**SERVICE, "hub_site_id": hub_site_id, "vehicle_ids": [b["id"] for b in bikes]},
    )
    outlines = {
        slug: shape((await api.call("carrier", "GET", f"/v1/districts/{slug}"))["geometry"])
        for slug in DISTRICTS
    }
    rng = random.Random(12)
    window = {
        "earliest": datetime.combine(day, time(9), BRUSSELS).isoformat(),
        "latest": datetime.combine(day, time(12), BRUSSELS).isoformat(),
    }
    booked = []
    for k, (name, (lon, lat), slug) in enumerate(SHOPS):
        actor = f"shop-{k}"
        org = await api.call(
            None,
            "POST",
            "/v1/organizations",
            json={"name": f"{name} ({run_tag})", "roles": ["shop"]},
        )
        api.keys[actor] = org["api_key"]
        site = await api.call(
            actor,
            "POST",
            "/v1/sites",
            json={
                "name": name,
                "kind": "shop",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            },
        )
        for order in range(ORDERS_A_SHOP):
            ask: dict[str, Any] = {
                "pickup_site_id": site["id"],
                "parcels": {"count": 1 + order, "weight_kg": 2.5 + 3 * order, "volume_m3": 0.02},
                **window,
            }
            if k == 2 and order == 0:
                ask["dropoff_address"] = ADDRESS
            else:
                ask["dropoff"] = {"type": "Point", "coordinates": _customer(rng, outlines[slug])}
            quote = await api.call(actor, "POST", "/v1/delivery-quotes", json=ask)
            first = quote["options"][0]
            delivery = await api.call(
                actor,
                "POST",
                "/v1/deliveries",
                json={
                    "quote_id": quote["id"],
                    "option_id": first["id"],
                    "reference": f"#{k}{order}",
                },
            )
            booked.append((actor, delivery))

    # The co-op closes the morning slot (its cut-off would come at 07:00): its rounds are planned.
    slots = await api.call(
        "carrier",
        "GET",
        f"/v1/delivery-services/{service['id']}/slots",
        params={"from": day.isoformat(), "days": 1},
    )
    [morning] = [s for s in slots["items"] if s["deliveries"]]
    closed = await api.call(
        "carrier",
        "POST",
        f"/v1/delivery-services/{service['id']}/slots/{morning['id']}/close",
    )
    await work_until_idle(app)
    plan = await api.call("carrier", "GET", f"/v1/route-plans/{closed['route_plan_id']}")
    result = plan["result"]
    statuses = [
        (await api.call(actor, "GET", f"/v1/deliveries/{delivery['id']}"))["status"]
        for actor, delivery in booked
    ]
    van_co2e_g = sum(delivery["van_co2e_g"] for _, delivery in booked)
    return {
        "deliveries": len(booked),
        "shops": len(SHOPS),
        "districts": list(DISTRICTS),
        "planned": statuses.count("planned"),
        "paid_eur": round(sum(d["price_incl_vat"] for _, d in booked), 2),
        "round_km": result["kpis"]["km"],
        "round_co2_kg": result["kpis"]["co2_kg"],
        # Each delivery by a van alone, from the hub and back (as each quote measured it).
        "vans_alone_km": round(van_co2e_g / VAN_CO2_G_PER_KM, 1),
        "vans_alone_co2_kg": round(van_co2e_g / 1000, 1),
        "bikes_riding": len(result["routes"]),
    }
