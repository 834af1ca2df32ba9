"""The storefront in Debian's Chromium (headless, Playwright) against ``make up``'s system:
the buyer's journey as people live it, waiting room included (issue 9).

Each test makes its own drop with the stock, hold time and admission rate it needs, so
the module shares one system. Conditions are awaited (Playwright's ``expect`` and
``wait_for``), never slept for.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from typing import Any

import pytest
from playwright.async_api import Page, WebSocket, expect

from ..polling import eventually
from .conftest import PHONE, Api, Shopper, snap

pytestmark = pytest.mark.e2e


async def outcome_of(page: Page) -> str:
    """After a reserve click: "held", or "sold out" as the page says it."""
    held = page.locator("#hold:not([hidden])")
    sold_out = page.locator("#message-alert", has_text=re.compile("sold out", re.I))
    try:
        await held.or_(sold_out).first.wait_for(state="visible", timeout=15_000)
    except Exception:
        texts = await page.locator("#message, #message-alert").all_inner_texts()
        raise AssertionError(f"neither held nor sold out: {texts}") from None
    return "held" if await held.count() else "sold out"


async def buyer(shoppers: Any, api: Api, rng: random.Random, name: str) -> tuple[Shopper, Page]:
    """A person with an account, logged in through the account page."""
    shopper: Shopper = await shoppers(name)
    page = await shopper.page()
    username = f"{name}{rng.randrange(10**6):06d}"
    await api.signup(username)
    await shopper.log_in(page, username)
    return shopper, page


async def username_of(page: Page) -> str:
    """The logged-in buyer's name, as the page keeps it."""
    return str(await page.evaluate(
        "JSON.parse(sessionStorage.getItem('stampede.session')).user.username"))


async def test_two_browsers_race_for_the_last_pair_and_the_hold_expires(
        shoppers: Any, api: Api, rng: random.Random) -> None:
    drop = await api.drop(total_stock=1, reservation_ttl_seconds=8)
    url = f"/drops/{drop['id']}"

    watcher: Shopper = await shoppers("watcher")
    watching = await watcher.page()
    await watching.goto(url)
    await expect(watching.locator("#stock-available")).to_have_text("1")
    await watching.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # one signs up on the page, the other logs in on it
    ana: Shopper = await shoppers("ana")
    ana_page = await ana.page()
    await ana.sign_up(ana_page, f"ana{rng.randrange(10**6):06d}")
    _, bo_page = await buyer(shoppers, api, rng, "bo")
    for page in (ana_page, bo_page):
        await page.goto(url)
        await expect(page.locator("#reserve")).to_be_enabled()

    pages = [ana_page, bo_page]
    rng.shuffle(pages)  # who clicks first is the seed's
    await asyncio.gather(*(page.locator("#reserve").click() for page in pages))
    outcomes = await asyncio.gather(outcome_of(ana_page), outcome_of(bo_page))
    assert sorted(outcomes) == ["held", "sold out"], outcomes
    holder, loser = (ana_page, bo_page) if outcomes[0] == "held" else (bo_page, ana_page)

    # the third page saw the stock fall, without a reload
    await expect(watching.locator("#stock-available")).to_have_text("0")
    assert await watching.evaluate("window.__sameDocument") is True
    await expect(holder.locator("#hold-countdown")).to_have_text(re.compile(r"^0:0\d$"))
    await snap(holder, "drop-hold")
    await snap(loser, "drop-sold-out")

    # nobody buys: the hold runs out on screen, and the pair comes back on the other pages
    await expect(holder.locator("#message")).to_contain_text("expired", timeout=20_000)
    await expect(holder.locator("#hold")).to_be_hidden()
    for page in (watching, loser, holder):
        await expect(page.locator("#stock-available")).to_have_text("1", timeout=10_000)
    await expect(loser.locator("#reserve")).to_be_enabled()
    assert await watching.evaluate("window.__sameDocument") is True

    # the other one tries again (a new request, a new key), holds it, and lets it go
    await loser.locator("#reserve").click()
    await expect(loser.locator("#hold")).to_be_visible()
    await expect(watching.locator("#stock-available")).to_have_text("0")
    await loser.get_by_role("button", name="Release it").click()
    await expect(loser.locator("#message")).to_contain_text("back on sale")
    await expect(watching.locator("#stock-available")).to_have_text("1")


