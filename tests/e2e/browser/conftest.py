"""Browser fixtures: Debian's Chromium, headless, driven by Playwright against the system
started as ``make up`` starts it (the ``system`` fixture of ``tests/e2e``, one per module).

- Chromium is the system's (``/usr/bin/chromium``, ``CHROMIUM_PATH`` to override):
  Playwright never downloads a browser here. ``make test`` installs it when missing.
- Every page's console errors and uncaught exceptions are collected; a test fails on any
  (``Shopper.assert_quiet``), except the browser's own line for an HTTP answer the page
  asked for and handled (a 409 when a pair is taken, a 503 that gives a place in line):
  Chromium logs every non-2xx ``fetch`` answer, whatever the page does with it.
- Screenshots of each page, at desktop and phone size, go to ``test-artifacts/browser``
  (git-ignored; ``STOREFRONT_ARTIFACTS`` to override).
- Randomness (user names, which buyer clicks first) comes from one seed, printed;
  ``STOREFRONT_SEED`` replays a run.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from ..conftest import RunningSystem

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# no network but loopback here: keep Chromium from calling home (each refused call is noise)
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("STOREFRONT_ARTIFACTS") or ROOT / "test-artifacts" / "browser")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery"
# an answer the page handled, as Chromium words it (the URL is in the message's location)
HANDLED_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of "
                            r"(409|503|403|401|404)\b")


@pytest.fixture(scope="module")
def seed() -> int:
    value = int(os.environ.get("STOREFRONT_SEED") or time.time_ns() % 1_000_000)
    print(f"\nstorefront seed: {value} (STOREFRONT_SEED={value} replays it)")
    return value


@pytest.fixture(scope="module")
def rng(seed: int) -> random.Random:
    return random.Random(seed)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (once, before any browser)
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's package "
                    "(`apt-get install chromium`; `make test` does it when run as root)")
    async with async_playwright() as playwright:
        # Playwright gives each launch a new, empty profile (--user-data-dir) of its own
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, chromium_sandbox=False, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
            print(f"\nstorefront screenshots: {ARTIFACTS}")


@dataclass
class Shopper:
    """One person's browser (a context of its own: its own sessionStorage and tokens),
    with every page's console errors collected."""

    name: str
    context: BrowserContext
    base: str
    errors: list[str] = field(default_factory=list)
    handled: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    async def page(self) -> Page:
        page = await self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"{self.name}: uncaught {exc}"))
        page.on("request", lambda request: self.requests.append(request.url))
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "") if message.location else ""
        line = f"{self.name}: {message.text} ({where})"
        if HANDLED_STATUS.match(message.text) and "/api/" in where:
            self.handled.append(line)
        else:
            self.errors.append(line)

    async def log_in(self, page: Page, username: str, password: str = PASSWORD) -> None:
        """Through the account page's form, as a person would."""
        await page.goto(f"{self.base}/account")
        await page.fill("#login-username", username)
        await page.fill("#login-password", password)
        await page.get_by_role("button", name="Log in", exact=True).click()
        await page.locator("#signed-in").wait_for(state="visible")

    async def sign_up(self, page: Page, username: str, password: str = PASSWORD) -> None:
        await page.goto(f"{self.base}/account")
        await page.fill("#signup-username", username)
        await page.fill("#signup-password", password)
        await page.get_by_role("button", name="Create account").click()
        await page.locator("#signed-in").wait_for(state="visible")

    def assert_quiet(self) -> None:
        assert not self.errors, "console errors:\n" + "\n".join(self.errors)


@pytest.fixture
async def shoppers(browser: Browser, system: RunningSystem) -> AsyncIterator[Any]:
    """Call ``await shoppers(name)`` for a new person's browser; their consoles are checked
    and their contexts closed after the test."""
    made: list[Shopper] = []

    async def make(name: str) -> Shopper:
        context = await browser.new_context(viewport=DESKTOP, base_url=system.api)
        shopper = Shopper(name, context, system.api)
        made.append(shopper)
        return shopper

    yield make
    for shopper in made:
        await shopper.context.close()
    for shopper in made:
        for line in shopper.handled:
            print(f"handled answer: {line}")
        shopper.assert_quiet()


async def snap(page: Page, name: str) -> None:
    """The page as it stands, at desktop then phone size (the layout follows the width)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a local directory)
    viewport = page.viewport_size or DESKTOP
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=ARTIFACTS / f"{name}-desktop.png", full_page=True)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=ARTIFACTS / f"{name}-phone.png", full_page=True)
    await page.set_viewport_size(viewport)


@dataclass
class Api:
    """The public API as the test's own client (setting the scene, not what is tested)."""

    http: httpx.AsyncClient
    admin: dict[str, str]
    rng: random.Random

    async def drop(self, **fields: Any) -> dict[str, Any]:
        body = {"name": f"Drop {self.rng.randrange(16**6):06x}", "price_cents": 18_000,
                "currency": "USD", **fields}
        r = await self.http.post("/api/drops", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def signup(self, username: str) -> None:
        r = await self.http.post("/api/auth/signup",
                                 json={"username": username, "password": PASSWORD})
        assert r.status_code == 201, r.text

    def dev_user(self) -> dict[str, str]:
        """A buyer without an account (DEV_MODE, as ``make up`` runs)."""
        user = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        return {"X-User-Id": str(user), "X-User-Name": f"dev{user.hex[:8]}"}

    async def reserve(self, drop_id: str, who: dict[str, str]) -> httpx.Response:
        return await self.http.post(f"/api/drops/{drop_id}/reserve", json={"quantity": 1},
                                    headers={**who, "Idempotency-Key": uuid.uuid4().hex})

    async def purchase(self, drop_id: str, who: dict[str, str]) -> httpx.Response:
        return await self.http.post(f"/api/drops/{drop_id}/purchase",
                                    headers={**who, "Idempotency-Key": uuid.uuid4().hex})

    async def figures(self, drop_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/api/drops/{drop_id}/waiting-room", headers=self.admin)
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
async def api(system: RunningSystem, rng: random.Random) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=system.api, timeout=10) as http:
        r = await http.post("/api/auth/login", json={"username": "admin", "password": "admin"})
        assert r.status_code == 200, r.text
        yield Api(http, {"authorization": f"Bearer {r.json()['access_token']}"}, rng)
