"""The Region's statistics on a database of their own, attacked over HTTP. Each test posts its
rows through the API, then moves their timestamps into a month that has ended (on a raw
connection, as if they had been posted then), before anything reads that month: the first
read publishes it. The figures shown are the sums posted (the commune of each place by
shapely, the km of each plan from its result); a figure that 3 organizations do not stand
behind, or that one of them dominates, is hidden, and an attacker's audit written apart
(tests/stats_audit.py) finds no hidden figure computable from all the groupings of the month
together; the open data says what the API says; a month, once published, never changes."""

import asyncio
import csv
import io
import itertools
import json
import math
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import procrastinate
import pytest
from fastapi import FastAPI
from shapely.geometry import Point, shape

from app.fleet.schemas import DEFAULTS as VEHICLE_DEFAULTS
from app.fleet.schemas import VehicleType
from app.kit.local_time import BRUSSELS, brussels_today
from app.main import create_app
from app.settings import PROJECT_ROOT
from app.stats.tasks import PUBLISH_ENDED_MONTH
from app.worker.process import work_until_idle
from app.worker.registry import create_job_app
from testbed.workers import eventually
from tests.conftest import (
    PLAN_DAY,
    Org,
    assert_problem,
    connect_raw,
    create_org,
    date_in_month,
    load_reference,
    migrate,
    offer_body,
    plan_body,
    point,
    request_body,
    settings_for,
)
from tests.overlap import overlapping
from tests.statements import statements_of
from tests.stats_audit import CellKey, additivity_errors, disclosed

COMMUNES_FILE = PROJECT_ROOT.parent / "shared" / "data" / "brussels" / "communes_19_osm2013.geojson"
ANDERLECHT, BRUXELLES, IXELLES, SCHAERBEEK, UCCLE = "21001", "21004", "21009", "21015", "21016"
TONNES = (
    "offered_t",
    "requested_t",
    "proposed_t",
    "accepted_t",
    "fulfilled_t",
    "yard_intake_t",
    "yard_dispatch_t",
)
CO2 = ("plan_co2e_kg", "baseline_co2e_kg", "saving_co2e_kg")
# What a reader knows of the figures of one cell: the saving is the baseline less the plan,
# and a plan's CO2e is its km by each vehicle type's factor.
RELATIONS = (
    {"saving_co2e_kg": 1.0, "baseline_co2e_kg": -1.0, "plan_co2e_kg": 1.0},
    {
        "plan_co2e_kg": 1.0,
        **{
            f"route_km.{t.value}": -float(d["co2_g_per_km"] or 0) / 1000
            for t, d in VEHICLE_DEFAULTS.items()
        },
    },
)
# Every grouping the API offers: (group_by, material_level).
GROUPINGS = [
    ("", "chapter"),
    ("commune", "chapter"),
    ("material", "chapter"),
    ("material", "subchapter"),
    ("commune,material", "chapter"),
    ("commune,material", "subchapter"),
]


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
    app: FastAPI
    client: httpx.AsyncClient
    database_url: str
    observer: Org

    async def org(self, *roles: str) -> Org:
        return await create_org(self.client, *roles)

    async def post(self, path: str, body: dict[str, Any], org: Org) -> Any:
        response = await self.client.post(path, json=body, headers=org.headers)
        assert response.status_code in (200, 201, 202), response.text
        return response.json()

    async def get(self, **params: str) -> httpx.Response:
        return await self.client.get(
            "/v1/stats/flows", params=params, headers=self.observer.headers
        )

    async def flows(self, **params: str) -> dict[str, Any]:
        response = await self.get(**params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def sql(self, statement: str, *args: Any) -> list[Any]:
        connection = await connect_raw(self.database_url)
        try:
            return list(await connection.fetch(statement, *args))
        finally:
            await connection.close()

    async def changed(self, statement: str, *args: Any, apps: tuple[FastAPI, ...] = ()) -> None:
        """A change of what the statistics are written from, made and heard by this process
        and `apps` (the publications they heard moved on), as every process hears it
        milliseconds after the commit (`app.stats.kept`)."""
        listening = (self.app, *apps)
        heard = [app.state.kept_stats_answers.generation for app in listening]
        await self.sql(statement, *args)
        for _ in range(400):
            generations = [app.state.kept_stats_answers.generation for app in listening]
            if all(now != before for now, before in zip(generations, heard, strict=True)):
                return
            await asyncio.sleep(0.025)
        raise AssertionError("a process did not hear of the change")

    async def move_into(self, month: str, *orgs: Org) -> None:
        await date_in_month(self.database_url, month, [o.id for o in orgs])

    async def offer(self, org: Org, commune: str, tonnes: float, material: str = "170101") -> Any:
        body = offer_body(
            location=point(inside(commune)),
            material=material,
            quantity={"value": tonnes, "unit": "t"},
        )
        return await self.post("/v1/offers", body, org)

    async def request(self, org: Org, commune: str, value: float, unit: str = "t") -> Any:
        body = request_body(
            location=point(inside(commune)),
            material="17",
            quantity={"value": value, "unit": unit},
            max_distance_km=30,
        )
        return await self.post("/v1/requests", body, org)

    async def match(
        self, offer: Any, request: Any, tonnes: float, seller: Org, buyer: Org, accept: bool
    ) -> Any:
        body = {
            "offer_id": offer["id"],
            "request_id": request["id"],
            "quantity": {"value": tonnes, "unit": "t"},
        }
        match = await self.post("/v1/matches", body, seller)
        if accept:
            await self.post(f"/v1/matches/{match['id']}/accept", {}, buyer)
            accepted = await self.post(f"/v1/matches/{match['id']}/accept", {}, seller)
            assert accepted["status"] == "accepted"
        return match


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
        yield Region(app, client, url, await create_org(client, "observer"))


@dataclass
class Posted:
    """What a test posted, by figure and commune (None: the Region), with the organizations
    behind each side: computed here again, for the primary rule."""

    tonnes: dict[tuple[str, str | None], Decimal] = field(
        default_factory=lambda: defaultdict(Decimal)
    )
    sides: dict[tuple[str, str | None, bool], dict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Decimal))
    )

    def add(
        self, measure: str, commune: str, tonnes: float, org: Org, buyer: Org | None = None
    ) -> None:
        amount = Decimal(str(tonnes))
        for key in (commune, None):
            self.tonnes[measure, key] += amount
            self.sides[measure, key, True][org.id] += amount
            if buyer is not None:
                self.sides[measure, key, False][buyer.id] += amount

    def hidden_by_rule(self, measure: str, commune: str | None) -> bool:
        """Fewer than 3 organizations on a side, or one above 85 % of it."""
        for counted in (True, False):
            amounts = [abs(a) for a in self.sides[measure, commune, counted].values() if a]
            if amounts and (len(amounts) < 3 or max(amounts) > Decimal("0.85") * sum(amounts)):
                return True
        return False


