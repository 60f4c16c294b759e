"""The map page in a real browser: Debian's chromium, driven by Playwright, over the app served
by uvicorn on 127.0.0.1 with a database of its own, seeded through the API (offers and
requests of two EWC chapters, a yard and a hub published by their operator and a hub not, an
accepted match, dated in the last month that has ended and published; a carrier's route plan
planned by a real worker along the roads). The page must load with no console error and no
failed request, shade the communes by that month and say so, hold in its layers what was
seeded (the published hubs alone), draw the carrier's routes and numbered stops once its key
is pasted, open a stop's popup with the stop's times, and still show the map and the panel at
a phone's width. Screenshots go to .data/map-page*.png.

Playwright never downloads a browser here: it drives /usr/bin/chromium (scripts/setup.sh
installs it), or the one BOUCLE_CHROMIUM names."""

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page

from app.kit.error_handlers import install_error_handlers
from app.kit.local_time import brussels_today
from app.kit.security_headers import SecurityHeadersMiddleware
from app.main import create_app
from app.map import pages
from app.settings import PROJECT_ROOT
from app.stats.months import last_ended_month, month_text
from app.worker.process import work_until_idle
from tests.browser import Watched
from tests.conftest import (
    ADMIN_TOKEN,
    GRAND_PLACE,
    PLAN_DAY,
    RECY_K,
    TOUR_TAXIS,
    assert_problem,
    create_database,
    date_in_month,
    load_reference,
    migrate,
    offer_body,
    plan_body,
    point,
    request_body,
    settings_for,
)
from tests.live_server import Served

SCREENSHOTS = PROJECT_ROOT / ".data"
WAIT_MS = 60_000

# Two EWC chapters on each side: 17 (construction and demolition) and 20 (municipal).
OFFERS = [
    ("170504", "Excavated soil", RECY_K),
    ("170201", "Oak beams", [4.3410, 50.8550]),
    ("170201", "Pine floorboards", [4.3700, 50.8330]),
    ("200110", "Work clothes", [4.3900, 50.8600]),
]
YARD = [4.3330, 50.8250]
REQUESTS = [
    ("1705", "Soil for a garden", GRAND_PLACE),
    ("200110", "Textiles to upcycle", [4.3200, 50.8700]),
    ("170201", "Wood for a workshop", [4.3050, 50.8300]),
]


@dataclass
class Seeded:
    served: Served
    carrier_key: str
    own_offers: int
    own_matches: int
    hubs: int
    plan: dict[str, Any]
    month: str


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class _Seeder:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.organization_ids: list[str] = []

    def post(self, path: str, body: dict[str, Any], key: str, status: int = 201) -> Any:
        response = self.client.post(path, json=body, headers=_bearer(key))
        assert response.status_code == status, (path, response.text)
        return response.json()

    def organization(self, *roles: str) -> str:
        body = {"name": f"map {uuid.uuid4().hex[:6]}", "roles": list(roles)}
        made = self.post("/v1/organizations", body, ADMIN_TOKEN)
        self.organization_ids.append(made["id"])
        return str(made["api_key"])

    def site(self, key: str, kind: str, name: str, where: list[float]) -> str:
        body = {"name": name, "kind": kind, "location": point(where)}
        return str(self.post("/v1/sites", body, key)["id"])


