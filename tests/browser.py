"""Debian's Chromium driven by Playwright, for the tests of pages (the map, the docs). Playwright
never downloads a browser here: it drives /usr/bin/chromium (scripts/setup.sh installs it with
`--test`), or the one BOUCLE_CHROMIUM names."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, sync_playwright

CHROMIUM = Path(os.environ.get("BOUCLE_CHROMIUM", "/usr/bin/chromium"))
# Headless and quiet: nothing but the page's own requests leaves the browser. Without a GPU,
# WebGL (which MapLibre needs) runs on SwiftShader, asked for by name: Chromium deprecates
# falling back to it by itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",
]


@dataclass
class Watched:
    """What went wrong in the browser while a page ran."""

    errors: list[str]

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} at {message.location}")

    def page_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")

    def request_failed(self, request: Request) -> None:
        self.errors.append(f"request failed: {request.url} {request.failure}")

    def response(self, response: Response) -> None:
        if response.status >= 400:
            self.errors.append(f"{response.status} on {response.url}")

    def watch(self, page: Page) -> None:
        page.on("console", self.console)
        page.on("pageerror", self.page_error)
        page.on("requestfailed", self.request_failed)
        page.on("response", self.response)


# Per test: sync Playwright runs an event loop of its own in this thread while it is open.
@pytest.fixture
def browser() -> Iterator[Browser]:
    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} is missing: the map page's test needs Debian's chromium; scripts/setup.sh "
        f"installs it as root (or set BOUCLE_CHROMIUM to a Chromium binary)"
    )
    with sync_playwright() as playwright:
        # No user data dir given: each launch gets a fresh temporary profile.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
