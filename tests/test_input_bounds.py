"""No input answers 500: cursors are checked against the shape of their list, numbers against
what their column stores and what the physics allows, strings carry no control characters,
times pair zoned with zoned, and If-Match compares strongly. Each refusal is a 422 (or 412)
naming the field and the rule, and writes nothing; the values at the edges still pass."""

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text, update

from app.models import WebhookDelivery
from app.webhooks.outbox import emit
from tests.conftest import (
    ADMIN_TOKEN,
    GRAND_PLACE,
    RECY_K,
    SECRET,
    TOUR_TAXIS,
    Org,
    OrgFactory,
    assert_problem,
    offer_body,
    point,
    request_body,
)

DAY = "2026-12-01"
YARD = [4.2660, 50.8160]
# Rows an organization owns, by table, for "nothing was written".
OWNED_TABLES = (
    "sites",
    "offers",
    "material_requests",
    "vehicles",
    "shipments",
    "webhooks",
    "matching_runs",
)


async def send(
    client: httpx.AsyncClient, method: str, path: str, org: Org, body: Any
) -> httpx.Response:
    """`body` as JSON, NaN and Infinity included: httpx's `json=` refuses them, while the
    API's parser reads them as numbers."""
    return await client.request(
        method,
        path,
        content=json.dumps(body),
        headers={**org.headers, "Content-Type": "application/json"},
    )


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def nested_arrays(depth: int) -> str:
    return base64.urlsafe_b64encode(("[" * depth + "]" * depth).encode()).decode()


async def owned_rows(app: FastAPI, org: Org) -> dict[str, int]:
    async with app.state.sessionmaker() as session:
        counts = {}
        for table in OWNED_TABLES:
            counts[table] = await session.scalar(
                text(f"SELECT count(*) FROM {table} WHERE organization_id = :org"),
                {"org": uuid.UUID(org.id)},
            )
        counts["hub_thresholds"] = await session.scalar(
            text(
                "SELECT count(*) FROM hub_pooling_thresholds t JOIN sites s ON s.id = t.hub_id "
                "WHERE s.organization_id = :org"
            ),
            {"org": uuid.UUID(org.id)},
        )
    return counts


def window(start: str, end: str) -> dict[str, str]:
    return {"window_from": f"{DAY}T{start}:00+01:00", "window_until": f"{DAY}T{end}:00+01:00"}


def shipment_body(**overrides: Any) -> dict[str, Any]:
    return {
        "pickup": {"location": point(TOUR_TAXIS), **window("08:00", "12:00")},
        "delivery": {"location": point(RECY_K), **window("09:00", "17:00")},
        "load_kg": 20,
        **overrides,
    }


@pytest.fixture
async def org(make_org: OrgFactory) -> Org:
    return await make_org("supplier", "consumer", "carrier", "hub_operator", "admin")


async def _yard(client: httpx.AsyncClient, org: Org) -> str:
    site = await client.post(
        "/v1/sites",
        json={"name": "Yard", "kind": "yard", "location": point(YARD)},
        headers=org.headers,
    )
    assert site.status_code == 201, site.text
    return str(site.json()["id"])


async def _subscription(client: httpx.AsyncClient, org: Org) -> str:
    created = await client.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["match.accepted"], "secret": SECRET},
        headers=org.headers,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


