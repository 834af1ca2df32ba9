"""``python -m stampede_devstack demo`` (``make demo``): life in a running ``make up``.

Creates three drops and runs a short, seeded, bounded stampede of buyers against them
over the public API, then stops by itself:

- **live** (60 pairs, holds of 10 s): buyers arrive over 30 s; each holds a pair, then
  buys it, cancels it, or walks away and lets the hold expire. The stock falls, holds
  come back, the activity feed fills; the last holds are still held at the end.
- **nearly sold out** (5 pairs): a dozen buyers press "buy now"; it sells out.
- **lottery** (30 pairs, starting ``DEMO_LOTTERY_IN_S`` (15) after the demo starts, its
  waiting room admitting 1 buyer a second in ``lottery`` mode): a crowd queues before the
  start, their places are drawn at the start, the room admits them one by one; those
  admitted hold and buy. Some still wait when the demo ends.

Buyers are development identities (``X-User-Id``: ``make up`` runs in DEV_MODE), with
seeded names and choices: ``DEMO_SEED`` replays a run's choices (the seed is printed).
Only a loopback API is accepted (``API``, default ``http://localhost:8000``). Settings,
all from the environment: ``API``, ``DEMO_SEED``, ``DEMO_BUYERS`` (60),
``DEMO_SECONDS`` (40), ``DEMO_LOTTERY_IN_S`` (15), ``ADMIN_USERNAME`` / ``ADMIN_PASSWORD``.
The last line printed is the summary as JSON (``demo summary: {...}``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ADJECTIVES = ("swift", "lucky", "quiet", "bold", "early", "sly", "brave", "calm", "keen",
              "wild", "sunny", "rapid")
ANIMALS = ("fox", "owl", "lynx", "otter", "hare", "wolf", "crow", "seal", "yak", "puma",
           "gecko", "heron")


class DemoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    api: str = "http://localhost:8000"
    demo_seed: int | None = None
    demo_buyers: int = Field(default=60, ge=1, le=500)
    demo_seconds: float = Field(default=40.0, gt=5, le=300)
    demo_lottery_in_s: float = Field(default=15.0, ge=2, le=120)
    admin_username: str = "admin"
    admin_password: str = "admin"


class NotLocal(ValueError):
    pass


def require_loopback(url: str) -> None:
    """The demo sends a stampede: only ever to this machine."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise NotLocal(f"the demo runs against a local API only, not {url!r}")