MONTH = "2025-01"


@pytest.fixture(scope="module")
async def seeded(region: Region) -> Posted:
    """A month of flows: offers in Anderlecht (three suppliers) and Bruxelles (one), requests
    of three consumers in Schaerbeek, matches between them, yards in Uccle, route plans."""
    posted = Posted()
    suppliers = [await region.org("supplier") for _ in range(3)]
    consumers = [await region.org("consumer") for _ in range(3)]
    operators = [await region.org("hub_operator") for _ in range(3)]
    carriers = [await region.org("carrier") for _ in range(4)]
    offers = []
    for supplier, material, offered in zip(
        suppliers, ("170101", "170101", "170201"), (10, 5, 2), strict=True
    ):
        offers.append(await region.offer(supplier, ANDERLECHT, offered, material))
        posted.add("offered_t", ANDERLECHT, offered, supplier)
    await region.offer(suppliers[0], BRUXELLES, 4, "170504")
    posted.add("offered_t", BRUXELLES, 4, suppliers[0])

    requests = []
    for consumer, (value, unit, wanted) in zip(
        consumers, ((3, "t", 3.0), (2500, "kg", 2.5), (2, "t", 2.0)), strict=True
    ):
        requests.append(await region.request(consumer, SCHAERBEEK, value, unit))
        posted.add("requested_t", SCHAERBEEK, wanted, consumer)

    # Matches, placed where their offer is: three proposed (three sellers, three buyers),
    # two accepted by both sides, one of them fulfilled.
    matches = []
    for k, tonnes in enumerate((2.0, 1.5, 0.5)):
        accept = k < 2
        matches.append(
            await region.match(
                offers[k], requests[k], tonnes, suppliers[k], consumers[k], accept=accept
            )
        )
        posted.add("proposed_t", ANDERLECHT, tonnes, suppliers[k], consumers[k])
        if accept:
            posted.add("accepted_t", ANDERLECHT, tonnes, suppliers[k], consumers[k])
    fulfilled = await region.post(f"/v1/matches/{matches[0]['id']}/fulfil", {}, consumers[0])
    assert fulfilled["status"] == "fulfilled"
    posted.add("fulfilled_t", ANDERLECHT, 2.0, suppliers[0], consumers[0])

    # Yards: three operators take in wood in Uccle, one of them dispatches some.
    for k, operator in enumerate(operators):
        site = {"name": f"Yard {k}", "kind": "yard", "location": point(inside(UCCLE, k * 1e-4))}
        yard = await region.post("/v1/sites", site, operator)
        intake = {
            "kind": "intake",
            "walk_in": "Menuiserie Dupont",
            "lot": "WOOD",
            "material": "170201",
            "condition": "B",
            "quantity": {"value": 1.5 + k, "unit": "t"},
        }
        await region.post(f"/v1/hubs/{yard['id']}/movements", intake, operator)
        posted.add("yard_intake_t", UCCLE, 1.5 + k, operator)
        # Each lot goes on the market as an offer of its yard.
        posted.add("offered_t", UCCLE, 1.5 + k, operator)
        if k == 0:
            shipment = await region.post(
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
                # The operator's own shipment: a dispatch names no other.
                operator,
            )
            dispatch = {
                "kind": "dispatch",
                "lot": "WOOD",
                "quantity": {"value": 0.5, "unit": "t"},
                "shipment_id": shipment["id"],
            }
            await region.post(f"/v1/hubs/{yard['id']}/movements", dispatch, operator)
            posted.add("yard_dispatch_t", UCCLE, 0.5, operator)

    # Route plans of three carriers by cargo bike, in no commune.
    for carrier in carriers[:3]:
        await region.post("/v1/route-plans", plan_body(1), carrier)
    await work_until_idle(region.app)
    await region.move_into(MONTH, *suppliers, *consumers, *operators, *carriers)
    return posted


