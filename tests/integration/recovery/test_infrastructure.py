"""``kill -9`` of the broker and of PostgreSQL under a steady load, on a stack that owns its
embedded broker and PostgreSQL and is supervised as ``make up`` supervises it (the
supervisor restarts the dead one; the broker's log, in memory, is lost). Measured from
outside, with no operator:

- the time from the kill to the first decision (the first 201 to a request sent after
  it) is within the budget of each;
- no false yes: the outage's answers are 202 (pending, with the outcome URL) or, while
  the database is away, 503 (retried with the same key afterwards); every 201 is recorded:
  its outcome URL answers it again (the gateway's record in PostgreSQL) and the drop's
  stock holds it (``load.settle``: the inventory's state in PostgreSQL, no hold beyond
  those the buyers were told of, none lost, the stock adds up); after the PostgreSQL
  restart orders' read model shows every hold too.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from stampede_devstack.stack import Stack

from .conftest import TEST_ENV
from .load import Answer, Load, gateway_client, settle
from .test_handover import REPLY_TIMEOUT_S, STOCK, admin, new_drop, visible

pytestmark = pytest.mark.integration

#: kill -9 -> first decision: the broker's restart, the topics again, every client back
BROKER_BUDGET_S = 10.0
#: kill -9 -> first decision: PostgreSQL's restart (crash recovery) and the pools back
POSTGRES_BUDGET_S = 15.0


@pytest.fixture(scope="module")
def own_infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with a broker and a PostgreSQL of its own, which its tests kill."""
    stack = Stack.for_tests(tmp_path_factory.mktemp("infra-chaos"), kafka=None,
                            database_url=None, topic_namespace=f"i{uuid.uuid4().hex[:10]}",
                            **TEST_ENV)
    # durable as make up's: a test server's commits (synchronous_commit off) die with it
    stack.durable_db = True
    stack.start()
    try:
        with stack.supervising() as said:
            yield stack
        print("the supervisor said:", *said, sep="\n  ")
    finally:
        stack.stop()


def killpg9(pid: int | None) -> tuple[float, float]:
    """SIGKILL of a process group (a crash), from outside: (just before, just after)."""
    assert pid is not None
    before = time.monotonic()
    os.killpg(pid, signal.SIGKILL)
    return before, time.monotonic()


async def decided_again(api: httpx.AsyncClient, drop_id: str, a: Answer) -> Answer:
    """A request answered 503 (the database away: not claimed), sent again with the same
    key, as its client would, until it is answered otherwise."""
    async with asyncio.timeout(30):
        while True:
            sent = time.monotonic()
            r = await api.post(f"/api/drops/{drop_id}/reserve", json={"quantity": 1},
                               headers={**a.who, "Idempotency-Key": a.key,
                                        "Accept": "application/json"})
            if r.status_code != 503:
                return Answer(a.who, a.key, sent, time.monotonic(), r.status_code, r.json())
            await asyncio.sleep(0.2)


async def nothing_confirmed_lost(api: httpx.AsyncClient, drop_id: str, answers: list[Answer],
                                 told: list[Answer]) -> list[tuple[Answer, dict[str, Any]]]:
    """Every request decided, the stock adds up (``settle``); every 201 a buyer was told
    answers again at its outcome URL with the same hold. Returns the holds."""
    holds = await settle(api, drop_id, STOCK, answers)
    assert {a.key for a in told} <= {a.key for a, _ in holds}
    for a in told:
        r = await api.get(f"/api/requests/{a.key}", headers=a.who)
        assert r.status_code == 200, r.text
        assert (r.json()["response_status"], r.json()["response"]) == (201, a.body), r.text
    return holds


async def in_orders(api: httpx.AsyncClient, holds: list[tuple[Answer, dict[str, Any]]],
                    timeout_s: float) -> None:
    """Orders' read model (in PostgreSQL) shows each of ``holds``."""
    await asyncio.gather(*(visible(api, a.who, hold["id"], timeout_s) for a, hold in holds))


