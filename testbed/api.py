"""Organizations made through the API, places in Brussels, and the bodies of offers, requests
and route plans that the tests and benchmarks send."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from testbed.service import ADMIN_TOKEN


@dataclass
class Org:
    id: str
    key: str
    roles: list[str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def create_org(client: httpx.AsyncClient, *roles: str, name: str | None = None) -> Org:
    """An organization made with the admin token, with these roles (supplier and consumer by
    default)."""
    roles_list = list(roles) or ["supplier", "consumer"]
    response = await client.post(
        "/v1/organizations",
        json={"name": name or f"org-{uuid.uuid4().hex[:8]}", "roles": roles_list},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Org(id=body["id"], key=body["api_key"], roles=body["roles"])


# Places in Brussels used across the tests ([lon, lat]).
RECY_K = [4.3211, 50.8413]
GRAND_PLACE = [4.3525, 50.8467]
TOUR_TAXIS = [4.3467, 50.8660]
PARIS = [2.3522, 48.8566]


def point(coordinates: list[float], crs: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "Point", "coordinates": coordinates}
    if crs:
        body["crs"] = crs
    return body


def offer_body(**overrides: Any) -> dict[str, Any]:
    return {
        "location": point(RECY_K),
        "material": "170504",
        "title": "Excavated soil",
        "quantity": {"value": 12, "unit": "t"},
        "condition": "B",
        "available_from": "2026-12-01",
        "available_until": "2026-12-31",
        **overrides,
    }


def request_body(**overrides: Any) -> dict[str, Any]:
    return {
        "location": point(GRAND_PLACE),
        "material": "1705",
        "quantity": {"value": 5, "unit": "t"},
        "needed_from": "2026-12-05",
        "needed_by": "2026-12-20",
        "max_distance_km": 15,
        "min_condition": "C",
        **overrides,
    }


PLAN_DAY = "2026-12-02"
PLAN_SHOPS = [[4.3540, 50.8510], [4.3480, 50.8470], [4.3600, 50.8450], [4.3510, 50.8400]]


def plan_body(time_limit_s: float, shops: int = 4) -> dict[str, Any]:
    """A day of `shops` parcels from Tour & Taxis by two cargo bikes (parcel-0, ...)."""

    def window(start: str, end: str) -> dict[str, str]:
        return {
            "window_from": f"{PLAN_DAY}T{start}:00+01:00",
            "window_until": f"{PLAN_DAY}T{end}:00+01:00",
        }

    return {
        "date": PLAN_DAY,
        "vehicles": [
            {"name": f"Bike {k}", "type": "cargo_bike", "start": point(TOUR_TAXIS)} for k in (1, 2)
        ],
        "shipments": [
            {
                "reference": f"parcel-{k}",
                "pickup": {"location": point(TOUR_TAXIS), **window("08:00", "12:00")},
                "delivery": {"location": point(shop), **window("09:00", "17:00")},
                "load_kg": 20,
            }
            for k, shop in enumerate(PLAN_SHOPS[:shops])
        ],
        "time_limit_s": time_limit_s,
    }