def _cell(body: dict[str, Any], **keys: str | None) -> dict[str, Any]:
    [cell] = [c for c in body["cells"] if all(c[k] == v for k, v in keys.items())]
    return cell


def _figures(cell: dict[str, Any]) -> dict[str, float | None]:
    """Every figure of an API cell by its name in `suppressed` (a km not there is a true 0)."""
    return {
        **{f: cell[f] for f in (*TONNES, *CO2)},
        **{f"route_km.{t.value}": cell["route_km"].get(t.value, 0.0) for t in VehicleType},
    }


async def _whole_month(region: Region, month: str) -> dict[CellKey, float | None]:
    """Every cell of every grouping of the month, as the audit takes them."""
    cells: dict[CellKey, float | None] = {}
    for group_by, level in GROUPINGS:
        body = await region.flows(
            group_by=group_by, material_level=level, **{"from": month, "to": month}
        )
        commune_level = "commune" if "commune" in group_by else "all"
        material_level = level if "material" in group_by else "all"
        assert body["cells"], (group_by, level)
        for cell in body["cells"]:
            assert cell["month"] == month
            for figure, value in _figures(cell).items():
                cells[
                    (figure, commune_level, cell["commune"], material_level, cell["material"])
                ] = value
    return cells


async def test_a_month_by_commune_shows_the_sums_posted_and_hides_what_could_tell_a_company(
    region: Region, seeded: Posted
) -> None:
    body = await region.flows(group_by="commune", **{"from": MONTH, "to": MONTH})
    assert (body["group_by"], body["since"], body["until"]) == (["month", "commune"], MONTH, MONTH)
    assert (body["min_organizations"], body["max_share_pct"]) == (3, 85)
    # Every commune has its cell, and route plans theirs, in no commune.
    assert {c["commune"] for c in body["cells"]} == {*OUTLINES, None}
    shown, hidden = 0, 0
    for nis_code in OUTLINES:
        cell = _cell(body, commune=nis_code)
        for measure in TONNES:
            value, posted = cell[measure], seeded.tonnes.get((measure, nis_code), Decimal(0))
            # Hidden when the rule hides it (or to protect a cell it hides); else the sum.
            assert value is None or not seeded.hidden_by_rule(measure, nis_code), (
                nis_code,
                measure,
            )
            assert value is None or Decimal(str(value)) == posted, (nis_code, measure)
            shown, hidden = shown + (value is not None), hidden + (value is None)
        assert set(cell["suppressed"]) == {m for m in TONNES if cell[m] is None}
    # Both kinds are there: the checks above compared sums and found cells hidden.
    assert shown and hidden, (shown, hidden)
    anderlecht = _cell(body, commune=ANDERLECHT)
    assert anderlecht["commune_name"] == "Anderlecht"
    assert (anderlecht["offered_t"], anderlecht["proposed_t"]) == (17.0, 4.0)
    # Two sellers, and one of them has 2 t of the 3.5: hidden; so is the one fulfilled.
    assert anderlecht["accepted_t"] is None and anderlecht["fulfilled_t"] is None
    assert _cell(body, commune=BRUXELLES)["offered_t"] is None
    assert _cell(body, commune=SCHAERBEEK)["requested_t"] == 7.5
    # Uccle's offers would be the Region's total less Anderlecht's, had Bruxelles' lone one
    # not been hidden: Uccle's are hidden too.
    assert _cell(body, commune=UCCLE)["offered_t"] is None
    assert _cell(body, commune=UCCLE)["yard_intake_t"] == 1.5 + 2.5 + 3.5
    assert body["suppressed_figures"] == sum(len(c["suppressed"]) for c in body["cells"]) >= 5


