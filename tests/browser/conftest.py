"""Browser fixtures: one seeded store, one dashboard server and one headless Chromium per module.

Chromium is Debian's (``apt-get install -y chromium``, /usr/bin/chromium): Playwright's own
download does not work here. A missing browser fails the tests; it never skips them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, sync_playwright
from sqlalchemy import Engine

from odbridge.dashboard.app import create_app
from odbridge.dashboard.server import DashboardServer
from odbridge.store.db import create_store_engine
from tests.browser.seed import SECRET, seed_store

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPECTED_STATUS_NOTE = "Failed to load resource: the server responded with a status of 4"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def chromium_path() -> str:
    """Debian's chromium; the test fails (never skips) when it is not installed."""
    candidate = (
        os.environ.get("ODBRIDGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    )
    if not Path(candidate).exists():
        pytest.fail(
            "Chromium is not installed: run `apt-get update && apt-get install -y chromium` "
            "(or set ODBRIDGE_CHROMIUM to a Chromium binary).",
            pytrace=False,
        )
    return candidate


@pytest.fixture(scope="module")
def dashboard_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder = tmp_path_factory.mktemp("dashboard")
    engine = create_store_engine(f"sqlite:///{folder / 'store.sqlite'}")
    seed_store(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def dashboard_url(dashboard_store: Engine) -> Iterator[str]:
    app = create_app(dashboard_store, secret_key=SECRET)
    with DashboardServer(app) as server:
        yield server.url


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = chromium_path()
    instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield instance
    instance.close()


@dataclass
class Traffic:
    """Every request the page made, and every console error (CSP violations show there)."""

    origin: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def on_console(self, message: ConsoleMessage) -> None:
        # a page served with 401/403/404/429 on purpose logs "Failed to load resource": fine
        if message.type == "error" and not message.text.startswith(EXPECTED_STATUS_NOTE):
            self.errors.append(message.text)

    def leaks(self) -> list[str]:
        """Requests to anything but the dashboard on 127.0.0.1."""
        bad = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if parts.hostname != "127.0.0.1" or f"{parts.scheme}://{parts.netloc}" != self.origin:
                bad.append(url)
        return bad


@pytest.fixture
def traffic(dashboard_url: str) -> Traffic:
    return Traffic(origin=dashboard_url)


@pytest.fixture
def page(browser: Browser, dashboard_url: str, traffic: Traffic) -> Iterator[Page]:
    """A fresh browser context (no cookies) at a laptop size; checks the traffic at the end."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=dashboard_url)
    new_page = context.new_page()
    new_page.on("request", traffic.on_request)
    new_page.on("console", traffic.on_console)
    new_page.on("pageerror", lambda error: traffic.errors.append(f"page error: {error}"))
    yield new_page
    context.close()
    assert traffic.requests, "the page made no request at all"
    assert traffic.leaks() == [], "requests left 127.0.0.1"
    assert traffic.errors == [], "console errors (CSP violations included)"


def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot under test-artifacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
