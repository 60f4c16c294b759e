"""The Region's statistics on a data set of its own, seeded through the API: every figure is
computed here again from what was posted (the commune of each place by shapely, the km of each
plan from its result), figures resting on fewer than 3 organizations are hidden and counted,
the CSV parses with the csv module and the GeoJSON keeps to RFC 7946."""

import csv
import io
import itertools
import json
import math
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from shapely.geometry import Point, shape
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.kit.local_time import brussels_today
from app.main import create_app
from app.settings import PROJECT_ROOT
from app.worker import work_until_idle
from tests.conftest import (
    PLAN_DAY,
    Org,
    assert_problem,
    create_org,
    load_reference,
    migrate,
    offer_body,
    plan_body,
    point,
    request_body,
    settings_for,
)

COMMUNES_FILE = PROJECT_ROOT.parent / "shared" / "data" / "brussels" / "communes_19_osm2013.geojson"
ANDERLECHT, BRUXELLES, SCHAERBEEK, UCCLE = "21001", "21004", "21015", "21016"
TODAY = brussels_today().isoformat()
THIS_MONTH = TODAY[:7]


def _outlines() -> dict[str, Any]:
    collection = json.loads(COMMUNES_FILE.read_text(encoding="utf-8"))
    return {f["properties"]["nis_code"]: shape(f["geometry"]) for f in collection["features"]}


OUTLINES = _outlines()


def inside(nis_code: str, shift: float = 0.0) -> list[float]:
    """A point of this commune, and of no other (checked: the test places flows itself)."""
    p = OUTLINES[nis_code].representative_point()
    place = Point(p.x + shift, p.y)
    assert [c for c, outline in OUTLINES.items() if outline.covers(place)] == [nis_code]
    return [round(place.x, 6), round(place.y, 6)]


@dataclass
class Region:
    client: httpx.AsyncClient
    database_url: str
    observer: Org
    supplier: Org
    # What the test posted, by figure and cell key: tonnes, and the organizations behind them.
    tonnes: dict[tuple[str, Any], float] = field(default_factory=lambda: defaultdict(float))
    organizations: dict[tuple[str, Any], set[str]] = field(default_factory=lambda: defaultdict(set))
    route_km: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    co2: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    carriers: int = 0

    def add(self, measure: str, key: Any, tonnes: float, *organizations: Org) -> None:
        self.tonnes[measure, key] += tonnes
        self.organizations[measure, key].update(o.id for o in organizations)

    def expected(self, measure: str, key: Any) -> float | None:
        """What the API must answer: the sum, or None when fewer than 3 organizations."""
        if len(self.organizations.get((measure, key), ())) == 0:
            return 0.0
        if len(self.organizations[measure, key]) < 3:
            return None
        return round(self.tonnes[measure, key], 3)


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], org: Org) -> Any:
    response = await client.post(path, json=body, headers=org.headers)
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