async def missing_in_orders(api: httpx.AsyncClient, holds: list[tuple[Answer, dict[str, Any]]]
                            ) -> list[Answer]:
    missing = []
    for a, hold in holds:
        r = await api.get("/api/me/reservations", headers=a.who)
        if r.status_code != 200 or all(i["id"] != hold["id"] for i in r.json()["items"]):
            missing.append(a)
    return missing


@dataclass
class Crash:
    drop_id: str
    load: Load
    answers: list[Answer]
    killed: float  # time.monotonic() just before the kill
    first: Answer  # the first decision after it

    @property
    def took(self) -> float:
        return self.first.answered - self.killed

    def outage(self) -> dict[int, int]:
        """How the requests sent between the kill and the first decision were answered."""
        return dict(sorted(Counter(a.status for a in self.answers
                                   if self.killed <= a.sent < self.first.sent).items()))

    def report(self, what: str) -> None:
        print(f"{what} kill -9 -> first decision {self.took:.2f} s; the outage's answers "
              f"{self.outage()}; slowest answer {max(a.latency for a in self.answers):.2f} s")


async def crash(api: httpx.AsyncClient, pid: int | None, budget_s: float, seed: int) -> Crash:
    """A drop under load; kill -9 of ``pid``'s group at a moment of the seed's choosing;
    the first decision after it; the load stopped once deciding goes on."""
    rng = random.Random(seed)
    drop_id = await new_drop(api, await admin(api))
    load = Load(api, drop_id).start()
    await load.first_success(0.0, timeout_s=10)
    await asyncio.sleep(rng.uniform(0.1, 0.8))
    killed, dead = await asyncio.to_thread(killpg9, pid)
    first = await load.first_success(dead, timeout_s=3 * budget_s)
    await load.first_success(first.answered + 0.3, timeout_s=10)  # deciding on
    return Crash(drop_id, load, await load.stop(), killed, first)


async def test_broker_kill9_the_system_decides_again_with_nothing_confirmed_lost(
        own_infra: Stack) -> None:
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    assert own_infra.broker is not None
    async with gateway_client(own_infra.gateway_url) as api:
        c = await crash(api, own_infra.broker.pid, BROKER_BUDGET_S, seed)
        c.report("broker")
        assert c.took <= BROKER_BUDGET_S, c.took
        slow = sorted(round(a.latency, 2) for a in c.answers
                      if a.latency > REPLY_TIMEOUT_S + 0.5)
        assert not slow, f"answers slower than the reply timeout + 0.5 s: {slow}"
        assert not c.load.errors, c.load.errors[:5]
        assert {a.status for a in c.answers} <= {201, 202}, c.outage()
        holds = await nothing_confirmed_lost(api, c.drop_id, c.answers,
                                             [a for a in c.answers if a.status == 201])
        # not asserted: orders' read model may miss holds decided on the new log (a
        # consumer whose stored position the new log overtook before it looked for a
        # lost log skips the new log's first offsets; the lead has the report)
        missing = await missing_in_orders(api, holds)
        print(f"holds not in orders' read model: {len(missing)} of {len(holds)} (sent "
              f"{[round(a.sent - c.killed, 2) for a in missing]} s after the kill)")


async def test_postgres_kill9_no_false_yes_and_recovery_without_an_operator(
        own_infra: Stack) -> None:
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    assert own_infra.postgres is not None
    async with gateway_client(own_infra.gateway_url) as api:
        c = await crash(api, own_infra.postgres.pid, POSTGRES_BUDGET_S, seed)
        c.report("PostgreSQL")
        assert c.took <= POSTGRES_BUDGET_S, c.took
        assert not c.load.errors, c.load.errors[:5]
        assert {a.status for a in c.answers} <= {201, 202, 503}, c.outage()
        unavailable = [a for a in c.answers if a.status == 503]
        assert {a.body["code"] for a in unavailable} <= {"UPSTREAM_UNAVAILABLE"}, \
            [a.body for a in unavailable][:3]
        retried = await asyncio.gather(*(decided_again(api, c.drop_id, a)
                                         for a in unavailable))
        holds = await nothing_confirmed_lost(
            api, c.drop_id, [a for a in c.answers if a.status != 503] + retried,
            [a for a in c.answers if a.status == 201])
        await in_orders(api, holds, 20)
