"""``kill -9`` of one gateway process in the middle of a storm: its clients retry with the
same key at the other process and get the decided answer; no answer confirmed to anyone
is lost, nothing is sold twice, and the other process answers throughout."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

import httpx
import pytest

from .helpers import admin, create_drop, eventually, user

pytestmark = pytest.mark.integration
STOCK, BUYERS, CONCURRENCY = 40, 400, 40


async def _buy(a: httpx.AsyncClient, b: httpx.AsyncClient, first: httpx.AsyncClient,
               drop_id: str, who: dict[str, str], sem: asyncio.Semaphore,
               b_failures: list[str]) -> tuple[int, dict[str, Any]]:
    """Reserve with one key: at ``first``, and at the survivor (B) if that fails; a 202 is
    read at its outcome URL until decided."""
    headers = {**who, "Idempotency-Key": uuid.uuid4().hex, "Accept": "application/json"}
    url = f"/api/drops/{drop_id}/reserve"
    async with sem:
        client = first
        for _ in range(30):
            try:
                r = await client.post(url, json={"quantity": 1}, headers=headers)
            except httpx.TransportError as exc:
                if client is b:
                    b_failures.append(repr(exc))
                client = b  # the process died: the same request, at the other one
                continue
            assert r.status_code < 500, r.text
            if r.status_code == 202:
                return await _outcome(b, headers)
            return r.status_code, r.json()
    raise AssertionError("never answered")


async def _outcome(b: httpx.AsyncClient, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    key = headers["Idempotency-Key"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = await b.get(f"/api/requests/{key}", headers=headers)
        if r.status_code == 200:
            return r.json()["response_status"], r.json()["response"]
        await asyncio.sleep(0.3)
    raise AssertionError(f"{key} never decided")


def test_a_gateway_process_killed_mid_storm_loses_no_confirmed_answer(infra, tmp_path):
    from .conftest import start_stack

    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    stack = start_stack(infra, tmp_path / "crash")
    try:
        b_proc = stack.add_gateway()
        a_proc = stack.services["gateway-0"]
        with httpx.Client(base_url=stack.gateway_url, timeout=15) as sync:
            boss = admin(sync)
            drop_id = create_drop(sync, boss, total_stock=STOCK,
                                  reservation_ttl_seconds=900)["id"]
        buyers = [user() for _ in range(BUYERS)]
        firsts = [rng.random() < 0.5 for _ in buyers]  # True: the buyer reaches A first
        answers, b_failures = asyncio.run(_storm(stack.gateway_url, b_proc.url, drop_id,
                                                 buyers, firsts, a_proc, rng))
        assert not b_failures, b_failures  # the survivor answered throughout
        held = [(who, body["reservation"]) for who, (code, body) in zip(buyers, answers,
                                                                        strict=True)
                if code == 201]
        refused = [body["code"] for code, body in answers if code != 201]
        assert len(held) == STOCK, (len(held), refused[:5])  # every pair, and not one more
        assert set(refused) == {"OUT_OF_STOCK"}
        with httpx.Client(base_url=b_proc.url, timeout=15) as c:
            status = eventually(lambda: (s := c.get(f"/api/drops/{drop_id}/status").json())
                                ["held"] == STOCK and s, timeout_s=20)
            assert status == {"total_stock": STOCK, "available": 0, "held": STOCK, "sold": 0}
            for who, hold in held:  # each confirmed hold is a hold of that buyer
                mine = eventually(lambda who=who: c.get("/api/me/reservations",
                                                        headers=who).json()["items"])
                assert [m["id"] for m in mine] == [hold["id"]]
    finally:
        stack.stop()


async def _storm(a_url: str, b_url: str, drop_id: str, buyers: list[dict[str, str]],
                 firsts: list[bool], a_proc, rng: random.Random
                 ) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    sem = asyncio.Semaphore(CONCURRENCY)
    b_failures: list[str] = []
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=a_url, timeout=15, limits=limits) as a, \
            httpx.AsyncClient(base_url=b_url, timeout=15, limits=limits) as b:
        tasks = [asyncio.create_task(_buy(a, b, a if first else b, drop_id, who, sem,
                                          b_failures))
                 for who, first in zip(buyers, firsts, strict=True)]
        at = rng.uniform(0.1, 0.4)  # in the middle of it: after this share was answered
        while sum(t.done() for t in tasks) < at * len(tasks):
            await asyncio.sleep(0.005)
        await asyncio.to_thread(a_proc.kill9)
        done_at_kill = sum(t.done() for t in tasks)
        answers = await asyncio.gather(*tasks)
    print(f"A killed after {done_at_kill} of {len(tasks)} answers")
    assert done_at_kill < len(tasks)
    return list(answers), b_failures