async def _seed(client: httpx.AsyncClient, database_url: str) -> Region:
    make = lambda *roles: create_org(client, *roles)  # noqa: E731
    observer = await make("observer")
    suppliers = [await make("supplier") for _ in range(3)]
    consumers = [await make("consumer") for _ in range(2)]
    region = Region(client, database_url, observer, suppliers[0])

    # Offers: three suppliers in Anderlecht (shown), one in Bruxelles (hidden).
    offers = []
    for supplier, material, tonnes in zip(
        suppliers, ("170101", "170101", "170201"), (10, 5, 2), strict=True
    ):
        body = offer_body(
            location=point(inside(ANDERLECHT)),
            material=material,
            quantity={"value": tonnes, "unit": "t"},
        )
        offers.append(await _post(client, "/v1/offers", body, supplier))
        region.add("offered_t", ANDERLECHT, tonnes, supplier)
        region.add("offered_t", ("17", ANDERLECHT), tonnes, supplier)
        region.add("offered_t", None, tonnes, supplier)
    lone = offer_body(
        location=point(inside(BRUXELLES)), material="170504", quantity={"value": 4, "unit": "t"}
    )
    await _post(client, "/v1/offers", lone, suppliers[0])
    region.add("offered_t", BRUXELLES, 4, suppliers[0])
    region.add("offered_t", ("17", BRUXELLES), 4, suppliers[0])
    region.add("offered_t", None, 4, suppliers[0])

    # Requests: two consumers in Schaerbeek (hidden), given in kg for one of them.
    requests = []
    for consumer, (value, unit, wanted_t) in zip(
        consumers, ((3, "t", 3.0), (2500, "kg", 2.5)), strict=True
    ):
        body = request_body(
            location=point(inside(SCHAERBEEK)),
            material="17",
            quantity={"value": value, "unit": unit},
            max_distance_km=30,
        )
        requests.append(await _post(client, "/v1/requests", body, consumer))
        region.add("requested_t", SCHAERBEEK, wanted_t, consumer)
        region.add("requested_t", None, wanted_t, consumer)

    # Matches, placed where their offer is: three proposed (5 organizations), two accepted by
    # both sides (4), one of them fulfilled (2: hidden).
    pairs = [(0, 0, 2.0), (1, 1, 1.5), (2, 0, 0.5)]
    matches = []
    for offer_index, request_index, matched_t in pairs:
        body = {
            "offer_id": offers[offer_index]["id"],
            "request_id": requests[request_index]["id"],
            "quantity": {"value": matched_t, "unit": "t"},
        }
        supplier, consumer = suppliers[offer_index], consumers[request_index]
        matches.append(await _post(client, "/v1/matches", body, supplier))
        region.add("proposed_t", ANDERLECHT, matched_t, supplier, consumer)
    for match, (offer_index, request_index, matched_t) in zip(matches[:2], pairs[:2], strict=True):
        supplier, consumer = suppliers[offer_index], consumers[request_index]
        await _post(client, f"/v1/matches/{match['id']}/accept", {}, consumer)
        accepted = await _post(client, f"/v1/matches/{match['id']}/accept", {}, supplier)
        assert accepted["status"] == "accepted"
        region.add("accepted_t", ANDERLECHT, matched_t, supplier, consumer)
    fulfilled = await _post(client, f"/v1/matches/{matches[0]['id']}/fulfil", {}, consumers[0])
    assert fulfilled["status"] == "fulfilled"
    region.add("fulfilled_t", ANDERLECHT, pairs[0][2], suppliers[0], consumers[0])

    # Yards: three operators take in wood in Uccle (shown), one of them dispatches (hidden).
    for k in range(3):
        operator = await make("hub_operator")
        site = {"name": f"Yard {k}", "kind": "yard", "location": point(inside(UCCLE, k * 1e-4))}
        yard = await _post(client, "/v1/sites", site, operator)
        intake = {
            "kind": "intake",
            "walk_in": "Menuiserie Dupont",
            "lot": "WOOD",
            "material": "170201",
            "condition": "B",
            "quantity": {"value": 1.5 + k, "unit": "t"},
        }
        await _post(client, f"/v1/hubs/{yard['id']}/movements", intake, operator)
        region.add("yard_intake_t", UCCLE, 1.5 + k, operator)
        # Each lot goes on the market as an offer of its yard.
        region.add("offered_t", UCCLE, 1.5 + k, operator)
        region.add("offered_t", None, 1.5 + k, operator)
        if k == 0:
            # The operator's own shipment: a dispatch names no other.
            shipment = await _post(
                client,
                "/v1/shipments",
                {
                    "pickup": {
                        "location": site["location"],
                        "window_from": f"{PLAN_DAY}T08:00:00+01:00",
                        "window_until": f"{PLAN_DAY}T12:00:00+01:00",
                    },
                    "delivery": {
                        "location": point(inside(SCHAERBEEK)),
                        "window_from": f"{PLAN_DAY}T08:00:00+01:00",
                        "window_until": f"{PLAN_DAY}T17:00:00+01:00",
                    },
                    "load_kg": 500,
                },
                operator,
            )
            dispatch = {
                "kind": "dispatch",
                "lot": "WOOD",
                "quantity": {"value": 0.5, "unit": "t"},
                "shipment_id": shipment["id"],
            }
            await _post(client, f"/v1/hubs/{yard['id']}/movements", dispatch, operator)
            region.add("yard_dispatch_t", UCCLE, 0.5, operator)

    # Route plans of three carriers, counted on the plan's day, in no commune.
    for _ in range(3):
        carrier = await make("carrier")
        await _post(client, "/v1/route-plans", plan_body(1), carrier)
        region.carriers += 1
    return region


@pytest.fixture(scope="module")
async def region(make_database: Any) -> AsyncIterator[Region]:
    url = await make_database("boucle_stats")
    migrate(url)
    load_reference(url)
    app = create_app(settings_for(url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://boucle.test"
        ) as client,
    ):
        seeded = await _seed(client, url)
        await work_until_idle(app)
        yield seeded