BAD_CURSORS = [
    "garbage!",
    "bm90IGpzb24",  # "not json", unpadded
    cursor_of({"a": 1}),
    cursor_of([]),
    cursor_of("2026-01-01T00:00:00+00:00"),
    cursor_of([[["2026-01-01T00:00:00+00:00"]]]),
    cursor_of(["not a date", str(uuid.uuid4())]),
    cursor_of(["2026-01-01T00:00:00+00:00", "not a uuid"]),
    cursor_of(["2026-01-01T00:00:00", str(uuid.uuid4())]),  # no zone
    cursor_of(["0001-01-01T00:00:00+01:00", str(uuid.uuid4())]),  # year 0 in UTC
    cursor_of([12.5, str(uuid.uuid4())]),  # a distance cursor
    cursor_of(["170504"]),  # a materials cursor
    cursor_of(["2026-01-01T00:00:00+00:00", str(uuid.uuid4()), 1]),
    cursor_of([True, None]),
    base64.urlsafe_b64encode(b'[NaN, "x"]').decode(),
    cursor_of(["2026-01-01T00:00:00+00:00\u0000", str(uuid.uuid4())]),
    nested_arrays(5000),
    nested_arrays(100),
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_cursor_not_made_for_the_list_answers_422(
    client: httpx.AsyncClient, org: Org, cursor: str
) -> None:
    webhook_id = await _subscription(client, org)
    hub_id = await _yard(client, org)
    for path in (
        f"/v1/webhooks/{webhook_id}/deliveries",
        f"/v1/hubs/{hub_id}/movements",
        "/v1/matches",
        "/v1/vehicles",
        "/v1/shipments",
        "/v1/webhooks",
        "/v1/offers",
    ):
        response = await client.get(path, params={"cursor": cursor}, headers=org.headers)
        assert_problem(response, 422, "cursor", "valid_cursor")
    await client.delete(f"/v1/webhooks/{webhook_id}", headers=org.headers)


async def test_the_cursor_of_a_distance_order_is_refused_by_the_creation_order(
    client: httpx.AsyncClient, org: Org
) -> None:
    h = org.headers
    for _ in range(2):
        assert (await client.post("/v1/sites", json=_site(), headers=h)).status_code == 201
    near = await client.get("/v1/sites", params={"near": "4.35,50.85", "limit": 1}, headers=h)
    next_href = near.json()["links"][0]["href"]
    cursor = httpx.URL(next_href).params["cursor"]
    assert_problem(
        await client.get("/v1/sites", params={"cursor": cursor}, headers=h),
        422,
        "cursor",
        "valid_cursor",
    )
    followed = await client.get(next_href, headers=h)
    assert followed.status_code == 200 and followed.json()["numberReturned"] == 1
    materials = await client.get("/v1/materials", params={"limit": 2}, headers=h)
    material_cursor = httpx.URL(materials.json()["links"][0]["href"]).params["cursor"]
    assert_problem(
        await client.get("/v1/matches", params={"cursor": material_cursor}, headers=h),
        422,
        "cursor",
        "valid_cursor",
    )


def _site(**overrides: Any) -> dict[str, Any]:
    return {"name": "Depot", "kind": "hub", "location": point(TOUR_TAXIS), **overrides}


async def _pages(client: httpx.AsyncClient, org: Org, path: str, limit: int) -> list[list[str]]:
    """The ids of each page of a list, following its `next` links."""
    pages: list[list[str]] = []
    url: str | None = f"{path}?limit={limit}"
    while url is not None:
        response = await client.get(url, headers=org.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "links"}
        pages.append([item["id"] for item in body["items"]])
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        assert len(pages) < 10
    return pages


async def test_deliveries_created_at_the_same_instant_are_each_listed_once(
    client: httpx.AsyncClient, app: FastAPI, org: Org
) -> None:
    webhook_id = await _subscription(client, org)
    async with app.state.sessionmaker.begin() as session:
        for n in range(3):
            await emit(
                session,
                {uuid.UUID(org.id)},
                "match.accepted",
                {"match": {"id": f"m-{n}"}},
                fact=(f"m-{n}",),
            )
    # One instant for all three: the old cursor (created_at alone) skipped the ties.
    async with app.state.sessionmaker.begin() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == uuid.UUID(webhook_id))
            .values(created_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
        )
    pages = await _pages(client, org, f"/v1/webhooks/{webhook_id}/deliveries", limit=1)
    listed = [i for page in pages for i in page]
    assert len(listed) == 3 and len(set(listed)) == 3
    assert pages[-1] == []
    await client.delete(f"/v1/webhooks/{webhook_id}", headers=org.headers)


