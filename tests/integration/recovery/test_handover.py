"""``kill -9`` of the inventory and of orders, five times in a row each (seeded, a drop of
its own per run), under a steady load on the order path, with the stack supervised as
``make up`` supervises it. Measured from outside, on the real broker and PostgreSQL:

- the time from the kill to the first decision by the replacement (inventory: the first
  201 to a request sent after the kill; orders: the first hold decided after the kill
  visible in its read model) is within ``BUDGET_S`` on every run, and its median within
  half of it (the margin: a run at the budget is an outlier of a busy machine, not the
  rule);
- no order-path answer takes longer than the reply timeout + 0.5 s during the outage;
- no oversell, nothing confirmed lost, the stock adds up (``load.settle``).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time

import httpx
import pytest
from stampede_devstack.process import ServiceProcess
from stampede_devstack.stack import Stack

from .load import Answer, Load, gateway_client, owner_slot, settle

pytestmark = pytest.mark.integration

RUNS = 5
STOCK = 10_000  # never sold out by the load: every decision is a hold
REPLY_TIMEOUT_S = 2.0  # the gateway's REPLY_TIMEOUT_S
BUDGET_S = 5.0  # issue 10: kill -9 -> first decision by the replacement


async def admin(api: httpx.AsyncClient) -> dict[str, str]:
    r = await api.post("/api/auth/login", json={"username": "admin", "password": "admin"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def new_drop(api: httpx.AsyncClient, boss: dict[str, str]) -> str:
    r = await api.post("/api/drops", headers=boss, json={
        "name": "Recovery Runner", "price_cents": 10_000, "total_stock": STOCK,
        "reservation_ttl_seconds": 900})
    assert r.status_code == 201, r.text
    drop_id: str = r.json()["id"]
    return drop_id


async def steady(stack: Stack, victim: ServiceProcess) -> None:
    """The system as it runs between crashes: the victim deciding, its warm spare (the
    supervisor's next replacement) imported and waiting."""
    await asyncio.to_thread(victim.wait_ready, 30)
    async with asyncio.timeout(60):
        while stack.warm_spares and not stack.spare_ready(victim.module):
            await asyncio.sleep(0.1)


async def kill9(victim: ServiceProcess) -> tuple[float, float]:
    """(just before, just after) the kill: requests sent after it can only be decided by
    the replacement; the time to recover counts from before it."""
    before = time.monotonic()
    await asyncio.to_thread(victim.kill9)
    return before, time.monotonic()


def check_outage(load: Load, answers: list[Answer]) -> None:
    slow = sorted(round(a.latency, 2) for a in answers if a.latency > REPLY_TIMEOUT_S + 0.5)
    assert not slow, f"answers slower than the reply timeout + 0.5 s: {slow}"
    assert not load.errors, load.errors[:5]
    assert {a.status for a in answers} <= {201, 202}, {a.status for a in answers}


def report(what: str, seed: int, times: list[float]) -> None:
    print(f"{what}: kill -9 -> first decision by the replacement over {len(times)} runs "
          f"(seed {seed}): {', '.join(f'{t:.2f}' for t in times)} s; "
          f"median {statistics.median(times):.2f} s, max {max(times):.2f} s")
    assert max(times) <= BUDGET_S, times
    assert statistics.median(times) <= BUDGET_S / 2, times


async def test_inventory_kill9_to_the_replacements_first_decision(supervised: Stack) -> None:
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    slots = len(supervised.processes("inventory"))
    times: list[float] = []
    async with gateway_client(supervised.gateway_url) as api:
        boss = await admin(api)
        for _ in range(RUNS):
            drop_id = await new_drop(api, boss)
            victim = supervised.services[f"inventory-{owner_slot(drop_id, slots)}"]
            await steady(supervised, victim)
            load = Load(api, drop_id).start()
            await load.first_success(0.0, timeout_s=10)  # its owner decides
            await asyncio.sleep(rng.uniform(0.1, 0.8))  # a moment of the seed's choosing
            killed, dead = await kill9(victim)
            first = await load.first_success(dead, timeout_s=3 * BUDGET_S)
            times.append(first.answered - killed)
            await load.first_success(first.answered + 0.3, timeout_s=5)  # deciding on
            answers = await load.stop()
            check_outage(load, answers)
            await settle(api, drop_id, STOCK, answers)
    report("inventory", seed, times)


async def visible(api: httpx.AsyncClient, who: dict[str, str], reservation: str,
                  timeout_s: float) -> float:
    """When orders' read model first shows the hold (orders down: the gateway says so)."""
    async with asyncio.timeout(timeout_s):
        while True:
            r = await api.get("/api/me/reservations", headers=who)
            if r.status_code == 200 and any(i["id"] == reservation
                                            for i in r.json()["items"]):
                return time.monotonic()
            if r.status_code != 200:  # orders away: the gateway says so, one way only
                assert (r.status_code, r.json()["code"]) == (503, "UPSTREAM_UNAVAILABLE"), r.text
            await asyncio.sleep(0.05)


async def test_orders_kill9_to_the_replacements_first_decision(supervised: Stack) -> None:
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    victim = supervised.services["orders"]
    times: list[float] = []
    async with gateway_client(supervised.gateway_url) as api:
        boss = await admin(api)
        for _ in range(RUNS):
            drop_id = await new_drop(api, boss)
            await steady(supervised, victim)
            load = Load(api, drop_id).start()
            await load.first_success(0.0, timeout_s=10)
            await asyncio.sleep(rng.uniform(0.1, 0.8))
            killed, dead = await kill9(victim)
            decided = await load.first_success(dead, timeout_s=5)  # not orders' business
            times.append(await visible(api, decided.who, decided.body["reservation"]["id"],
                                       3 * BUDGET_S) - killed)
            answers = await load.stop()
            check_outage(load, answers)
            holds = await settle(api, drop_id, STOCK, answers)
            await asyncio.gather(*(visible(api, a.who, hold["id"], 20)  # the record has all
                                   for a, hold in holds))
    report("orders", seed, times)
