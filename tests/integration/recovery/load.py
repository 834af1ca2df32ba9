"""A steady load on the order path, as buyers make it, and the checks of what it got.

``Load`` sends a reserve every ``every_s`` (each a new buyer with its own key, each on its
own task, so a slow answer never delays the next request) and keeps every answer with
when it was sent and answered. ``settle`` reads each 202's outcome until it is decided
and checks the drop's stock against what the buyers were told.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka.partitioner import DefaultPartitioner
from stampede_contracts import Topics, encode_key


@dataclass
class Answer:
    who: dict[str, str]
    key: str
    sent: float  # time.monotonic()
    answered: float
    status: int
    body: dict[str, Any]

    @property
    def latency(self) -> float:
        return self.answered - self.sent


def buyer() -> dict[str, str]:
    uid = uuid.uuid4()
    return {"X-User-Id": str(uid), "X-User-Name": f"u{uid.hex[:10]}"}


def owner_slot(drop_id: str, slots: int) -> int:
    """The inventory slot that decides for ``drop_id``: its partition of the commands
    topic (Kafka's default partitioner, as every producer here), shared out by slot."""
    partitions = list(range(Topics.for_namespace().commands.partitions))
    return int(DefaultPartitioner()(encode_key(uuid.UUID(drop_id)), partitions, partitions)
               ) % slots


@dataclass
class Load:
    api: httpx.AsyncClient
    drop_id: str
    every_s: float = 0.1
    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _pacer: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> Load:
        self._pacer = asyncio.create_task(self._pace())
        return self

    async def stop(self) -> list[Answer]:
        """No more requests; every one sent answered (or failed)."""
        assert self._pacer is not None
        self._pacer.cancel()
        await asyncio.gather(self._pacer, return_exceptions=True)
        await asyncio.gather(*self._tasks)
        return self.answers

    async def _pace(self) -> None:
        due = time.monotonic()
        while True:
            task = asyncio.create_task(self._reserve())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            due += self.every_s
            await asyncio.sleep(max(0.0, due - time.monotonic()))  # the pace, not a wait

    async def _reserve(self) -> None:
        who, key = buyer(), uuid.uuid4().hex
        sent = time.monotonic()
        try:
            r = await self.api.post(f"/api/drops/{self.drop_id}/reserve", json={"quantity": 1},
                                    headers={**who, "Idempotency-Key": key,
                                             "Accept": "application/json"})
        except httpx.HTTPError as exc:
            self.errors.append(f"{time.monotonic() - sent:.2f}s {exc!r}")
            return
        finally:
            self._changed.set()
        self.answers.append(Answer(who, key, sent, time.monotonic(), r.status_code, r.json()))

    async def first_success(self, sent_after: float, timeout_s: float) -> Answer:
        """The first 201 to a request sent after ``sent_after`` (such a request can only
        have been decided by whoever owns the drop since then)."""
        async with asyncio.timeout(timeout_s):
            while True:
                wins = [a for a in self.answers if a.sent >= sent_after and a.status == 201]
                if wins:
                    return min(wins, key=lambda a: a.answered)
                self._changed.clear()
                await self._changed.wait()


async def outcome(api: httpx.AsyncClient, a: Answer, timeout_s: float = 30) -> tuple[int, Any]:
    """What a request was answered, a 202 read at its outcome URL until decided."""
    if a.status != 202:
        return a.status, a.body
    async with asyncio.timeout(timeout_s):
        while True:
            r = await api.get(f"/api/requests/{a.key}", headers=a.who)
            if r.status_code == 200:
                return r.json()["response_status"], r.json()["response"]
            assert r.status_code == 202, r.text
            await asyncio.sleep(0.2)  # its Retry-After, shortened


async def settle(api: httpx.AsyncClient, drop_id: str, total: int,
                 answers: list[Answer]) -> list[tuple[Answer, dict[str, Any]]]:
    """Every request decided; the drop's stock adds up and holds exactly what buyers were
    told they hold (none lost, none more). Returns the holds with their reservation."""
    decided = await asyncio.gather(*(outcome(api, a) for a in answers))
    holds = [(a, body["reservation"]) for a, (status, body) in zip(answers, decided,
                                                                    strict=True)
             if status == 201]
    refused = {body.get("code") for status, body in decided if status != 201}
    assert refused <= {"OUT_OF_STOCK"}, refused
    async with asyncio.timeout(10):  # the view follows the events
        while True:
            r = await api.get(f"/api/drops/{drop_id}/status")
            assert r.status_code == 200, r.text
            status = r.json()
            assert min(status.values()) >= 0, status
            assert status["available"] + status["held"] + status["sold"] \
                == status["total_stock"] == total, status
            assert status["held"] <= len(holds), (status, len(holds))  # none beyond
            if status["held"] == len(holds):  # and none lost
                break
            await asyncio.sleep(0.1)
    assert len({h["id"] for _, h in holds}) == len(holds)
    return holds