async def _plan_results(region: Region) -> list[dict[str, Any]]:
    """Every route plan done, as stored: their carriers are the only ones who read them."""
    engine = create_async_engine(region.database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT result FROM route_plans WHERE status = 'done'"))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


async def _flows(region: Region, **params: str) -> dict[str, Any]:
    response = await region.client.get(
        "/v1/stats/flows", params=params, headers=region.observer.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _cell(body: dict[str, Any], **keys: str | None) -> dict[str, Any]:
    [cell] = [c for c in body["cells"] if all(c[k] == v for k, v in keys.items())]
    return cell


TONNES = (
    "offered_t",
    "requested_t",
    "proposed_t",
    "accepted_t",
    "fulfilled_t",
    "yard_intake_t",
    "yard_dispatch_t",
)


async def test_figures_by_commune_are_the_sums_posted_and_small_cells_are_hidden(
    region: Region,
) -> None:
    body = await _flows(region, group_by="commune")
    assert body["min_organizations"] == 3
    # Every commune has its cell, and route plans theirs, in no commune.
    assert {c["commune"] for c in body["cells"]} == {*OUTLINES, None}
    for nis_code in OUTLINES:
        cell = _cell(body, commune=nis_code)
        for measure in TONNES:
            assert cell[measure] == region.expected(measure, nis_code), (nis_code, measure)
        hidden = {m for m in TONNES if region.expected(m, nis_code) is None}
        assert set(cell["suppressed"]) == hidden, nis_code
    anderlecht = _cell(body, commune=ANDERLECHT)
    assert anderlecht["commune_name"] == "Anderlecht"
    assert (anderlecht["offered_t"], anderlecht["proposed_t"], anderlecht["accepted_t"]) == (
        17.0,
        4.0,
        3.5,
    )
    assert anderlecht["fulfilled_t"] is None and anderlecht["suppressed"] == ["fulfilled_t"]
    assert _cell(body, commune=BRUXELLES)["offered_t"] is None
    assert _cell(body, commune=SCHAERBEEK)["requested_t"] is None
    assert _cell(body, commune=UCCLE)["yard_intake_t"] == 1.5 + 2.5 + 3.5
    assert _cell(body, commune=UCCLE)["yard_dispatch_t"] is None
    assert body["suppressed_figures"] == sum(len(c["suppressed"]) for c in body["cells"]) >= 4


async def test_route_plans_count_their_km_by_vehicle_and_their_saving(region: Region) -> None:
    body = await _flows(region)
    [total] = body["cells"]
    results = await _plan_results(region)
    assert len(results) == region.carriers == 3
    km: dict[str, float] = defaultdict(float)
    for result in results:
        for route in result["routes"]:
            km[route["vehicle_type"]] += route["km"]
    assert total["route_km"] == {k: pytest.approx(v, abs=1e-3) for k, v in km.items()}
    plan = sum(r["kpis"]["co2_kg"] for r in results)
    baseline = sum(r["baseline"]["co2_kg"] for r in results)
    assert total["plan_co2e_kg"] == pytest.approx(plan, abs=1e-3)
    assert total["baseline_co2e_kg"] == pytest.approx(baseline, abs=1e-3)
    assert total["saving_co2e_kg"] == pytest.approx(baseline - plan, abs=1e-3)
    # The Region's totals rest on enough organizations to be shown.
    for measure in ("offered_t", "requested_t"):
        assert total[measure] == region.expected(measure, None)
    assert total["offered_t"] == 21.0 + 7.5 and total["requested_t"] is None

    by_month = await _flows(region, group_by="month")
    assert _cell(by_month, month=PLAN_DAY[:7])["plan_co2e_kg"] == pytest.approx(plan, abs=1e-3)


async def test_material_and_commune_together_and_a_date_range(region: Region) -> None:
    body = await _flows(region, group_by="material,commune")
    cell = _cell(body, material="17", commune=ANDERLECHT)
    assert cell["material_title"].startswith("Construction and demolition")
    assert cell["offered_t"] == region.expected("offered_t", ("17", ANDERLECHT)) == 17.0
    assert _cell(body, material="17", commune=BRUXELLES)["offered_t"] is None
    # Route plans carry mixed loads across communes: their cell has neither.
    assert _cell(body, material=None, commune=None)["route_km"]

    fine = await _flows(region, group_by="material", material_level="subchapter")
    assert {"1701", "1702"} <= {c["material"] for c in fine["cells"]}

    tomorrow = (brussels_today() + timedelta(days=1)).isoformat()
    later = await _flows(region, group_by="commune", **{"from": tomorrow, "to": "2026-12-31"})
    # Only the route plans of PLAN_DAY are left.
    assert all(c[m] == 0 for c in later["cells"] for m in TONNES)
    today = await _flows(region, group_by="commune", **{"from": TODAY, "to": TODAY})
    assert _cell(today, commune=ANDERLECHT)["offered_t"] == 17.0


async def test_csv_parses_and_says_the_same(region: Region) -> None:
    asked = await region.client.get(
        "/v1/stats/flows",
        params={"group_by": "commune,month"},
        headers={**region.observer.headers, "Accept": "text/csv"},
    )
    assert asked.status_code == 200 and asked.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(asked.text)))
    as_json = await _flows(region, group_by="commune,month")
    assert len(rows) == len(as_json["cells"])
    by_key = {(r["commune"], r["month"]): r for r in rows}
    for cell in as_json["cells"]:
        row = by_key[(cell["commune"] or "", cell["month"] or "")]
        for measure in TONNES:
            assert row[measure] == ("" if cell[measure] is None else str(cell[measure]))
        assert row["suppressed"] == ";".join(cell["suppressed"])
    anderlecht = by_key[(ANDERLECHT, THIS_MONTH)]
    assert float(anderlecht["offered_t"]) == 17.0 and anderlecht["fulfilled_t"] == ""
    assert "fulfilled_t" in anderlecht["suppressed"].split(";")
    by_format = await region.client.get(
        "/v1/stats/flows", params={"format": "csv"}, headers=region.observer.headers
    )
    assert by_format.headers["content-type"].startswith("text/csv")
    assert next(iter(csv.reader(io.StringIO(by_format.text))))[-1] == "suppressed"