async def test_waiting_room_admits_and_the_hold_follows_without_a_click(
        shoppers: Any, api: Api, rng: random.Random) -> None:
    drop = await api.drop(total_stock=30, waiting_room={"admit_per_s": 1, "mode": "fifo"})
    drop_id = drop["id"]
    cy, page = await buyer(shoppers, api, rng, "cy")
    # others get there first: at 1 admission a second most of them queue
    fillers = await asyncio.gather(*(api.reserve(drop_id, api.dev_user()) for _ in range(7)))
    queued = [r for r in fillers if r.status_code == 503]
    assert len(queued) >= 3 and all(r.json()["code"] == "WAITING_ROOM" for r in queued), \
        [r.status_code for r in fillers]
    # keep every place the page shows, across the navigation back to the drop
    await page.add_init_script("""
        document.addEventListener("DOMContentLoaded", () => {
          const place = document.getElementById("place");
          if (!place) return;
          new MutationObserver(() => {
            const seen = JSON.parse(sessionStorage.getItem("__places") || "[]");
            const value = place.dataset.position;
            if (value && seen[seen.length - 1] !== value) seen.push(value);
            sessionStorage.setItem("__places", JSON.stringify(seen));
          }).observe(place, { attributes: true, childList: true, characterData: true });
        });
    """)
    await page.goto(f"/drops/{drop_id}")  # the room queues: the gateway sends us there
    await expect(page).to_have_url(re.compile(r"/waiting-room\?ticket="))
    await expect(page.locator("#place")).to_have_attribute("data-position", re.compile(r"^\d+$"))
    await snap(page, "waiting-room")

    # admitted: back on the drop's page, holding a pair, nobody clicked
    await expect(page).to_have_url(re.compile(rf"/drops/{drop_id}\?ticket="), timeout=30_000)
    await expect(page.locator("#hold")).to_be_visible(timeout=10_000)
    places = [int(p) for p in await page.evaluate(
        "JSON.parse(sessionStorage.getItem('__places') || '[]')")]
    print(f"places shown: {places}")
    assert len(places) >= 3 and places == sorted(places, reverse=True) and places[-1] == 0, places
    status_asks = [u for u in cy.requests if "/waiting-room/status" in u]
    print(f"status asks while waiting: {len(status_asks)}")
    # the pushes moved the place one by one; the status URL only learned and confirmed it
    assert len(status_asks) <= 5, status_asks

    # and buys it: paid, and the latest buyers show it (pushed back to this page)
    await page.get_by_role("button", name=re.compile("^Buy it for")).click()
    await expect(page.locator("#bought")).to_be_visible()
    await expect(page.locator("#bought-detail")).to_contain_text("$180.00")
    await expect(page.locator("#feed")).to_contain_text(await username_of(page))

    await page.goto("/account")
    await expect(page.locator("#holds")).to_contain_text(drop["name"])
    await expect(page.locator("#holds")).to_contain_text("Bought")
    await expect(page.locator("#purchases")).to_contain_text("$180.00")
    await snap(page, "account")


async def test_a_queued_buyer_is_told_sold_out_within_a_second(
        shoppers: Any, api: Api, rng: random.Random) -> None:
    drop = await api.drop(total_stock=4, waiting_room={"admit_per_s": 0.05, "mode": "fifo"})
    drop_id = drop["id"]
    holders: list[dict[str, str]] = []
    for _ in range(4):  # until the room queues (one admission in 20 s)
        who = api.dev_user()
        r = await api.reserve(drop_id, who)
        if r.status_code == 503:
            break
        assert r.status_code == 201, r.text
        holders.append(who)
    assert (await api.figures(drop_id))["waiting"] >= 1

    dee, page = await buyer(shoppers, api, rng, "dee")
    sockets: list[WebSocket] = []
    page.on("websocket", lambda ws: sockets.append(ws))
    await page.goto(f"/drops/{drop_id}")
    await expect(page).to_have_url(re.compile(r"/waiting-room\?ticket="))
    await expect(page.locator("#place")).to_have_attribute("data-position", re.compile(r"^\d+$"))

    # the pairs not held are withdrawn, then the holders buy theirs: the last one sells
    r = await api.http.post(f"/api/drops/{drop_id}/restock",
                            json={"total_stock": len(holders)}, headers=api.admin)
    assert r.status_code == 200, r.text
    for who in holders[:-1]:
        assert (await api.purchase(drop_id, who)).status_code == 201
    await expect(page.locator("#place")).to_have_attribute("data-position", re.compile(r"^\d+$"))
    last = await api.purchase(drop_id, holders[-1])
    sold_at = time.monotonic()
    assert last.status_code == 201, last.text
    await expect(page.locator("#place")).to_have_text("Sold out", timeout=1_000)
    print(f"sold out shown {1000 * (time.monotonic() - sold_at):.0f} ms after the last sale")
    await expect(page.locator("#message-alert")).to_contain_text("Sold out")
    # and it stopped: its WebSocket closed, and it asks nothing more
    asked = len([u for u in dee.requests if "/waiting-room/status" in u])
    await expect(page.locator("#room-title")).to_have_text("Sold out")

    async def sockets_closed() -> bool:
        """every WebSocket of the waiting room closed"""
        return all(ws.is_closed() for ws in sockets)

    await eventually(sockets_closed, timeout_s=5, every_s=0.05)
    await snap(page, "waiting-room-sold-out")
    assert len([u for u in dee.requests if "/waiting-room/status" in u]) == asked