async def test_no_grouping_of_the_month_with_any_other_gives_a_hidden_figure(
    region: Region, seeded: Posted
) -> None:
    month = await _whole_month(region, MONTH)
    assert sum(v is None for v in month.values()) >= 10
    # Totals less the shown cells, one grouping against another, the sub-chapters against
    # the chapters: no equation a reader can write gives a hidden figure, and the shown
    # ones add up.
    assert disclosed(month, RELATIONS) == []
    assert additivity_errors(month) == []
    # A range of months says, month by month, what each month says alone.
    both = await region.flows(group_by="commune", **{"from": "2024-12", "to": MONTH})
    alone = await region.flows(group_by="commune", **{"from": MONTH, "to": MONTH})
    assert [c for c in both["cells"] if c["month"] == MONTH] == alone["cells"]
    # December, when nothing was posted, has a cell for each commune (and none for route
    # plans, in no commune, as none were made), all 0.
    december = [c for c in both["cells"] if c["month"] == "2024-12"]
    assert sorted(c["commune"] for c in december) == sorted(OUTLINES), december
    assert all(c[m] == 0 for c in december for m in (*TONNES, *CO2))


async def test_route_plans_count_their_km_by_vehicle_and_their_co2e(
    region: Region, seeded: Posted
) -> None:
    [total] = (await region.flows(**{"from": MONTH, "to": MONTH}))["cells"]
    results = [
        json.loads(row["result"])
        for row in await region.sql(
            "SELECT result::text AS result FROM route_plans WHERE date = $1",
            datetime.fromisoformat(f"{MONTH}-15").date(),
        )
    ]
    assert len(results) == 3
    km: dict[str, float] = defaultdict(float)
    for result in results:
        for route in result["routes"]:
            km[route["vehicle_type"]] += route["km"]
    assert total["route_km"] == {k: pytest.approx(v, abs=1e-3) for k, v in km.items()}
    # Cargo bikes emit nothing: the plans' CO2e is a true 0, the baseline the whole saving.
    baseline = sum(r["baseline"]["co2_kg"] for r in results)
    assert total["plan_co2e_kg"] == 0
    assert total["baseline_co2e_kg"] == pytest.approx(baseline, abs=1e-3)
    assert total["saving_co2e_kg"] == pytest.approx(baseline, abs=1e-3)
    assert total["offered_t"] == float(seeded.tonnes["offered_t", None]) == 21.0 + 7.5


async def test_material_and_commune_together(region: Region, seeded: Posted) -> None:
    body = await region.flows(group_by="commune,material", **{"from": MONTH, "to": MONTH})
    cell = _cell(body, material="17", commune=ANDERLECHT)
    assert cell["material_title"].startswith("Construction and demolition")
    assert cell["offered_t"] == 17.0
    assert _cell(body, material="17", commune=BRUXELLES)["offered_t"] is None
    # Route plans carry mixed loads across communes: their cell has neither.
    assert _cell(body, material=None, commune=None)["route_km"]
    fine = await region.flows(
        group_by="material", material_level="subchapter", **{"from": MONTH, "to": MONTH}
    )
    # A request that names chapter 17 alone is under 17 among the sub-chapters.
    assert {"1701", "1702", "1705", "17"} <= {c["material"] for c in fine["cells"]}
    assert _cell(fine, material="17")["material_title"].startswith("Construction")


async def test_the_open_data_says_what_the_api_says(region: Region, seeded: Posted) -> None:
    api = await region.flows(group_by="commune", **{"from": MONTH, "to": MONTH})
    items = await region.client.get(
        "/ogc/collections/ogc.communes/items", params={"month": MONTH, "limit": 100}
    )
    assert items.status_code == 200, items.text
    features = items.json()["features"]
    assert {f["properties"]["nis_code"] for f in features} == set(OUTLINES)
    for feature in features:
        properties = feature["properties"]
        assert properties["month"] == MONTH
        assert feature["id"] == f"{properties['nis_code']}-{MONTH}"
        cell = _cell(api, commune=properties["nis_code"])
        assert {m: properties[m] for m in TONNES} == {m: cell[m] for m in TONNES}
    hidden = [f for f in features if f["properties"]["offered_t"] is None]
    assert {f["properties"]["nis_code"] for f in hidden} == {BRUXELLES, UCCLE}