def _rfc7946_problems(collection: dict[str, Any]) -> list[str]:
    """What breaks RFC 7946 in a FeatureCollection of (Multi)Polygons: a foreign member `crs`,
    positions out of WGS84's range, rings not closed or too short, exterior rings clockwise,
    holes counterclockwise (3.1.6), invalid geometries."""
    problems = []
    if collection.get("type") != "FeatureCollection" or "crs" in collection:
        problems.append("not a plain FeatureCollection")
    for feature in collection["features"]:
        if feature.get("type") != "Feature" or not isinstance(feature.get("properties"), dict):
            problems.append(f"feature {feature.get('id')}: not a Feature with properties")
        geometry = feature["geometry"]
        polygons = (
            geometry["coordinates"]
            if geometry["type"] == "MultiPolygon"
            else [geometry["coordinates"]]
        )
        for polygon in polygons:
            for index, ring in enumerate(polygon):
                if len(ring) < 4 or ring[0] != ring[-1]:
                    problems.append(f"feature {feature['id']}: ring not closed")
                if not all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring):
                    problems.append(f"feature {feature['id']}: position out of range")
                area = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))
                if (area > 0) != (index == 0):
                    problems.append(f"feature {feature['id']}: ring {index} winds the wrong way")
        outline = shape(geometry)
        if not outline.is_valid or outline.is_empty:
            problems.append(f"feature {feature['id']}: invalid geometry")
    return problems


async def test_geojson_by_commune_is_rfc_7946_with_the_figures(region: Region) -> None:
    response = await region.client.get(
        "/v1/stats/flows",
        params={"group_by": "commune"},
        headers={**region.observer.headers, "Accept": "application/geo+json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    collection = response.json()
    assert _rfc7946_problems(collection) == []
    features = {f["properties"]["commune"]: f for f in collection["features"]}
    assert set(features) == set(OUTLINES)
    anderlecht = features[ANDERLECHT]
    assert anderlecht["properties"]["offered_t"] == 17.0
    assert anderlecht["properties"]["fulfilled_t"] is None
    # The polygon is the commune's: the same area within rounding.
    assert math.isclose(shape(anderlecht["geometry"]).area, OUTLINES[ANDERLECHT].area, rel_tol=1e-4)


async def test_only_the_region_reads_them_and_bad_parameters_are_named(region: Region) -> None:
    client = region.client
    refused = await client.get("/v1/stats/flows", headers=region.supplier.headers)
    assert_problem(refused, 403)
    assert_problem(await client.get("/v1/stats/flows"), 401)
    admin = await create_org(client, "admin")
    assert (await client.get("/v1/stats/flows", headers=admin.headers)).status_code == 200
    # An observer reads; it changes nothing.
    write = await client.post("/v1/offers", json=offer_body(), headers=region.observer.headers)
    assert_problem(write, 403)

    def flows(**params: str) -> Any:
        return client.get("/v1/stats/flows", params=params, headers=region.observer.headers)

    assert_problem(await flows(group_by="commune,region"), 422, "group_by", "known_dimensions")
    assert_problem(await flows(group_by="month,month"), 422, "group_by", "known_dimensions")
    assert_problem(
        await flows(group_by="material", format="geojson"), 422, "group_by", "commune_for_geojson"
    )
    assert_problem(
        await flows(**{"from": "2026-12-31", "to": "2026-01-01"}), 422, "to", "not_before_from"
    )
    assert_problem(await flows(**{"from": "yesterday"}), 422, "from", "date_from_datetime_parsing")
    assert_problem(await flows(material_level="code"), 422, "material_level", "enum")