async def test_admin_creates_a_drop_and_an_open_drops_page_shows_it(
        shoppers: Any, api: Api, rng: random.Random) -> None:
    visitor: Shopper = await shoppers("visitor")
    drops = await visitor.page()
    await drops.goto("/")
    await expect(drops.locator("h1")).to_have_text("Drops")
    await drops.evaluate("window.__sameDocument = true")

    boss: Shopper = await shoppers("admin")
    admin = await boss.page()
    await boss.log_in(admin, "admin", "admin")
    await admin.goto("/admin")
    name = f"Air Stampede {rng.randrange(10**4):04d}"
    await admin.get_by_label("Name").fill(name)
    await admin.get_by_label("Price").fill("180")
    await admin.get_by_label("Pairs (total stock)").fill("5")
    await admin.locator("#f-rate").fill("50")
    await admin.locator("#f-mode").select_option("fifo")
    await admin.get_by_role("button", name="Create drop").click()
    await expect(admin.locator("#message")).to_contain_text(f"Created “{name}”")

    # the open drops page shows it without a reload
    card = drops.get_by_role("link", name=name)
    await expect(card).to_be_visible(timeout=10_000)
    assert await drops.evaluate("window.__sameDocument") is True
    article = drops.locator("article", has=card)
    await expect(article.locator(".available")).to_have_text("5")
    await expect(article.locator(".price")).to_contain_text("180")

    # restock and a slower admission, from the admin page; the queue's figures move live
    row = admin.locator("article", has=admin.get_by_role("link", name=name))
    await row.get_by_label("New total stock").fill("7")
    await row.get_by_role("button", name="Restock").click()
    await expect(row.locator('[data-figure="total"]')).to_have_text("7")
    await expect(article.locator(".total")).to_have_text("7")
    await row.get_by_label("Buyers let in per second").fill("0.05")
    await row.get_by_role("button", name="Change admission").click()
    await expect(row.locator('[data-figure="rate"]')).to_have_text("0.05")
    drop_id = (await drops.locator("li", has=card).get_attribute("data-drop-id")) or ""
    await asyncio.gather(*(api.reserve(drop_id, api.dev_user()) for _ in range(4)))
    await expect(row.locator('[data-figure="waiting"]')).not_to_have_text("0", timeout=10_000)
    await expect(article.locator(".queue")).to_contain_text("in line")

    await snap(drops, "drops")
    await snap(admin, "admin")
    # the session is refreshed before its access token expires (made to expire soon)
    await admin.goto("/account")
    await expect(admin.locator("#who")).to_have_text("admin")
    before = await admin.evaluate("""() => {
        const s = JSON.parse(sessionStorage.getItem("stampede.session"));
        s.accessExp = Date.now() + 3000;
        sessionStorage.setItem("stampede.session", JSON.stringify(s));
        return s.access;
    }""")
    async with admin.expect_response("**/api/auth/refresh") as refreshed:
        await admin.reload()
    assert (await refreshed.value).status == 200
    await expect(admin.locator("#who")).to_have_text("admin")
    after = await admin.evaluate("JSON.parse(sessionStorage.getItem('stampede.session')).access")
    assert after != before
    await admin.set_viewport_size(PHONE)
    await admin.get_by_role("button", name="Log out").click()
    await expect(admin.locator("#signed-out")).to_be_visible()
    await expect(admin.locator("#nav-account")).to_have_text("Log in")
    assert await admin.evaluate("sessionStorage.getItem('stampede.session')") is None