async def test_csv_parses_and_says_the_same(region: Region, seeded: Posted) -> None:
    asked = await region.client.get(
        "/v1/stats/flows",
        params={"group_by": "commune", "from": MONTH, "to": MONTH},
        headers={**region.observer.headers, "Accept": "text/csv"},
    )
    assert asked.status_code == 200 and asked.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(asked.text)))
    assert list(rows[0])[:3] == ["month", "commune", "commune_name"]
    as_json = await region.flows(group_by="commune", **{"from": MONTH, "to": MONTH})
    assert len(rows) == len(as_json["cells"])
    by_key = {(r["month"], r["commune"]): r for r in rows}
    for cell in as_json["cells"]:
        row = by_key[(cell["month"], cell["commune"] or "")]
        for measure in TONNES:
            assert row[measure] == ("" if cell[measure] is None else str(cell[measure]))
        assert row["suppressed"] == ";".join(cell["suppressed"])
    anderlecht = by_key[(MONTH, ANDERLECHT)]
    assert float(anderlecht["offered_t"]) == 17.0 and anderlecht["fulfilled_t"] == ""
    assert "fulfilled_t" in anderlecht["suppressed"].split(";")
    by_format = await region.client.get(
        "/v1/stats/flows",
        params={"format": "csv", "from": MONTH, "to": MONTH},
        headers=region.observer.headers,
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


async def test_geojson_by_commune_is_rfc_7946_with_the_figures(
    region: Region, seeded: Posted
) -> None:
    response = await region.client.get(
        "/v1/stats/flows",
        params={"group_by": "commune", "from": MONTH, "to": MONTH},
        headers={**region.observer.headers, "Accept": "application/geo+json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    collection = response.json()
    assert _rfc7946_problems(collection) == []
    features = {f["properties"]["commune"]: f for f in collection["features"]}
    assert set(features) == set(OUTLINES)
    anderlecht = features[ANDERLECHT]
    assert anderlecht["id"] == f"{MONTH}/{ANDERLECHT}"
    assert anderlecht["properties"]["offered_t"] == 17.0
    assert anderlecht["properties"]["fulfilled_t"] is None
    # The polygon is the commune's: the same area within rounding.
    assert math.isclose(shape(anderlecht["geometry"]).area, OUTLINES[ANDERLECHT].area, rel_tol=1e-4)


async def test_three_organizations_of_which_one_has_90_percent_are_hidden(
    region: Region,
) -> None:
    month = "2025-03"
    suppliers = [await region.org("supplier") for _ in range(3)]
    for supplier, tonnes in zip(suppliers, (9, 0.5, 0.5), strict=True):
        await region.offer(supplier, IXELLES, tonnes)
    await region.move_into(month, *suppliers)
    body = await region.flows(group_by="commune", **{"from": month, "to": month})
    assert _cell(body, commune=IXELLES)["offered_t"] is None
    assert _cell(body, commune=IXELLES)["suppressed"] == ["offered_t"]
    [region_total] = (await region.flows(**{"from": month, "to": month}))["cells"]
    assert region_total["offered_t"] is None


async def test_one_supplier_and_two_buyers_of_its_matches_are_hidden(region: Region) -> None:
    month = "2025-04"
    supplier = await region.org("supplier")
    buyers = [await region.org("consumer") for _ in range(2)]
    offer = await region.offer(supplier, IXELLES, 10)
    for buyer, tonnes in zip(buyers, (3, 4), strict=True):
        wanted = await region.request(buyer, IXELLES, tonnes)
        await region.match(offer, wanted, tonnes, supplier, buyer, accept=True)
    await region.move_into(month, supplier, *buyers)
    body = await region.flows(group_by="commune", **{"from": month, "to": month})
    ixelles = _cell(body, commune=IXELLES)
    # Three organizations are in the matches, but only the supplier's tonnes: hidden.
    assert ixelles["proposed_t"] is None and ixelles["accepted_t"] is None
    assert {"proposed_t", "accepted_t"} <= set(ixelles["suppressed"])
    facts = await region.sql(
        "SELECT count(DISTINCT organization_id) AS n FROM stats.flow_facts "
        "WHERE measure = 'accepted_t' AND commune = $1 AND counted AND value <> 0 "
        "AND day BETWEEN '2025-04-01' AND '2025-04-30'",
        IXELLES,
    )
    assert facts[0]["n"] == 1


async def test_one_buyer_of_three_suppliers_is_hidden_too(region: Region) -> None:
    month = "2025-08"
    suppliers = [await region.org("supplier") for _ in range(3)]
    buyer = await region.org("consumer")
    wanted = await region.request(buyer, IXELLES, 10)
    for supplier, tonnes in zip(suppliers, (2, 3, 4), strict=True):
        offer = await region.offer(supplier, IXELLES, tonnes)
        await region.match(offer, wanted, tonnes, supplier, buyer, accept=True)
    await region.move_into(month, *suppliers, buyer)
    ixelles = _cell(
        await region.flows(group_by="commune", **{"from": month, "to": month}), commune=IXELLES
    )
    # The sellers would pass the rule, but the tonnes are all the one buyer's.
    assert ixelles["offered_t"] == 9.0
    assert ixelles["accepted_t"] is None


async def test_a_month_that_has_not_ended_is_not_published(region: Region) -> None:
    this_month = brussels_today().strftime("%Y-%m")
    supplier = await region.org("supplier")
    await region.offer(supplier, IXELLES, 5)
    for params, field_name in (
        ({"to": this_month}, "to"),
        ({"from": this_month}, "from"),
        ({"from": "2099-01", "to": "2099-02"}, "to"),
    ):
        assert_problem(await region.get(**params), 422, field_name, "ended_month")
    published = await region.sql(
        "SELECT 1 FROM stats.published_months WHERE month >= date_trunc('month', now())"
    )
    assert published == []


async def test_a_published_month_never_changes(region: Region) -> None:
    month = "2025-05"
    suppliers = [await region.org("supplier") for _ in range(3)]
    offers = [
        await region.offer(supplier, IXELLES, tonnes)
        for supplier, tonnes in zip(suppliers, (4, 5, 6), strict=True)
    ]
    await region.move_into(month, *suppliers)
    params = {"group_by": "commune,material", "from": month, "to": month}
    first = await region.flows(**params)
    assert _cell(first, commune=IXELLES, material="17")["offered_t"] == 15.0
    whole = await _whole_month(region, month)

    # An offer of the month grows to 50 t, another is posted and dated in the month.
    changed = await region.client.patch(
        f"/v1/offers/{offers[0]['id']}",
        json={"quantity": {"value": 50, "unit": "t"}},
        headers=suppliers[0].headers,
    )
    assert changed.status_code == 200, changed.text
    late = await region.org("supplier")
    await region.offer(late, IXELLES, 7)
    await region.move_into(month, late)
    now = await region.sql(
        "SELECT sum(value) AS t FROM stats.flow_facts WHERE measure = 'offered_t' "
        "AND commune = $1 AND day BETWEEN '2025-05-01' AND '2025-05-31'",
        IXELLES,
    )
    assert now[0]["t"] == 50 + 5 + 6 + 7
    assert await region.flows(**params) == first
    assert await _whole_month(region, month) == whole


async def test_each_place_keeps_its_commune_and_follows_the_outlines(region: Region) -> None:
    """The flows read the commune stored with each place: written with its location, written
    again when it moves, and again when the outline it lies in is redrawn."""
    supplier = await region.org("supplier")
    offer = await region.offer(supplier, IXELLES, 3)
    stored = "SELECT commune FROM offers WHERE id = $1"
    assert [row["commune"] for row in await region.sql(stored, offer["id"])] == [IXELLES]
    somewhere = inside(UCCLE)
    moved = await region.client.patch(
        f"/v1/offers/{offer['id']}",
        json={"location": point(somewhere)},
        headers=supplier.headers,
    )
    assert moved.status_code == 200, moved.text
    assert [row["commune"] for row in await region.sql(stored, offer["id"])] == [UCCLE]

    connection = await connect_raw(region.database_url)
    redrawing = connection.transaction()
    await redrawing.start()
    try:
        # The reference data loaded again as it was.
        await connection.execute("UPDATE communes SET name = name")
        assert await connection.fetchval(stored, offer["id"]) == UCCLE
        # Uccle without a small disc around the offer: the offer is in no commune now.
        await connection.execute(
            "UPDATE communes SET geom = ST_Multi(ST_Difference(geom, ST_Buffer("
            "ST_SetSRID(ST_MakePoint($1, $2), 4326), 0.0005))) WHERE nis_code = $3",
            *somewhere,
            UCCLE,
        )
        assert await connection.fetchval(stored, offer["id"]) is None
    finally:
        await redrawing.rollback()
        await connection.close()
    assert [row["commune"] for row in await region.sql(stored, offer["id"])] == [UCCLE]


async def test_concurrent_first_reads_publish_the_month_once(region: Region) -> None:
    month = "2025-06"
    suppliers = [await region.org("supplier") for _ in range(3)]
    for supplier, tonnes in zip(suppliers, (4, 5, 6), strict=True):
        await region.offer(supplier, UCCLE, tonnes)
    await region.move_into(month, *suppliers)
    # The reads meet where each claims the month: the insert of its row in published_months.
    # The test's own transaction inserts that row first, so that all six find the month
    # unpublished and wait on the held key together; once it is rolled back, one of them
    # claims the month and the others wait for its commit.
    answers = await overlapping(
        region.database_url,
        "INSERT INTO stats.published_months (month) VALUES ($1)",
        datetime.fromisoformat(f"{month}-01").date(),
        requests=[region.get(group_by="commune", **{"from": month, "to": month}) for _ in range(6)],
    )
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    assert _cell(answers[0].json(), commune=UCCLE)["offered_t"] == 15.0
    [row] = await region.sql(
        "SELECT count(*) AS months, (SELECT count(*) FROM stats.published_cells c "
        "WHERE c.month = $1 AND measure = 'offered_t' AND commune_level = 'commune' "
        "AND commune = $2 AND material_level = 'all') AS cells "
        "FROM stats.published_months WHERE month = $1",
        datetime.fromisoformat(f"{month}-01").date(),
        UCCLE,
    )
    assert (row["months"], row["cells"]) == (1, 1)


async def test_the_sweep_publishes_the_month_that_has_just_ended(region: Region) -> None:
    month = "2025-07"
    suppliers = [await region.org("supplier") for _ in range(3)]
    for supplier, tonnes in zip(suppliers, (4, 5, 6), strict=True):
        await region.offer(supplier, ANDERLECHT, tonnes)
    await region.move_into(month, *suppliers)
    published = "SELECT 1 FROM stats.published_months WHERE month = '2025-07-01'"
    assert await region.sql(published) == []
    # Its run at 00:10 on 1 August in Brussels, by a real worker.
    run_at = datetime(2025, 8, 1, 0, 10, tzinfo=BRUSSELS)
    jobs: procrastinate.App = create_job_app(region.app.state.settings)
    # Hourly: its first run in a month publishes the month before.
    assert jobs.periodic_registry.periodic_tasks[(PUBLISH_ENDED_MONTH, "")].cron == "10 * * * *"
    async with jobs.open_async():
        await jobs.tasks[PUBLISH_ENDED_MONTH].defer_async(timestamp=int(run_at.timestamp()))
    await work_until_idle(region.app)
    assert len(await region.sql(published)) == 1
    cells = await region.sql(
        "SELECT value FROM stats.published_cells WHERE month = '2025-07-01' "
        "AND measure = 'offered_t' AND commune_level = 'all' AND material_level = 'all'"
    )
    assert [c["value"] for c in cells] == [15]


async def test_only_the_region_reads_them_and_bad_parameters_are_named(region: Region) -> None:
    client = region.client
    supplier = await region.org("supplier")
    refused = await client.get("/v1/stats/flows", headers=supplier.headers)
    assert_problem(refused, 403)
    assert_problem(await client.get("/v1/stats/flows"), 401)
    admin = await region.org("admin")
    by_default = await client.get("/v1/stats/flows", headers=admin.headers)
    assert by_default.status_code == 200
    # By default, the last month that has ended.
    today = brussels_today()
    last = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert [c["month"] for c in by_default.json()["cells"]] == [last]
    # An observer reads; it changes nothing.
    write = await client.post("/v1/offers", json=offer_body(), headers=region.observer.headers)
    assert_problem(write, 403)

    flows = region.get
    assert_problem(await flows(group_by="commune,region"), 422, "group_by", "known_dimensions")
    assert_problem(await flows(group_by="month,month"), 422, "group_by", "known_dimensions")
    assert_problem(
        await flows(group_by="material", format="geojson"), 422, "group_by", "commune_for_geojson"
    )
    assert_problem(
        await flows(**{"from": "2025-12", "to": "2025-01"}), 422, "to", "not_before_from"
    )
    assert_problem(await flows(**{"from": "2020-01", "to": "2025-01"}), 422, "to", "at_most_months")
    for wrong in ("yesterday", "2025-13", "2025-1", "2025-01-15"):
        problem = await flows(**{"from": wrong, "to": "2025-01"})
        assert problem.status_code == 422, wrong
        assert problem.json()["errors"][0]["field"] == "from"
    assert_problem(await flows(**{"from": "2025-13"}), 422, "from", "month")
    assert_problem(await flows(material_level="code"), 422, "material_level", "enum")


async def test_every_process_answers_a_month_published_again_with_its_new_figures(
    region: Region,
) -> None:
    """Each API process keeps the answers it wrote; a month forgotten and published again
    (as the operator would to correct it) reads anew in every process, in every format."""
    month = "2025-09"
    suppliers = [await region.org("supplier") for _ in range(3)]
    for supplier, tonnes in zip(suppliers, (4, 5, 6), strict=True):
        await region.offer(supplier, IXELLES, tonnes)
    await region.move_into(month, *suppliers)
    other = create_app(settings_for(region.database_url))
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other), base_url="http://boucle.test"
        ) as other_client,
    ):

        async def ixelles_everywhere() -> set[object]:
            """Ixelles' offered tonnes in each process, as JSON, CSV and GeoJSON."""
            seen: set[object] = set()
            for client in (region.client, other_client):
                for answer in ("json", "csv", "geojson"):
                    response = await client.get(
                        "/v1/stats/flows",
                        params={
                            "group_by": "commune",
                            "from": month,
                            "to": month,
                            "format": answer,
                        },
                        headers=region.observer.headers,
                    )
                    assert response.status_code == 200, response.text
                    if answer == "csv":
                        rows = csv.DictReader(io.StringIO(response.text))
                        [row] = [r for r in rows if r["commune"] == IXELLES]
                        seen.add(float(row["offered_t"]))
                    elif answer == "geojson":
                        features = response.json()["features"]
                        [feature] = [f for f in features if f["id"] == f"{month}/{IXELLES}"]
                        seen.add(feature["properties"]["offered_t"])
                    else:
                        seen.add(_cell(response.json(), commune=IXELLES)["offered_t"])
            return seen

        assert await ixelles_everywhere() == {15.0}
        late = await region.org("supplier")
        await region.offer(late, IXELLES, 7)
        await region.move_into(month, late)
        # Published: the month does not change, read twice or in another process.
        assert await ixelles_everywhere() == {15.0}
        await region.changed(
            "DELETE FROM stats.published_months WHERE month = $1",
            datetime.fromisoformat(f"{month}-01").date(),
            apps=(other,),
        )
        assert await ixelles_everywhere() == {22.0}
        assert await ixelles_everywhere() == {22.0}
    await other.state.engine.dispose()