async def test_vehicles_shipments_and_webhooks_are_paged_like_every_list(
    client: httpx.AsyncClient, org: Org
) -> None:
    h = org.headers
    made: dict[str, list[str]] = {"vehicles": [], "shipments": [], "webhooks": []}
    for k in range(3):
        vehicle = await client.post(
            "/v1/vehicles",
            json={"name": f"Bike {k}", "type": "cargo_bike", "start": point(TOUR_TAXIS)},
            headers=h,
        )
        shipment = await client.post("/v1/shipments", json=shipment_body(), headers=h)
        webhook = await client.post(
            "/v1/webhooks",
            json={"url": f"http://127.0.0.1:9/{k}", "events": ["match.accepted"], "secret": SECRET},
            headers=h,
        )
        for kind, created in (
            ("vehicles", vehicle),
            ("shipments", shipment),
            ("webhooks", webhook),
        ):
            assert created.status_code == 201, created.text
            made[kind].append(created.json()["id"])
    for kind, ids in made.items():
        pages = await _pages(client, org, f"/v1/{kind}", limit=2)
        assert pages == [ids[:2], ids[2:]], kind
        assert_problem(
            await client.get(f"/v1/{kind}", params={"limit": 0}, headers=h),
            422,
            "limit",
            "greater_than_equal",
        )
    for webhook_id in made["webhooks"]:
        await client.delete(f"/v1/webhooks/{webhook_id}", headers=h)


TOO_BIG_OR_TOO_FINE: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "offers",
        offer_body(mass_kg=1e13, quantity={"value": 1, "unit": "piece"}),
        "mass_kg",
        "less_than_equal",
    ),
    (
        "offers",
        offer_body(quantity={"value": 1e13, "unit": "t"}),
        "quantity.value",
        "less_than_equal",
    ),
    (
        "offers",
        offer_body(quantity={"value": 0.0004, "unit": "t"}),
        "quantity.value",
        "multiple_of",
    ),
    (
        "offers",
        offer_body(quantity={"value": 0.0006, "unit": "t"}),
        "quantity.value",
        "multiple_of",
    ),
    (
        "offers",
        offer_body(quantity={"value": 5e-324, "unit": "t"}),
        "quantity.value",
        "multiple_of",
    ),
    (
        "offers",
        offer_body(quantity={"value": float("nan"), "unit": "t"}),
        "quantity.value",
        "finite_number",
    ),
    (
        "offers",
        offer_body(quantity={"value": float("inf"), "unit": "t"}),
        "quantity.value",
        "finite_number",
    ),
    ("offers", offer_body(min_lot=0.0001), "min_lot", "multiple_of"),
    ("offers", offer_body(price_per_unit=1.005), "price_per_unit", "multiple_of"),
    ("offers", offer_body(price_per_unit=float("-inf")), "price_per_unit", "finite_number"),
    (
        "offers",
        offer_body(volume_m3=1e20, quantity={"value": 1, "unit": "piece"}),
        "volume_m3",
        "less_than_equal",
    ),
    (
        "requests",
        request_body(mass_kg=1e13, quantity={"value": 1, "unit": "piece"}),
        "mass_kg",
        "less_than_equal",
    ),
    (
        "requests",
        request_body(quantity={"value": 1e13, "unit": "kg"}),
        "quantity.value",
        "less_than_equal",
    ),
    ("requests", request_body(max_distance_km=0.0004), "max_distance_km", "multiple_of"),
    ("requests", request_body(max_distance_km=float("nan")), "max_distance_km", "finite_number"),
    ("requests", request_body(max_price_per_unit=0.001), "max_price_per_unit", "multiple_of"),
    (
        "vehicles",
        {"name": "V", "type": "van", "capacity_kg": 1e308},
        "capacity_kg",
        "less_than_equal",
    ),
    (
        "vehicles",
        {"name": "V", "type": "van", "capacity_m3": 1e308},
        "capacity_m3",
        "less_than_equal",
    ),
    (
        "vehicles",
        {"name": "V", "type": "van", "speed_kmh": 5e-324},
        "speed_kmh",
        "greater_than_equal",
    ),
    ("vehicles", {"name": "V", "type": "van", "range_km": 1e308}, "range_km", "less_than_equal"),
    (
        "vehicles",
        {"name": "V", "type": "van", "cost_per_km": 1e308},
        "cost_per_km",
        "less_than_equal",
    ),
    (
        "vehicles",
        {"name": "V", "type": "van", "fixed_cost": float("inf")},
        "fixed_cost",
        "finite_number",
    ),
    ("shipments", shipment_body(load_kg=float("nan")), "load_kg", "finite_number"),
    ("shipments", shipment_body(load_m3=1e308), "load_m3", "less_than_equal"),
    (
        "sites",
        _site(location=point([1e300, 1e300], "EPSG:31370")),
        "location.coordinates",
        "value_error",
    ),
    (
        "sites",
        _site(location=point([float("nan"), 50.8])),
        "location.coordinates.0",
        "finite_number",
    ),
    ("matching/runs", {"near": [float("inf"), 50.85], "radius_km": 5}, "near.0", "finite_number"),
    (
        "matching/runs",
        {"near": [4.35, 50.85], "radius_km": float("nan")},
        "radius_km",
        "finite_number",
    ),
    ("matching/runs", {"near": [4.35, 50.85], "radius_km": 101}, "radius_km", "less_than_equal"),
    ("matching/runs", {"near": [500, 100], "radius_km": 5}, "near", "coordinate_range"),
    ("matching/runs", {"near": [4.35, 50.85]}, "radius_km", "required_with_near"),
    ("matching/runs", {"radius_km": 5}, "radius_km", "requires_near"),
]