@dataclass
class Tally:
    """What happened, by what (counted as the answers came)."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] += n


class Demo:
    def __init__(self, settings: DemoSettings, client: httpx.AsyncClient, rng: random.Random,
                 seed: int) -> None:
        self.s = settings
        self.client = client
        self.rng = rng
        self.seed = seed
        self.tally = Tally()
        self.started = time.monotonic()
        self.drops: dict[str, str] = {}
        self._names: set[str] = set()

    # -- the pieces --------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def buyer(self) -> dict[str, str]:
        """A new buyer: a seeded name, a user id of its own (new every run, so a replayed
        seed is a new crowd, not the replay of the last one's requests)."""
        while True:
            name = (f"{self.rng.choice(ADJECTIVES)}_{self.rng.choice(ANIMALS)}"
                    f"{self.rng.randrange(100)}")
            if name not in self._names:
                self._names.add(name)
                break
        return {"X-User-Id": str(uuid.uuid4()), "X-User-Name": name,
                "Accept": "application/json"}

    @staticmethod
    def key() -> str:
        return uuid.uuid4().hex

    async def admin(self) -> dict[str, str]:
        r = await self.client.post("/api/auth/login", json={
            "username": self.s.admin_username, "password": self.s.admin_password})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def create(self, admin: dict[str, str], role: str, **fields: Any) -> str:
        r = await self.client.post("/api/drops", headers=admin, json=fields)
        r.raise_for_status()
        self.drops[role] = r.json()["id"]
        print(f"  {role:16} {fields['name']!r}: {r.json()['id']}", flush=True)
        return str(r.json()["id"])

    async def post(self, path: str, who: dict[str, str], key: str, body: Any = None,
                   ticket: str | None = None) -> httpx.Response:
        headers = {**who, "Idempotency-Key": key}
        if ticket:
            headers["X-Queue-Ticket"] = ticket
        return await self.client.post(path, headers=headers, json=body)

    async def at(self, second: float) -> None:
        await asyncio.sleep(max(0.0, second - self.elapsed()))

    # -- the buyers ----------------------------------------------------------------------
    async def live_buyer(self, drop: str, who: dict[str, str], arrive_s: float, fate: str,
                         think_s: float) -> None:
        await self.at(arrive_s)
        r = await self.post(f"/api/drops/{drop}/reserve", who, self.key(), {"quantity": 1})
        self.tally.add(f"live reserve {r.status_code} {_code(r)}".strip())
        if r.status_code != 201:
            return
        await asyncio.sleep(think_s)
        if fate == "buy":
            r = await self.post(f"/api/drops/{drop}/purchase", who, self.key())
            self.tally.add(f"live purchase {r.status_code} {_code(r)}".strip())
        elif fate == "cancel":
            hold = r.json()["reservation"]["id"]
            c = await self.client.delete(f"/api/reservations/{hold}",
                                         headers={**who, "Idempotency-Key": self.key()})
            self.tally.add(f"live cancel {c.status_code}")
        else:
            self.tally.add("live walked away (the hold expires)")

    async def buy_now(self, drop: str, who: dict[str, str], arrive_s: float) -> None:
        await self.at(arrive_s)
        r = await self.post("/api/order", who, self.key(), {"drop_id": drop})
        self.tally.add(f"sellout order {r.status_code} {_code(r)}".strip())

    async def queued_buyer(self, drop: str, who: dict[str, str], arrive_s: float,
                           buys: bool) -> None:
        await self.at(arrive_s)
        key = self.key()
        path = f"/api/drops/{drop}/reserve"
        r = await self.post(path, who, key, {"quantity": 1})
        if r.status_code != 503:
            self.tally.add(f"lottery reserve {r.status_code} {_code(r)}".strip())
            return
        ticket = r.json()["ticket"]
        self.tally.add("lottery joined the queue")
        while True:
            await asyncio.sleep(1.0)
            status = (await self.client.get("/waiting-room/status",
                                            params={"ticket": ticket})).json()
            if status.get("sold_out"):
                self.tally.add("lottery told sold out")
                return
            if status.get("admitted"):
                break
        r = await self.post(path, who, key, {"quantity": 1}, ticket=ticket)
        self.tally.add(f"lottery admitted, reserve {r.status_code} {_code(r)}".strip())
        if r.status_code == 201 and buys:
            r = await self.post(f"/api/drops/{drop}/purchase", who, self.key())
            self.tally.add(f"lottery purchase {r.status_code}")

    # -- the run -------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        admin = await self.admin()
        tag = f"demo {self.seed}"
        starts = datetime.now(UTC) + timedelta(seconds=self.s.demo_lottery_in_s)
        print(f"demo (seed {self.seed}): three drops", flush=True)
        live = await self.create(admin, "live", name=f"Air Stampede Live · {tag}",
                                 price_cents=18000, total_stock=60, per_user_limit=2,
                                 reservation_ttl_seconds=10)
        sellout = await self.create(admin, "nearly_sold_out",
                                    name=f"Dunk Low Last Pairs · {tag}", price_cents=12000,
                                    total_stock=5)
        lottery = await self.create(admin, "lottery", name=f"Jordan 1 Lottery · {tag}",
                                    price_cents=21000, total_stock=30,
                                    starts_at=starts.isoformat(),
                                    waiting_room={"admit_per_s": 1, "mode": "lottery"})
        arrive_until = max(1.0, self.s.demo_seconds - 4)  # the last holds outlive the demo
        # every choice drawn here, in one order: the seed replays them
        tasks = [self.live_buyer(live, self.buyer(), self.rng.uniform(1, arrive_until),
                                 self.rng.choices(["buy", "cancel", "expire"], [5, 2, 3])[0],
                                 self.rng.uniform(0.5, 3.0))
                 for _ in range(self.s.demo_buyers)]
        tasks += [self.buy_now(sellout, self.buyer(), self.rng.uniform(1, 6))
                  for _ in range(12)]
        tasks += [self.queued_buyer(lottery, self.buyer(),
                                    self.rng.uniform(1, self.s.demo_lottery_in_s - 1),
                                    self.rng.random() < 0.7)
                  for _ in range(40)]
        print(f"demo: {len(tasks)} buyers for {self.s.demo_seconds:.0f} s ...", flush=True)
        running = [asyncio.create_task(t) for t in tasks]
        done, pending = await asyncio.wait(running, timeout=self.s.demo_seconds - self.elapsed())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        failed = [t.exception() for t in done if t.exception() is not None]
        for exc in failed[:3]:
            print(f"demo: a buyer failed: {exc!r}", flush=True)
        self.tally.add("buyers failed", len(failed))
        return {"seed": self.seed, "drops": self.drops, "seconds": round(self.elapsed(), 1),
                "still_running_at_the_end": len(pending), "counts": dict(self.tally.counts)}


def _code(r: httpx.Response) -> str:
    if r.headers.get("content-type", "").startswith("application/problem+json"):
        return str(r.json().get("code", ""))
    return ""


async def run(settings: DemoSettings) -> dict[str, Any]:
    require_loopback(settings.api)
    seed = settings.demo_seed if settings.demo_seed is not None else random.randrange(1 << 30)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=settings.api, timeout=15, limits=limits) as client:
        return await Demo(settings, client, random.Random(seed), seed).run()


def main() -> int:
    settings = DemoSettings()
    try:
        summary = asyncio.run(run(settings))
    except NotLocal as exc:
        print(f"demo: {exc}")
        return 2
    except httpx.HTTPError as exc:
        print(f"demo: the API at {settings.api} did not answer as expected ({exc!r}); "
              "is `make up` running?")
        return 1
    for what, n in sorted(summary["counts"].items()):
        print(f"  {n:4}  {what}")
    print(f"demo summary: {json.dumps(summary)}", flush=True)
    return 0