def _seed(seed: _Seeder) -> tuple[str, dict[str, Any]]:
    """The public rows and the carrier's; answers the carrier's key and the plan to ask for."""
    client = seed.client
    supplier = seed.organization("supplier")
    consumer = seed.organization("consumer")
    carrier = seed.organization("carrier", "supplier")
    operator = seed.organization("hub_operator")
    offers = [
        seed.post("/v1/offers", offer_body(material=m, title=t, location=point(at)), supplier)["id"]
        for m, t, at in OFFERS[1:]
    ]
    m, t, at = OFFERS[0]
    own_offer = seed.post(
        "/v1/offers", offer_body(material=m, title=t, location=point(at)), carrier
    )
    requests = [
        seed.post("/v1/requests", request_body(material=m, title=t, location=point(at)), consumer)[
            "id"
        ]
        for m, t, at in REQUESTS
    ]
    assert offers and requests
    # Part of the soil goes to the garden: both stay open, and the match is the carrier's.
    pair = {
        "offer_id": own_offer["id"],
        "request_id": requests[0],
        "quantity": {"value": 2, "unit": "t"},
    }
    match = seed.post("/v1/matches", pair, carrier)["id"]
    for key in (carrier, consumer):
        seed.post(f"/v1/matches/{match}/accept", {}, key, 200)

    yard = seed.site(operator, "yard", "Parc à matières", YARD)
    # The operator publishes its yard and its hub: only then are they on the map.
    put = client.put(
        f"/v1/hubs/{yard}", json={"capacity": {"t": 400}, "public": True}, headers=_bearer(operator)
    )
    assert put.status_code == 200, put.text
    intake = {
        "kind": "intake",
        "walk_in": "Menuiserie Dupont",
        "lot": "MAP-1",
        "material": "170201",
        "condition": "B",
        "quantity": {"value": 3, "unit": "t"},
    }
    seed.post(f"/v1/hubs/{yard}/movements", intake, operator)
    hub = seed.site(operator, "hub", "Hub Tour & Taxis", TOUR_TAXIS)
    put = client.put(f"/v1/hubs/{hub}", json={"public": True}, headers=_bearer(operator))
    assert put.status_code == 200, put.text
    # A hub its operator has not published stays off the map.
    seed.site(operator, "hub", "Hub privé", [4.3600, 50.8600])

    day = plan_body(2)
    vehicles = [seed.post("/v1/vehicles", v, carrier)["id"] for v in day["vehicles"]]
    shipments = [seed.post("/v1/shipments", s, carrier)["id"] for s in day["shipments"]]
    plan = {
        "date": PLAN_DAY,
        "vehicle_ids": vehicles,
        "shipment_ids": shipments,
        "matrix": "road",
        "time_limit_s": 2,
    }
    return carrier, plan


@pytest.fixture(scope="module")
async def map_database_url(server_url: str) -> str:
    url = await create_database(server_url, "boucle_map")
    migrate(url)
    load_reference(url, "reference", "roads")
    return url


@pytest.fixture(scope="module")
def seeded(map_database_url: str) -> Iterator[Seeded]:
    with (
        Served(create_app(settings_for(map_database_url))) as served,
        httpx.Client(base_url=served.url, timeout=60) as client,
    ):
        seed = _Seeder(client)
        carrier, asked = _seed(seed)
        # The listings and the match as if posted last month, before any worker (whose
        # sweep may publish that month) runs; the route plan keeps its day.
        month = month_text(last_ended_month(brussels_today()))
        served.run(date_in_month(map_database_url, month, seed.organization_ids))
        started = seed.post("/v1/route-plans", asked, carrier, 202)
        served.run(work_until_idle(served.app))
        plan = client.get(f"/v1/route-plans/{started['id']}", headers=_bearer(carrier)).json()
        assert plan["status"] == "done", plan
        assert plan["result"]["unassigned"] == [], plan["result"]["unassigned"]
        # The Region reads the month: it is published, and the open data has it.
        observer = seed.organization("observer")
        read = client.get(
            "/v1/stats/flows",
            params={"group_by": "commune", "from": month, "to": month},
            headers=_bearer(observer),
        )
        assert read.status_code == 200, read.text
        yield Seeded(served, carrier, own_offers=1, own_matches=1, hubs=2, plan=plan, month=month)