@pytest.mark.parametrize(("what", "body", "field", "rule"), TOO_BIG_OR_TOO_FINE)
async def test_a_number_its_column_cannot_hold_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, app: FastAPI, org: Org, what: str, body: Any, field: str, rule: str
) -> None:
    before = await owned_rows(app, org)
    response = await send(client, "POST", f"/v1/{what}", org, body)
    assert_problem(response, 422, field, rule)
    assert await owned_rows(app, org) == before


# A vehicle's bounds as its schema states them: the bound itself is taken, a gram, a litre or
# a metre more is refused.
VEHICLE_BOUNDS = [
    ("capacity_kg", 100_000, 100_000.001),
    ("capacity_m3", 200, 200.001),
    ("speed_kmh", 130, 130.001),
    ("range_km", 2000, 2000.001),
]


@pytest.mark.parametrize(("field", "bound", "over"), VEHICLE_BOUNDS)
async def test_a_vehicle_takes_its_bound_and_not_a_thousandth_more(
    client: httpx.AsyncClient, org: Org, field: str, bound: float, over: float
) -> None:
    body = {"name": "V", "type": "truck", "start": point(GRAND_PLACE)}
    taken = await send(client, "POST", "/v1/vehicles", org, {**body, field: bound})
    assert taken.status_code == 201 and taken.json()[field] == bound, taken.text
    refused = await send(client, "POST", "/v1/vehicles", org, {**body, field: over})
    assert_problem(refused, 422, field, "less_than_equal")


HUB_SETTINGS: list[tuple[dict[str, Any], str, str]] = [
    ({"capacity": {"t": 1e20}}, "capacity.t", "less_than_equal"),
    ({"capacity": {"m3": float("inf")}}, "capacity.m3", "finite_number"),
    (
        {"capacity": {"families": [{"material": "17", "t": 0.0001}]}},
        "capacity.families.0.t",
        "multiple_of",
    ),
    (
        {"pooling": [{"material": "1702", "threshold_t": 1e20}]},
        "pooling.0.threshold_t",
        "less_than_equal",
    ),
    (
        {"pooling": [{"material": "1702", "threshold_t": 5e-324}]},
        "pooling.0.threshold_t",
        "multiple_of",
    ),
    (
        {"pooling": [{"material": "1702", "threshold_t": 3, "radius_km": 0.0004}]},
        "pooling.0.radius_km",
        "multiple_of",
    ),
    (
        {"pooling": [{"material": "1702", "threshold_t": 3, "radius_km": 101}]},
        "pooling.0.radius_km",
        "less_than_equal",
    ),
]


