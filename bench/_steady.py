"""A steady load of reserves, as buyers make it: the recovery tests' and bench's.

``Load`` sends a reserve every ``every_s`` (each a new buyer with its own key, each on its
own task, so a slow answer never delays the next request) and keeps every answer with
when it was sent and answered; a request that failed is kept in ``errors``. With
``retries``, a request whose connection failed (a killed gateway process behind the port)
is sent again at once (a new request, with a key of its own), that many times,
before it counts as failed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx


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


#: how long a pooled connection may sit idle before the client drops it: well under the
#: gateway's keep-alive timeout (uvicorn's, 5 s). At 5 s (httpx's default) a request can
#: go out on a connection the server is closing that instant: a ReadError, no answer.
KEEPALIVE_EXPIRY_S = 1.0


def gateway_client(base_url: str) -> httpx.AsyncClient:
    """The client a steady load uses (its idle connections dropped before the server's)."""
    return httpx.AsyncClient(base_url=base_url, timeout=30,
                             limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S))


@dataclass
class Load:
    api: httpx.AsyncClient
    drop_id: str
    every_s: float = 0.1
    retries: int = 0
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
        who = buyer()
        sent = time.monotonic()
        try:
            key, r = await self._post(who)
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

    async def _post(self, who: dict[str, str]) -> tuple[str, httpx.Response]:
        """(its key, the answer). A retry is a new request with a key of its own: the
        killed process may have claimed the first key, and its outcome would then be
        read only after the reply timeout."""
        for _ in range(self.retries):
            try:
                return await self._send(who)
            except httpx.TransportError:
                continue
        return await self._send(who)

    async def _send(self, who: dict[str, str]) -> tuple[str, httpx.Response]:
        key = uuid.uuid4().hex
        r = await self.api.post(f"/api/drops/{self.drop_id}/reserve", json={"quantity": 1},
                                headers={**who, "Idempotency-Key": key,
                                         "Accept": "application/json"})
        return key, r
