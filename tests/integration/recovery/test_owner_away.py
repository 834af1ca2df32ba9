"""While a drop's owner is away (its inventory process stopped with SIGSTOP: alive, so
nobody replaces it, and silent), the gateway stays fast and truthful:

- an order request waits at most the reply timeout, then gets 202 and its outcome URL;
- at most ``GATE_MAX_IN_FLIGHT`` requests wait at once at each gateway process: newcomers
  get a place in the drop's waiting room at once (503 WAITING_ROOM), the queue of waiters
  does not grow;
- the sold-out fast path keeps answering (409 from the drop view, no Kafka);
- the gateway's /readyz says the owners do not answer, and says it again once they do;
- when the owner is back, every 202 is decided, and the stock adds up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from stampede_devstack.stack import Stack

from .conftest import GATE_MAX_IN_FLIGHT
from .load import Answer, buyer, gateway_client, owner_slot, settle
from .test_handover import REPLY_TIMEOUT_S, STOCK, admin, new_drop

pytestmark = pytest.mark.integration


async def reserve(api: httpx.AsyncClient, drop_id: str) -> Answer:
    who, key = buyer(), uuid.uuid4().hex
    sent = time.monotonic()
    r = await api.post(f"/api/drops/{drop_id}/reserve", json={"quantity": 1},
                       headers={**who, "Idempotency-Key": key, "Accept": "application/json"})
    return Answer(who, key, sent, time.monotonic(), r.status_code, r.json())


async def owners_answer(api: httpx.AsyncClient, expected: bool) -> None:
    """Until the gateway's /readyz says that drops' owners answer (or do not)."""
    async with asyncio.timeout(3 * REPLY_TIMEOUT_S + 5):
        while True:
            r = await api.get("/readyz")
            if r.json()["checks"].get("gateway") is expected and \
                    (r.status_code == 200) is expected:
                return
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def connected(base_url: str, n: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``n`` clients, one connection each, connected already: a burst sent through them
    arrives at once (one client's pool would send it over seconds)."""
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(gateway_client(base_url))
                   for _ in range(n)]
        await asyncio.gather(*(c.get("/healthz") for c in clients))
        yield clients


@contextlib.contextmanager
def stopped(pid: int):
    os.killpg(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(pid, signal.SIGCONT)


async def test_the_gateway_stays_fast_and_truthful_while_an_owner_is_away(
        supervised: Stack) -> None:
    gates = GATE_MAX_IN_FLIGHT * len(supervised.processes("gateway"))  # per process
    burst = 3 * gates
    async with gateway_client(supervised.gateway_url) as api:
        boss = await admin(api)
        live = await new_drop(api, boss)
        r = await api.post("/api/drops", headers=boss, json={
            "name": "Gone", "price_cents": 100, "total_stock": 1})
        gone = r.json()["id"]
        assert (await reserve(api, gone)).status == 201
        async with asyncio.timeout(10):  # the view has seen it sold out
            while (await reserve(api, gone)).status != 409:
                await asyncio.sleep(0.05)
        slots = len(supervised.processes("inventory"))
        owner = supervised.services[f"inventory-{owner_slot(live, slots)}"]
        assert owner.proc is not None
        async with connected(supervised.gateway_url, burst) as clients:
            with stopped(owner.proc.pid):
                answers = await asyncio.gather(*(reserve(c, live) for c in clients))
                sold_out = await reserve(api, gone)
                await owners_answer(api, False)
        latencies = sorted(round(a.latency, 2) for a in answers)
        print(f"burst of {burst} while the owner is away: statuses "
              f"{sorted({a.status for a in answers})}, latency p50 {latencies[burst // 2]} s, "
              f"max {latencies[-1]} s; sold-out answer in {sold_out.latency * 1000:.0f} ms")
        waited = [a for a in answers if a.status == 202]
        queued = [a for a in answers if a.status == 503]
        assert len(waited) + len(queued) == burst, {a.status for a in answers}
        assert all(a.body["code"] == "WAITING_ROOM" for a in queued)
        assert len(waited) <= gates, len(waited)  # the rest queued at once
        assert all(a.latency <= REPLY_TIMEOUT_S + 0.5 for a in waited), latencies[-5:]
        assert all(a.latency <= 1.0 for a in queued), sorted(round(a.latency, 2) for a in queued)
        assert all(a.body["outcome_url"] == f"/api/requests/{a.key}" for a in waited)
        assert sold_out.status == 409 and sold_out.body["code"] == "OUT_OF_STOCK"
        assert sold_out.latency <= 0.5, sold_out.latency
        await owners_answer(api, True)  # the owner is back: it answers every 202
        await settle(api, live, STOCK, waited)