@pytest.mark.parametrize(("settings", "field", "rule"), HUB_SETTINGS)
async def test_hub_settings_past_their_columns_are_refused_and_change_nothing(
    client: httpx.AsyncClient, org: Org, settings: dict[str, Any], field: str, rule: str
) -> None:
    hub_id = await _yard(client, org)
    kept = {"capacity": {"t": 400}, "pooling": [{"material": "1912", "threshold_t": 3}]}
    assert (
        await client.put(f"/v1/hubs/{hub_id}", json=kept, headers=org.headers)
    ).status_code == 200
    before = (await client.get(f"/v1/hubs/{hub_id}", headers=org.headers)).json()
    response = await send(client, "PUT", f"/v1/hubs/{hub_id}", org, settings)
    assert_problem(response, 422, field, rule)
    assert (await client.get(f"/v1/hubs/{hub_id}", headers=org.headers)).json() == before


async def test_a_movement_quantity_past_its_column_is_refused(
    client: httpx.AsyncClient, org: Org
) -> None:
    hub_id = await _yard(client, org)
    intake = {"kind": "intake", "walk_in": "A", "material": "170201", "condition": "B"}
    for quantity, field, rule in (
        ({"value": 1e13, "unit": "t"}, "quantity.value", "less_than_equal"),
        ({"value": 0.0004, "unit": "t"}, "quantity.value", "multiple_of"),
        ({"value": float("nan"), "unit": "t"}, "quantity.value", "finite_number"),
    ):
        body = {**intake, "quantity": quantity}
        response = await send(client, "POST", f"/v1/hubs/{hub_id}/movements", org, body)
        assert_problem(response, 422, field, rule)
    movements = await client.get(f"/v1/hubs/{hub_id}/movements", headers=org.headers)
    assert movements.json()["items"] == []


async def test_values_at_the_edges_are_stored_as_given(client: httpx.AsyncClient, org: Org) -> None:
    h = org.headers
    smallest = await client.post(
        "/v1/offers",
        json=offer_body(quantity={"value": 0.001, "unit": "t"}, price_per_unit=-0.01),
        headers=h,
    )
    assert smallest.status_code == 201, smallest.text
    read = (await client.get(smallest.headers["location"], headers=h)).json()
    assert read["quantity"] == {"value": 0.001, "unit": "t"}
    assert read["mass_kg"] == 1.0 and read["price_per_unit"] == -0.01
    largest = await client.post(
        "/v1/requests",
        json=request_body(quantity={"value": 1e9, "unit": "t"}, max_distance_km=0.001),
        headers=h,
    )
    assert largest.status_code == 201, largest.text
    read = (await client.get(largest.headers["location"], headers=h)).json()
    assert read["quantity"]["value"] == 1e9 and read["mass_kg"] == 1e12
    assert read["max_distance_km"] == 0.001
    # What a float sum sends for 0.3 is 0.3.
    summed = await client.post(
        "/v1/offers", json=offer_body(quantity={"value": 0.1 + 0.2, "unit": "t"}), headers=h
    )
    assert summed.status_code == 201, summed.text
    assert summed.json()["quantity"]["value"] == 0.3
    vehicle = await client.post(
        "/v1/vehicles",
        json={"name": "Truck", "type": "truck", "capacity_kg": 100_000, "start": point(TOUR_TAXIS)},
        headers=h,
    )
    assert vehicle.status_code == 201 and vehicle.json()["capacity_kg"] == 100_000
    hub_id = await _yard(client, org)
    edge = {
        "capacity": {"t": 0.001},
        "pooling": [{"material": "1702", "threshold_t": 0.001, "radius_km": 0}],
    }
    put = await client.put(f"/v1/hubs/{hub_id}", json=edge, headers=h)
    assert put.status_code == 200, put.text
    hub = (await client.get(f"/v1/hubs/{hub_id}", headers=h)).json()
    assert hub["capacity"]["t"] == 0.001 and hub["pooling"][0]["threshold_t"] == 0.001


