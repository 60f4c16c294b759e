"""The API's own pages work where there is no internet: `/docs` (Swagger UI) and `/redoc`
(ReDoc) render every operation in Debian's Chromium from bundles this app serves, asking no
other host for anything; `/` links every page and endpoint an integrator looks for; OPTIONS,
HEAD and a wrong method answer as HTTP says."""

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request

from app.main import create_app
from tests.browser import Watched
from tests.conftest import ADMIN_TOKEN, offer_body, settings_for
from tests.live_server import Served

WAIT_MS = 60_000
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[Served]:
    with Served(create_app(settings_for(database_url))) as server:
        yield server


def _operations(served: Served) -> int:
    document = httpx.get(f"{served.url}/openapi.json").json()
    return sum(len(methods) for methods in document["paths"].values())


def _open_offline(browser: Browser, url: str, watched: Watched, elsewhere: list[str]) -> Page:
    """The page, with every request to another host noted in `elsewhere`."""
    context = browser.new_context()
    origin = urlsplit(url).netloc

    def only_here(request: Request) -> None:
        host = urlsplit(request.url).netloc
        if host and host != origin:
            elsewhere.append(request.url)

    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("request", only_here)
    watched.watch(page)
    page.goto(url)
    return page


def test_swagger_ui_renders_every_operation_offline(served: Served, browser: Browser) -> None:
    watched, elsewhere = Watched(errors=[]), list[str]()
    page = _open_offline(browser, f"{served.url}/docs", watched, elsewhere)
    page.wait_for_selector(".opblock")
    page.wait_for_load_state("networkidle")
    assert page.locator(".opblock").count() == _operations(served)
    assert watched.errors == [] and elsewhere == []


def test_redoc_renders_every_operation_offline(served: Served, browser: Browser) -> None:
    watched, elsewhere = Watched(errors=[]), list[str]()
    page = _open_offline(browser, f"{served.url}/redoc", watched, elsewhere)
    page.wait_for_selector("[data-section-id^='operation/']")
    page.wait_for_load_state("networkidle")
    sections = page.locator("[data-section-id^='operation/']").count()
    assert sections == _operations(served)
    # ReDoc's sidebar asks its maker's CDN for a logo: the page's policy blocks it, so that
    # nothing leaves the machine, and the logo hides itself.
    blocked = [e for e in watched.errors if REDOC_LOGO in e]
    assert blocked and all("csp" in e.lower() or "Content Security Policy" in e for e in blocked)
    assert [e for e in watched.errors if REDOC_LOGO not in e] == []
    assert set(elsewhere) <= {REDOC_LOGO}


def test_the_landing_page_links_what_an_integrator_looks_for(served: Served) -> None:
    landing = httpx.get(f"{served.url}/")
    assert landing.status_code == 200 and landing.headers["content-type"].startswith("text/html")
    links = set(re.findall(r'href="(/[^"]*)"', landing.text))
    assert {"/docs", "/redoc", "/openapi.json", "/map", "/ogc", "/healthz", "/readyz"} <= links
    for link in links:
        assert httpx.get(f"{served.url}{link}", follow_redirects=True).status_code == 200, link


def test_options_head_and_a_wrong_method_answer_as_http_says(served: Served) -> None:
    with httpx.Client(base_url=served.url) as client:
        options = client.options("/v1/offers")
        assert options.status_code == 204
        assert options.headers["allow"] == "GET, HEAD, OPTIONS, POST"
        one = client.options("/v1/offers/0f8fad5b-d9cb-469f-a165-70867728950e")
        assert one.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
        wrong = client.put("/v1/offers")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD, OPTIONS, POST"
        assert "GET, HEAD, OPTIONS, POST" in wrong.json()["detail"]
        assert wrong.headers["content-type"].startswith("application/problem+json")
        head = client.head("/healthz")
        assert head.status_code == 200 and head.content == b""
        # HEAD of a resource gives the headers GET gives, ETag included, without the body.
        made = client.post(
            "/v1/organizations",
            json={"name": "Head Office", "roles": ["supplier"]},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        key = {"Authorization": f"Bearer {made.json()['api_key']}"}
        offer = client.post("/v1/offers", json=offer_body(), headers=key).headers["location"]
        got, headed = client.get(offer, headers=key), client.head(offer, headers=key)
        assert headed.status_code == 200 and headed.content == b""
        for header in ("etag", "content-type", "content-length"):
            assert headed.headers[header] == got.headers[header], header
        assert client.options("/v1/nothing").status_code == 404
