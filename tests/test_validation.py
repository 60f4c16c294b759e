"""Every validation rule answers 422 problem+json naming the field and the rule, and writes nothing."""

from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.conftest import (
    PARIS,
    RECY_K,
    Org,
    OrgFactory,
    assert_problem,
    offer_body,
    point,
    request_body,
    settings_for,
)


@pytest.fixture
async def org(make_org: OrgFactory) -> Org:
    return await make_org("supplier", "consumer")


async def _count_mine(client: httpx.AsyncClient, org: Org, what: str) -> int:
    response = await client.get(
        f"/v1/{what}", params={"mine": "true", "limit": 500}, headers=org.headers
    )
    return int(response.json()["numberReturned"])


OFFER_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"location": point([200, 50])}, "location.coordinates", "value_error"),
    ({"location": point([4.35, -95])}, "location.coordinates", "value_error"),
    ({"location": point(PARIS)}, "location.coordinates", "within_service_area"),
    ({"location": point([150000, 170000], "EPSG:4326")}, "location.coordinates", "value_error"),
    (
        {"location": {"type": "Point", "coordinates": [1, 2], "crs": "EPSG:2154"}},
        "location.crs",
        "literal_error",
    ),
    ({"location": {"type": "LineString", "coordinates": [1, 2]}}, "location.type", "literal_error"),
    ({"location": None}, "location", "site_or_location"),
    ({"quantity": {"value": 0, "unit": "t"}}, "quantity.value", "greater_than"),
    ({"quantity": {"value": -3, "unit": "t"}}, "quantity.value", "greater_than"),
    ({"quantity": {"value": 3, "unit": "ton"}}, "quantity.unit", "enum"),
    (
        {"available_from": "2026-12-31", "available_until": "2026-12-01"},
        "available_until",
        "window_ordered",
    ),
    ({"available_from": "2026-13-01"}, "available_from", "date_from_datetime_parsing"),
    ({"material": "999999"}, "material", "ewc_code_exists"),
    ({"material": "1705"}, "material", "ewc_code"),
    ({"material": "soil"}, "material", "ewc_code"),
    ({"condition": "D"}, "condition", "enum"),
    ({"min_lot": 20}, "min_lot", "min_lot_within_quantity"),
    ({"mass_kg": 5}, "mass_kg", "consistent_with_quantity"),
    ({"title": ""}, "title", "string_too_short"),
    ({"site_id": "not-a-uuid"}, "site_id", "uuid_parsing"),
]


@pytest.mark.parametrize(("change", "field", "rule"), OFFER_CASES)
async def test_offer_rules(
    client: httpx.AsyncClient, org: Org, change: dict[str, Any], field: str, rule: str
) -> None:
    before = await _count_mine(client, org, "offers")
    response = await client.post("/v1/offers", json=offer_body(**change), headers=org.headers)
    assert_problem(response, 422, field, rule)
    assert await _count_mine(client, org, "offers") == before


REQUEST_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"material": "99"}, "material", "ewc_code_exists"),
    ({"material": "170"}, "material", "ewc_code_or_group"),
    ({"needed_from": "2026-12-20", "needed_by": "2026-12-05"}, "needed_by", "window_ordered"),
    ({"max_distance_km": 0}, "max_distance_km", "greater_than"),
    ({"min_condition": "Z"}, "min_condition", "enum"),
    ({"quantity": {"value": 1}}, "quantity.unit", "missing"),
    ({"location": point([5.57, 50.63])}, "location.coordinates", "within_service_area"),  # Liège
]


@pytest.mark.parametrize(("change", "field", "rule"), REQUEST_CASES)
async def test_request_rules(
    client: httpx.AsyncClient, org: Org, change: dict[str, Any], field: str, rule: str
) -> None:
    before = await _count_mine(client, org, "requests")
    response = await client.post("/v1/requests", json=request_body(**change), headers=org.headers)
    assert_problem(response, 422, field, rule)
    assert await _count_mine(client, org, "requests") == before