async def test_a_patch_is_held_to_the_same_bounds(client: httpx.AsyncClient, org: Org) -> None:
    created = await client.post("/v1/offers", json=offer_body(), headers=org.headers)
    path = created.headers["location"]
    for patch, field, rule in (
        ({"quantity": {"value": 1e13, "unit": "t"}}, "quantity.value", "less_than_equal"),
        ({"min_lot": 0.0005}, "min_lot", "multiple_of"),
        ({"price_per_unit": float("nan")}, "price_per_unit", "finite_number"),
        ({"notes": "a\u0000b"}, "notes", "no_control_characters"),
    ):
        assert_problem(await send(client, "PATCH", path, org, patch), 422, field, rule)
    read = await client.get(path, headers=org.headers)
    assert read.headers["etag"] == '"1"' and read.json()["quantity"]["value"] == 12


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"near": "4.35,50.85", "radius_km": "nan"}, "radius_km", "finite_number"),
        ({"near": "4.35,50.85", "radius_km": "inf"}, "radius_km", "finite_number"),
        ({"near": "4.35,50.85", "radius_km": "101"}, "radius_km", "less_than_equal"),
        ({"near": "nan,50.85"}, "near", "coordinate_range"),
        ({"near": "4.35,inf"}, "near", "coordinate_range"),
    ],
)
async def test_spatial_query_numbers_are_finite_and_bounded(
    client: httpx.AsyncClient, org: Org, params: dict[str, str], field: str, rule: str
) -> None:
    for what in ("offers", "requests", "sites"):
        response = await client.get(f"/v1/{what}", params=params, headers=org.headers)
        assert_problem(response, 422, field, rule)


CONTROL_STRINGS: list[tuple[str, dict[str, Any], str]] = [
    ("sites", _site(name="Yard\u0000"), "name"),
    ("sites", _site(address="Quai\u0007 Demets"), "address"),
    ("offers", offer_body(title="Soil\u0000"), "title"),
    ("offers", offer_body(material="170504\u0000"), "material"),
    ("requests", request_body(description="\u001b[31mred"), "description"),
    ("vehicles", {"name": "Bike\u0000", "type": "cargo_bike"}, "name"),
    ("shipments", shipment_body(reference="ref\u0000"), "reference"),
    (
        "webhooks",
        {
            "url": "http://127.0.0.1:9/x",
            "events": ["match.accepted"],
            "secret": "s" * 16 + "\u0000",
        },
        "secret",
    ),
    ("matching/runs", {"material": "17\u0000"}, "material"),
]


@pytest.mark.parametrize(("what", "body", "field"), CONTROL_STRINGS)
async def test_a_control_character_in_a_body_string_is_refused(
    client: httpx.AsyncClient, app: FastAPI, org: Org, what: str, body: Any, field: str
) -> None:
    before = await owned_rows(app, org)
    response = await client.post(f"/v1/{what}", json=body, headers=org.headers)
    assert_problem(response, 422, field, "no_control_characters")
    assert await owned_rows(app, org) == before