def _open(browser: Browser, url: str, watched: Watched, width: int, height: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    watched.watch(page)
    page.goto(f"{url}/map")
    page.evaluate("window.boucleMapReady.then(() => true)")
    return page


def _use_key(page: Page, key: str) -> None:
    page.fill("#api-key", key)
    page.click("#key-use")
    page.wait_for_selector("body[data-account='ready']")


# The distinct features of a source: a feature that spans tiles comes once from each tile.
COUNT_SOURCE = """([source, filter, key]) => {
    const found = window.boucleMap.querySourceFeatures(source, filter ? { filter } : {});
    return new Set(found.map((f) => key.map((k) => f.properties[k]).join(' '))).size;
}"""

COUNT_RENDERED = """([layer]) => {
    const found = window.boucleMap.queryRenderedFeatures({ layers: [layer] });
    return new Set(found.map((f) => f.properties.id)).size;
}"""


def _count(page: Page, source: str, key: list[str], filter: Any = None) -> int:
    return int(page.evaluate(COUNT_SOURCE, [source, filter, key]))


def _distinct_colours(browser: Browser, png: bytes) -> int:
    """The browser decodes the PNG: how many colours its pixels take."""
    page = browser.new_page()
    try:
        return int(
            page.evaluate(
                """async (data) => {
                    const image = new Image();
                    image.src = `data:image/png;base64,${data}`;
                    await image.decode();
                    const canvas = new OffscreenCanvas(image.width, image.height);
                    const context = canvas.getContext('2d');
                    context.drawImage(image, 0, 0);
                    const pixels = context.getImageData(0, 0, image.width, image.height).data;
                    const colours = new Set();
                    for (let i = 0; i < pixels.length; i += 4) {
                        colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
                    }
                    return colours.size;
                }""",
                base64.b64encode(png).decode(),
            )
        )
    finally:
        page.close()


def _expected_stops(plan: dict[str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    return [
        (route["vehicle_id"], order, stop)
        for route in plan["result"]["routes"]
        for order, stop in enumerate(route["stops"])
    ]


def test_the_map_page_shows_the_open_data_and_a_carriers_rounds(
    seeded: Seeded, browser: Browser
) -> None:
    watched = Watched(errors=[])
    page = _open(browser, seeded.served.url, watched, 1280, 800)

    # The base map: road tiles from tipg, the communes, and OpenStreetMap's credit.
    layer = page.evaluate("window.boucleMap.getLayer('roads-major').sourceLayer")
    roads = page.evaluate(
        "([layer]) => window.boucleMap.querySourceFeatures('roads', { sourceLayer: layer }).length",
        [layer],
    )
    assert roads > 100
    assert "© OpenStreetMap contributors" in page.locator(".maplibregl-ctrl-attrib").inner_text()
    assert page.locator(".maplibregl-ctrl-attrib").is_visible()
    # The communes of the latest month published, which the legend names.
    assert _count(page, "communes", ["nis_code"]) == 19
    assert page.locator("#choropleth-month").get_attribute("data-month") == seeded.month
    # The soil's commune has one accepted match: one supplier's tonnes, hidden.
    assert _count(page, "communes", ["nis_code"], ["!", ["has", "accepted_t"]]) == 1

    # The public layers hold what was seeded, and draw it all in the first view.
    # The yard's lot is on the market, but not in the open data: its yard is published
    # rounded, and the lot would give its exact stock away.
    open_offers = len(OFFERS)
    assert _count(page, "offers", ["id"]) == open_offers
    assert _count(page, "requests", ["id"]) == len(REQUESTS)
    assert _count(page, "hubs", ["id"]) == seeded.hubs
    for layer_id, expected in (("offers", open_offers), ("requests", len(REQUESTS))):
        assert page.evaluate(COUNT_RENDERED, [layer_id]) == expected
    legend = page.locator("#chapter-legend li").evaluate_all(
        "(items) => items.map((li) => li.dataset.chapter)"
    )
    assert legend == ["17", "20"]
    # The yard's popup gives its free room: 400 t less the 3 t taken in.
    x, y = page.evaluate(
        f"(() => {{ const p = window.boucleMap.project({YARD}); return [p.x, p.y]; }})()"
    )
    box = page.locator("#map canvas").bounding_box()
    assert box
    page.mouse.click(box["x"] + x, box["y"] + y)
    assert page.locator(".maplibregl-popup .free-room").inner_text() == "397.0 t of 400 t"
    assert page.locator(".maplibregl-popup .rounding").inner_text() == "rounded to the tonne"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "map-page-public.png")
    page.locator(".maplibregl-popup-close-button").click()

    # The carrier's key: its offer, its match, its plan's routes and numbered stops.
    _use_key(page, seeded.carrier_key)
    plan, result = seeded.plan, seeded.plan["result"]
    assert page.locator(f"#plan[data-loaded='{plan['id']}']").count() == 1
    assert page.evaluate("sessionStorage.getItem('boucle.apiKey')") == seeded.carrier_key
    assert page.evaluate("localStorage.length") == 0
    assert _count(page, "mine-offers", ["id"]) == seeded.own_offers
    assert _count(page, "mine-matches", ["id"]) == seeded.own_matches
    route_filter = ["==", ["get", "feature"], "route"]
    stop_filter = ["==", ["get", "feature"], "stop"]
    assert _count(page, "plan", ["vehicle_id"], route_filter) == len(result["routes"])
    stops = _expected_stops(plan)
    assert _count(page, "plan", ["vehicle_id", "order"], stop_filter) == len(stops)
    held = page.locator(".stop-marker").evaluate_all(
        "(all) => all.map((m) => [m.dataset.vehicle, m.dataset.orders.split(' ').map(Number)])"
    )
    numbered = sorted((v, order) for v, orders in held for order in orders)
    assert numbered == sorted((v, order) for v, order, _ in stops)

    # The panel gives the plan's km, CO2e and saving.
    km = page.locator("#plan-km")
    assert float(km.get_attribute("data-value") or "nan") == result["kpis"]["km"]
    assert f"{result['kpis']['km']:.1f} km" in km.inner_text()
    assert (
        float(page.locator("#plan-co2").get_attribute("data-value") or "nan")
        == (result["kpis"]["co2_kg"])
    )
    assert page.locator("#plan-saving").inner_text().strip()

    # A delivery's marker opens its popup with that stop's arrival and departure.
    vehicle, order, stop = next(s for s in stops if s[2]["kind"] == "delivery")
    page.locator(".stop-marker").nth(
        next(k for k, (v, orders) in enumerate(held) if v == vehicle and order in orders)
    ).click()
    shown = page.locator(f".maplibregl-popup .stop[data-order='{order}']")
    shown.wait_for()
    assert shown.locator(".arrival time").get_attribute("datetime") == stop["arrival"]
    assert shown.locator(".arrival").inner_text() == stop["arrival"][11:16]
    assert shown.locator(".departure time").get_attribute("datetime") == stop["departure"]
    assert shown.locator(".departure").inner_text() == stop["departure"][11:16]
    assert f"{stop['load_kg']:.0f} kg" in shown.locator(".load").inner_text()

    page.screenshot(path=SCREENSHOTS / "map-page.png")
    # Not blank: the map alone (streets, communes, routes, markers) takes many colours.
    assert _distinct_colours(browser, page.locator("#map").screenshot()) > 200

    page.context.close()

    # A rider's phone: the map on top with the whole round in view, the panel below it,
    # nothing wider than the screen.
    phone = _open(browser, seeded.served.url, watched, 375, 740)
    _use_key(phone, seeded.carrier_key)
    map_box = phone.locator("#map").bounding_box()
    panel_box = phone.locator("#panel").bounding_box()
    assert map_box and panel_box
    assert map_box["width"] >= 370 and map_box["height"] >= 300
    assert panel_box["y"] >= map_box["y"] + map_box["height"] - 1
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    assert phone.locator(".stop-marker").count() == len(held)
    for hook in ("#api-key", "#plan-select", "#plan-km", "#toggle-plan"):
        phone.locator(hook).scroll_into_view_if_needed()
        assert phone.locator(hook).is_visible(), hook
    phone.screenshot(path=SCREENSHOTS / "map-page-phone.png", full_page=True)
    assert _distinct_colours(browser, phone.locator("#map").screenshot()) > 100
    phone.context.close()
    assert watched.errors == []


def _map_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    pages.mount_map(app)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


async def test_the_page_and_its_assets_come_from_this_origin_alone() -> None:
    transport = httpx.ASGITransport(app=_map_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://boucle.test") as client:
        page = await client.get("/map")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        # Scripts of this origin alone, none inline; the key goes to this origin alone.
        assert "default-src 'self'" in policy and "script-src 'self';" in policy
        assert "connect-src" not in policy
        for path in ("/map/assets/map.js", "/map/assets/maplibre-gl/maplibre-gl.mjs"):
            script = await client.get(path)
            assert script.status_code == 200, path
            assert script.headers["content-type"].startswith("text/javascript"), path
        # The folder's other files are not the page's.
        for path in (
            "/map/assets/package.json",
            "/map/assets/node_modules/maplibre-gl/package.json",
        ):
            assert (await client.get(path)).status_code == 404, path


async def test_without_maplibre_the_page_answers_503_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pages, "MAPLIBRE_DIST", tmp_path / "not-installed")
    transport = httpx.ASGITransport(app=_map_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://boucle.test") as client:
        problem = assert_problem(await client.get("/map"), 503)
        assert "scripts/setup.sh" in problem["detail"]
        missing = await client.get("/map/assets/maplibre-gl/maplibre-gl.mjs")
        assert missing.status_code == 404
