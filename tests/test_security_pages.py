"""Nothing a user wrote runs in a browser: hostile titles, names and descriptions, posted through
the API, are opened on every page that shows them (the open data in HTML, the map with and
without a key, the docs, the landing page) in Debian's Chromium. No dialog opens, no script of
theirs runs, no request leaves for another host, the text shows as text, and every page says
so in its headers (a strict Content-Security-Policy, nosniff, a Referrer-Policy)."""

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, Request

from app.main import create_app
from tests.conftest import (
    ADMIN_TOKEN,
    RECY_K,
    create_database,
    load_reference,
    migrate,
    offer_body,
    point,
    request_body,
    settings_for,
)
from tests.live_server import Served

WAIT_MS = 60_000
# Each sets window.__pwned and opens a dialog if it ever runs.
HOSTILE = [
    '<img src=x onerror="window.__pwned=1;alert(1)">',
    "<script>window.__pwned=2;alert(2)</script>",
    '"><svg onload="window.__pwned=3;alert(3)">',
    '\'><iframe srcdoc="<script>parent.__pwned=4;alert(4)</script>"></iframe>',
    '<a href="javascript:window.__pwned=5" id="click-me">click</a>',
]


@dataclass
class Seeded:
    served: Served
    key: str
    offer_ids: list[str]


@pytest.fixture(scope="module")
async def pages_database_url(server_url: str) -> str:
    url = await create_database(server_url, "boucle_hostile_text")
    migrate(url)
    load_reference(url, "reference", "roads")
    return url


@pytest.fixture(scope="module")
def seeded(pages_database_url: str) -> Iterator[Seeded]:
    with (
        Served(create_app(settings_for(pages_database_url))) as served,
        httpx.Client(base_url=served.url, timeout=60) as client,
    ):
        created = client.post(
            "/v1/organizations",
            json={"name": HOSTILE[0], "roles": ["supplier", "consumer", "hub_operator"]},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert created.status_code == 201, created.text
        key = created.json()["api_key"]
        headers = {"Authorization": f"Bearer {key}"}
        offer_ids = []
        for title in HOSTILE:
            body = offer_body(title=title, description=title)
            response = client.post("/v1/offers", json=body, headers=headers)
            assert response.status_code == 201, response.text
            offer_ids.append(response.json()["id"])
        hostile_request = request_body(title=HOSTILE[1], description=HOSTILE[2])
        assert client.post("/v1/requests", json=hostile_request, headers=headers).is_success
        yard = client.post(
            "/v1/sites",
            json={"name": HOSTILE[2], "kind": "yard", "location": point(RECY_K)},
            headers=headers,
        )
        assert yard.status_code == 201, yard.text
        published = client.put(
            f"/v1/hubs/{yard.json()['id']}", json={"public": True}, headers=headers
        )
        assert published.status_code == 200, published.text
        yield Seeded(served, key, offer_ids)


@dataclass
class Visit:
    """What happened in the browser while a page was open."""

    origin: str
    dialogs: list[str]
    elsewhere: list[str]

    def dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _elsewhere(self, request: Request) -> bool:
        return urlsplit(request.url).netloc != self.origin and not request.url.startswith(
            ("data:", "blob:")
        )

    def finished(self, request: Request) -> None:
        if self._elsewhere(request):
            self.elsewhere.append(request.url)

    def failed(self, request: Request) -> None:
        # A request the page's policy stopped never left the browser (ReDoc's logo).
        if self._elsewhere(request) and request.failure not in ("csp", "net::ERR_BLOCKED_BY_CSP"):
            self.elsewhere.append(f"{request.url} ({request.failure})")


def _open(browser: Browser, url: str) -> tuple[Page, Visit]:
    page = browser.new_context().new_page()
    page.set_default_timeout(WAIT_MS)
    visit = Visit(origin=urlsplit(url).netloc, dialogs=[], elsewhere=[])
    page.on("dialog", visit.dialog)
    page.on("requestfinished", visit.finished)
    page.on("requestfailed", visit.failed)
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, url
    headers = response.headers
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy, url
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    return page, visit


def _nothing_ran(page: Page, visit: Visit) -> None:
    # Whatever a hostile link would do, were it followed.
    for link in page.locator("#click-me").all():
        link.click()
    page.wait_for_timeout(300)
    assert visit.dialogs == [], visit.dialogs
    assert page.evaluate("window.__pwned") is None
    assert visit.elsewhere == [], visit.elsewhere


def test_the_open_data_pages_show_hostile_text_as_text(seeded: Seeded, browser: Browser) -> None:
    base = f"{seeded.served.url}/ogc"
    shown = {
        "/collections/ogc.offers/items?f=html": HOSTILE,
        f"/collections/ogc.offers/items/{seeded.offer_ids[0]}?f=html": [HOSTILE[0]],
        f"/collections/ogc.offers/items/{seeded.offer_ids[3]}?f=html": [HOSTILE[3]],
        "/collections/ogc.requests/items?f=html": [HOSTILE[1]],
        "/collections/ogc.hubs/items?f=html": [HOSTILE[2]],
        "/collections?f=html": [],
        "/collections/ogc.offers?f=html": [],
        "/collections/ogc.offers/queryables?f=html": [],
        "/?f=html": [],
    }
    for path, texts in shown.items():
        page, visit = _open(browser, base + path)
        body = page.inner_text("body")
        for text in texts:
            assert text in body, (path, text)
        _nothing_ran(page, visit)
        page.context.close()


def test_the_map_shows_hostile_text_as_text(seeded: Seeded, browser: Browser) -> None:
    page, visit = _open(browser, f"{seeded.served.url}/map")
    page.evaluate("window.boucleMapReady.then(() => true)")
    page.fill("#api-key", seeded.key)
    page.click("#key-use")
    page.wait_for_selector("body[data-account='ready']")
    # The popup of the place where the hostile offers are: public ones and the key's own.
    x, y = page.evaluate(
        f"(() => {{ const p = window.boucleMap.project({RECY_K}); return [p.x, p.y]; }})()"
    )
    box = page.locator("#map canvas").bounding_box()
    assert box
    page.mouse.click(box["x"] + x, box["y"] + y)
    popup = page.locator(".maplibregl-popup").inner_text()
    assert any(text in popup for text in HOSTILE), popup
    _nothing_ran(page, visit)
    page.context.close()


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc"])
def test_the_api_pages_run_no_hostile_text(seeded: Seeded, browser: Browser, path: str) -> None:
    page, visit = _open(browser, seeded.served.url + path)
    page.wait_for_load_state("networkidle")
    _nothing_ran(page, visit)
    page.context.close()


def test_an_inline_script_does_not_run_on_any_page(seeded: Seeded, browser: Browser) -> None:
    """The policy itself, apart from escaping: a script put into a page by hand is refused."""
    page, visit = _open(browser, f"{seeded.served.url}/ogc/collections?f=html")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__pwned = 6; alert(6)'; document.body.append(s); }"
    )
    _nothing_ran(page, visit)
    page.context.close()