async def test_a_kept_answer_is_sent_without_a_statement_until_a_change_is_heard(
    region: Region,
) -> None:
    month = "2025-11"
    suppliers = [await region.org("supplier") for _ in range(3)]
    for supplier, tonnes in zip(suppliers, (4, 5, 6), strict=True):
        await region.offer(supplier, SCHAERBEEK, tonnes)
    await region.move_into(month, *suppliers)
    params = {"group_by": "commune", "from": month, "to": month}
    await eventually(lambda: region.app.state.grants.listening)

    async def reads_check(*expected_checks: int) -> None:
        """Reads the answer once for each of `expected_checks`: the same answer each time,
        checked against the database (its publications read) that many times."""
        for expected in expected_checks:
            with statements_of(region.app) as statements:
                again = await region.flows(**params)
                await asyncio.sleep(0.05)
            checks = sum("stats.published_months" in statement for statement in statements)
            assert again == first and checks == expected, statements

    kept = region.app.state.kept_stats_answers
    heard = kept.generation
    first = await region.flows(**params)  # the month published, the answer written and kept
    # Its own publication heard: the next read checks the answer once, finds it holds, and the
    # reads after it check nothing.
    await eventually(lambda: kept.generation != heard)
    await reads_check(1, 0, 0)

    # Another change heard (the reference data's edition written again as it was): so again.
    await region.changed("UPDATE stats.reference_edition SET edition = edition")
    await reads_check(1, 0)


async def test_answers_kept_name_the_communes_as_the_reference_data_loaded_last(
    region: Region,
) -> None:
    month = "2025-10"
    suppliers = [await region.org("supplier") for _ in range(3)]
    for supplier, tonnes in zip(suppliers, (4, 5, 6), strict=True):
        await region.offer(supplier, UCCLE, tonnes)
    await region.move_into(month, *suppliers)
    params = {"group_by": "commune", "from": month, "to": month}
    before = _cell(await region.flows(**params), commune=UCCLE)
    assert before["offered_t"] == 15.0
    renamed = "UPDATE communes SET name = $1 WHERE nis_code = $2"
    await region.changed(renamed, "Uccle (renamed)", UCCLE)
    try:
        after = _cell(await region.flows(**params), commune=UCCLE)
        assert after == {**before, "commune_name": "Uccle (renamed)"}
    finally:
        await region.changed(renamed, before["commune_name"], UCCLE)
    assert _cell(await region.flows(**params), commune=UCCLE) == before
