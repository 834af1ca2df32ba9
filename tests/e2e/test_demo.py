"""``make demo`` against ``make up``'s system: in under a minute, on its own, it leaves
what it promises (README "Demo data"), as a screen watching every drop sees it: the live
drop's stock falling, holds expiring, sales and an activity feed, holds still held at the
end; the nearly sold-out drop sold out; the lottery drop's waiting room drawn and moving,
buyers still waiting at the end."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from typing import Any

import httpx
import pytest
import websockets

from .conftest import RunningSystem
from .polling import eventually

pytestmark = pytest.mark.e2e
SEED = 20261127


async def _watch(ws_url: str, out: list[dict[str, Any]], ready: asyncio.Event) -> None:
    async with websockets.connect(ws_url) as ws:  # every drop, new ones included
        ready.set()
        async for raw in ws:
            out.append(json.loads(raw))


async def test_the_demo_shows_life_and_stops_by_itself(system: RunningSystem) -> None:
    print(f"demo seed {SEED}")
    messages: list[dict[str, Any]] = []
    ready = asyncio.Event()
    watcher = asyncio.create_task(_watch(system.ws, messages, ready))
    await asyncio.wait_for(ready.wait(), 10)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stampede_devstack", "demo",
        env={**os.environ, "API": system.api, "DEMO_SEED": str(SEED)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    took = time.monotonic() - started
    text = out.decode()
    print(text)
    assert proc.returncode == 0, text
    assert took < 60, took
    summary = json.loads(text.rsplit("demo summary: ", 1)[1])
    assert summary["seed"] == SEED and summary["counts"].get("buyers failed", 0) == 0
    live, sellout, lottery = (summary["drops"][k] for k in ("live", "nearly_sold_out",
                                                             "lottery"))

    async def sold_out_pushed() -> bool:
        """the sell-out drop's last stock push says 0 (the demo's decisions pushed)."""
        stock = [m for m in messages if m["drop_id"] == sellout
                 and m["type"] == "STOCK_UPDATED"]
        return bool(stock) and stock[-1]["data"]["available_stock"] == 0

    await eventually(sold_out_pushed, timeout_s=10, every_s=0.05)
    watcher.cancel()
    seen = {d: Counter(m["type"] for m in messages if m["drop_id"] == d)
            for d in (live, sellout, lottery)}

    async with httpx.AsyncClient(base_url=system.api, timeout=10) as api:
        # live: the stock fell and came back as holds expired; sales; holds left
        assert seen[live]["STOCK_UPDATED"] >= 10, seen[live]
        assert seen[live]["RESERVATION_EXPIRED"] >= 1, seen[live]
        assert seen[live]["PURCHASE_COMPLETED"] >= 1, seen[live]
        status = (await api.get(f"/api/drops/{live}/status")).json()
        assert status["sold"] >= 1 and status["held"] >= 1, status
        assert status["available"] + status["held"] + status["sold"] == 60

        async def feed() -> list[Any]:
            """the live drop's activity feed in the catalog."""
            drop = (await api.get(f"/api/drops/{live}")).json()
            return list(drop["activity_feed"]["latest_purchasers"])

        assert len(await eventually(feed)) == 3
        # nearly sold out: sold out, and the late buyers were told so
        status = (await api.get(f"/api/drops/{sellout}/status")).json()
        assert status == {"total_stock": 5, "available": 0, "held": 0, "sold": 5}
        assert summary["counts"]["sellout order 409 SOLD_OUT"] == 7
        assert summary["counts"]["sellout order 200"] == 5
        # lottery: a queue drawn at the start, moving, some still waiting at the end
        login = await api.post("/api/auth/login", json={"username": "admin",
                                                        "password": "admin"})
        admin = {"authorization": f"Bearer {login.json()['access_token']}"}
        room = (await api.get(f"/api/drops/{lottery}/waiting-room", headers=admin)).json()
        assert room["mode"] == "lottery" and room["issued"] == 40, room
        assert 0 < room["serving"] < 40 and room["waiting"] > 0, room
        serving = [m["data"]["serving"] for m in messages
                   if m["drop_id"] == lottery and m["type"] == "QUEUE_UPDATED"]
        assert len(set(serving)) >= 3 and serving == sorted(serving), serving
        assert summary["counts"].get("lottery admitted, reserve 201", 0) >= 1, summary