async def test_control_characters_in_names_parameters_and_paths_are_refused(
    client: httpx.AsyncClient, org: Org
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    named = await client.post(
        "/v1/organizations", json={"name": "Recy\u0000K", "roles": ["supplier"]}, headers=admin
    )
    assert_problem(named, 422, "name", "no_control_characters")
    # Tab and newlines are text, not control: a note may have lines.
    noted = await client.post(
        "/v1/offers", json=offer_body(notes="one\n\ttwo\r\n"), headers=org.headers
    )
    assert noted.status_code == 201 and noted.json()["notes"] == "one\n\ttwo\r\n"
    for path, params, field, location in (
        ("/v1/materials", {"q": "soil\u0000"}, "q", "query"),
        ("/v1/offers", {"material": "17\u0000"}, "material", "query"),
        ("/v1/materials/17%0005", {}, "code", "path"),
    ):
        response = await client.get(path, params=params, headers=org.headers)
        body = assert_problem(response, 422, field, "no_control_characters")
        assert body["errors"][0]["location"] == location


async def test_vehicle_shifts_are_local_times_and_shipment_windows_zoned(
    client: httpx.AsyncClient, app: FastAPI, org: Org
) -> None:
    before = await owned_rows(app, org)
    base = {"name": "Van", "type": "van", "start": point(TOUR_TAXIS)}
    for shift, field in (
        ({"shift_start": "08:00:00Z", "shift_end": "18:00:00"}, "shift_start"),
        ({"shift_start": "08:00:00", "shift_end": "18:00:00+01:00"}, "shift_end"),
        ({"shift_start": "08:00:00+01:00", "shift_end": "18:00:00+01:00"}, "shift_start"),
    ):
        response = await client.post("/v1/vehicles", json={**base, **shift}, headers=org.headers)
        assert_problem(response, 422, field, "local_time")
    naive = shipment_body(
        delivery={
            "location": point(RECY_K),
            "window_from": f"{DAY}T09:00:00",
            "window_until": f"{DAY}T17:00:00+01:00",
        }
    )
    assert_problem(
        await client.post("/v1/shipments", json=naive, headers=org.headers),
        422,
        "delivery.window_from",
        "timezone_aware",
    )
    # The year 0 in UTC, where it is stored.
    dawn = shipment_body(
        pickup={
            "location": point(TOUR_TAXIS),
            "window_from": "0001-01-01T00:00:00+01:00",
            "window_until": f"{DAY}T12:00:00+01:00",
        }
    )
    assert_problem(
        await client.post("/v1/shipments", json=dawn, headers=org.headers),
        422,
        "pickup.window_from",
        "datetime_range",
    )
    inline = {
        "date": DAY,
        "vehicles": [{**base, "shift_start": "08:00Z"}],
        "shipments": [shipment_body()],
    }
    assert_problem(
        await client.post("/v1/route-plans", json=inline, headers=org.headers),
        422,
        "vehicles.0.shift_start",
        "local_time",
    )
    assert await owned_rows(app, org) == before
    local = await client.post(
        "/v1/vehicles",
        json={**base, "shift_start": "06:30", "shift_end": "14:00"},
        headers=org.headers,
    )
    assert local.status_code == 201 and local.json()["shift_start"] == "06:30:00"


async def test_if_match_compares_strongly(client: httpx.AsyncClient, org: Org) -> None:
    created = await client.post("/v1/offers", json=offer_body(), headers=org.headers)
    path, etag = created.headers["location"], created.headers["etag"]
    for weak in (f"W/{etag}", f'W/{etag}, W/"7"', "1", "", '"1'):
        response = await client.patch(
            path, json={"title": "Weak"}, headers={**org.headers, "If-Match": weak}
        )
        assert_problem(response, 412)
    assert_problem(await client.delete(path, headers={**org.headers, "If-Match": f"W/{etag}"}), 412)
    read = await client.get(path, headers=org.headers)
    assert read.headers["etag"] == etag and read.json()["title"] == "Excavated soil"
    listed = await client.patch(
        path, json={"title": "Strong"}, headers={**org.headers, "If-Match": f'W/"9", {etag}'}
    )
    assert listed.status_code == 200 and listed.headers["etag"] == '"2"'
    anything = await client.patch(
        path, json={"title": "Any"}, headers={**org.headers, "If-Match": "*"}
    )
    assert anything.status_code == 200 and anything.headers["etag"] == '"3"'


async def test_vehicles_and_shipments_answer_their_etag(
    client: httpx.AsyncClient, org: Org
) -> None:
    vehicle = await client.post(
        "/v1/vehicles",
        json={"name": "Bike", "type": "cargo_bike", "start": point(TOUR_TAXIS)},
        headers=org.headers,
    )
    shipment = await client.post("/v1/shipments", json=shipment_body(), headers=org.headers)
    for created in (vehicle, shipment):
        assert created.status_code == 201 and created.headers["etag"] == '"1"'
        read = await client.get(created.headers["location"], headers=org.headers)
        assert read.headers["etag"] == '"1"'