@pytest.mark.parametrize("material", ["17", "1705", "170504", "17 05 04"])
async def test_requests_name_a_chapter_subchapter_or_code(
    client: httpx.AsyncClient, org: Org, material: str
) -> None:
    response = await client.post(
        "/v1/requests", json=request_body(material=material), headers=org.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["material"] == material.replace(" ", "")


async def test_site_rules(client: httpx.AsyncClient, org: Org) -> None:
    base = {"name": "Yard", "kind": "yard", "location": point(RECY_K)}
    assert_problem(
        await client.post("/v1/sites", json={**base, "kind": "castle"}, headers=org.headers),
        422,
        "kind",
        "enum",
    )
    assert_problem(
        await client.post("/v1/sites", json={**base, "name": ""}, headers=org.headers),
        422,
        "name",
        "string_too_short",
    )
    assert_problem(
        await client.post(
            "/v1/sites", json={**base, "location": point(PARIS)}, headers=org.headers
        ),
        422,
        "location.coordinates",
        "within_service_area",
    )
    assert_problem(
        await client.post(
            "/v1/sites", json={"kind": "yard", "location": point(RECY_K)}, headers=org.headers
        ),
        422,
        "name",
        "missing",
    )


async def test_lambert_72_and_2008_are_stored_in_wgs84(client: httpx.AsyncClient, org: Org) -> None:
    # The Grand-Place in Belgian Lambert 72 and Lambert 2008.
    for crs, xy in (("EPSG:31370", [148955.0, 170720.0]), ("EPSG:3812", [648952.0, 670720.0])):
        response = await client.post(
            "/v1/sites",
            json={"name": "Grand-Place", "kind": "shop", "location": point(xy, crs)},
            headers=org.headers,
        )
        assert response.status_code == 201, response.text
        lon, lat = response.json()["location"]["coordinates"]
        assert lon == pytest.approx(4.3525, abs=0.002) and lat == pytest.approx(50.8467, abs=0.002)
        assert "crs" not in response.json()["location"]


async def test_an_offer_cannot_name_another_organizations_site(
    client: httpx.AsyncClient, org: Org, make_org: OrgFactory
) -> None:
    other = await make_org("supplier")
    site = await client.post(
        "/v1/sites",
        json={"name": "Theirs", "kind": "yard", "location": point(RECY_K)},
        headers=other.headers,
    )
    response = await client.post(
        "/v1/offers", json=offer_body(location=None, site_id=site.json()["id"]), headers=org.headers
    )
    assert_problem(response, 422, "site_id", "own_site")


async def test_roles_gate_offers_and_requests(
    client: httpx.AsyncClient, make_org: OrgFactory
) -> None:
    carrier = await make_org("carrier")
    body = assert_problem(
        await client.post("/v1/offers", json=offer_body(), headers=carrier.headers), 403
    )
    assert body["required_roles"] == ["supplier", "hub_operator"]
    assert_problem(
        await client.post("/v1/requests", json=request_body(), headers=carrier.headers), 403
    )


async def test_list_parameters_are_checked(client: httpx.AsyncClient, org: Org) -> None:
    h = org.headers
    assert_problem(
        await client.get("/v1/offers", params={"near": "4.35"}, headers=h), 422, "near", "lon_lat"
    )
    assert_problem(
        await client.get("/v1/offers", params={"near": "4.35,95"}, headers=h),
        422,
        "near",
        "coordinate_range",
    )
    assert_problem(
        await client.get("/v1/offers", params={"radius_km": 3}, headers=h),
        422,
        "radius_km",
        "requires_near",
    )
    assert_problem(
        await client.get("/v1/offers", params={"limit": 100000}, headers=h),
        422,
        "limit",
        "less_than_equal",
    )
    assert_problem(
        await client.get("/v1/offers", params={"cursor": "garbage"}, headers=h),
        422,
        "cursor",
        "valid_cursor",
    )
    assert_problem(
        await client.get("/v1/offers", params={"material": "1"}, headers=h),
        422,
        "material",
        "ewc_code_or_group",
    )


async def test_a_field_the_body_has_not_is_refused_and_named(
    client: httpx.AsyncClient, org: Org
) -> None:
    before = await _count_mine(client, org, "offers")
    typo = offer_body(available_untill="2026-12-24")
    typo.pop("available_until")
    body = assert_problem(
        await client.post("/v1/offers", json=typo, headers=org.headers),
        422,
        "available_untill",
        "extra_forbidden",
    )
    assert "no such field" in body["errors"][0]["message"]
    # Nested bodies too, and in a patch.
    nested = offer_body(quantity={"value": 3, "unit": "t", "precision": 1})
    assert_problem(
        await client.post("/v1/offers", json=nested, headers=org.headers),
        422,
        "quantity.precision",
        "extra_forbidden",
    )
    assert await _count_mine(client, org, "offers") == before
    made = await client.post("/v1/offers", json=offer_body(), headers=org.headers)
    patch = await client.patch(
        f"/v1/offers/{made.json()['id']}", json={"titel": "Sol"}, headers=org.headers
    )
    assert_problem(patch, 422, "titel", "extra_forbidden")


async def test_every_wrong_field_of_a_body_comes_back_in_one_answer(
    client: httpx.AsyncClient, org: Org, make_org: OrgFactory
) -> None:
    # Two fields the schema checks, and two the service checks against the database.
    stranger_site = await client.post(
        "/v1/sites",
        json={"name": "Not yours", "kind": "yard", "location": point(RECY_K)},
        headers=(await make_org("supplier")).headers,
    )
    wrong = offer_body(condition="Z", quantity={"value": -1, "unit": "t"}, extra_field=True)
    schema = await client.post("/v1/offers", json=wrong, headers=org.headers)
    failing = {(e["field"], e["rule"]) for e in assert_problem(schema, 422)["errors"]}
    assert {"condition", "quantity.value", "extra_field"} <= {f for f, _ in failing}

    service = offer_body(material="999999", site_id=stranger_site.json()["id"])
    answer = assert_problem(await client.post("/v1/offers", json=service, headers=org.headers), 422)
    assert {(e["field"], e["rule"]) for e in answer["errors"]} >= {("site_id", "own_site")}
    assert "material" in {e["field"] for e in answer["errors"]}

    # A plan's inline vehicles and shipments, each named by its place in the body.
    planner = await make_org("carrier")
    plan = {
        "date": "2026-12-02",
        "vehicles": [{"name": "Bike", "type": "cargo_bike", "start": point(PARIS)}],
        "shipments": [
            {
                "pickup": {
                    "location": point(PARIS),
                    "window_from": "2026-12-02T08:00:00+01:00",
                    "window_until": "2026-12-02T12:00:00+01:00",
                },
                "delivery": {
                    "location": point(RECY_K),
                    "window_from": "2026-12-02T08:00:00+01:00",
                    "window_until": "2026-12-02T12:00:00+01:00",
                },
                "load_kg": 10,
            }
        ],
    }
    answer = assert_problem(
        await client.post("/v1/route-plans", json=plan, headers=planner.headers), 422
    )
    fields = {e["field"] for e in answer["errors"]}
    assert any(f.startswith("vehicles.0.") for f in fields), fields
    assert any(f.startswith("shipments.0.") for f in fields), fields


async def test_the_service_area_reaches_50_km_past_the_region_and_0_turns_it_off(
    client: httpx.AsyncClient, org: Org, database_url: str
) -> None:
    site = {"name": "Depot", "kind": "yard"}
    # Antwerp lies some 35 km past the region's edge, Liège some 85.
    antwerp = await client.post(
        "/v1/sites", json={**site, "location": point([4.4025, 51.2194])}, headers=org.headers
    )
    assert antwerp.status_code == 201, antwerp.text
    liege = await client.post(
        "/v1/sites", json={**site, "location": point([5.5797, 50.6326])}, headers=org.headers
    )
    assert_problem(liege, 422, "location.coordinates", "within_service_area")

    unbounded = create_app(settings_for(database_url, service_area_buffer_km=0))
    async with (
        unbounded.router.lifespan_context(unbounded),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=unbounded), base_url="http://boucle.test"
        ) as anywhere,
    ):
        paris = await anywhere.post(
            "/v1/sites", json={**site, "location": point(PARIS)}, headers=org.headers
        )
        assert paris.status_code == 201, paris.text
        assert paris.json()["location"]["coordinates"] == PARIS
