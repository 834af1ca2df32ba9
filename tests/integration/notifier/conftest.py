"""A real notifier process on the shared broker, fed with envelopes produced here.

These tests drive the notifier alone: events are written straight to
``topics.events`` as the inventory would write them, and real WebSocket clients
(the ``websockets`` library) read what the notifier pushes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from stampede_contracts import (
    DropCreated,
    DropDeleted,
    DropSpec,
    DropUpdated,
    Event,
    EventEnvelope,
    PurchaseConfirmed,
    QueueUpdated,
    StockChanged,
    StockLevels,
    Topics,
    event_id_for,
)
from stampede_devstack.ports import free_port
from stampede_devstack.process import ServiceProcess
from stampede_runtime.admin import ensure_topics
from stampede_runtime.kafka_config import SINGLE_BROKER
from stampede_runtime.producer import Outgoing, Producer


def levels(available: int, total: int) -> StockLevels:
    return StockLevels(total_stock=total, available=available, held=0,
                       sold=total - available)


def purchase(username: str) -> PurchaseConfirmed:
    return PurchaseConfirmed(purchase_id=uuid.uuid4(), reservation_id=uuid.uuid4(),
                             user_id=uuid.uuid4(), username=username, quantity=1,
                             amount_cents=100, currency="USD")


@dataclass
class Drop:
    """One drop's event stream, numbered as the inventory numbers it."""

    feed: Feed
    total: int
    drop_id: uuid.UUID = field(default_factory=uuid.uuid4)
    seq: int = 0
    sent: list[EventEnvelope] = field(default_factory=list)
    queue_clock: datetime = field(default_factory=lambda: datetime.now(UTC))

    def envelope(self, event: Event) -> EventEnvelope:
        self.seq += 1
        return EventEnvelope(event_id=event_id_for(self.drop_id, self.seq),
                             drop_id=self.drop_id, seq=self.seq,
                             occurred_at=datetime.now(UTC), event=event)

    async def send(self, *events: Event) -> list[EventEnvelope]:
        envelopes = [self.envelope(e) for e in events]
        await self.feed.publish(envelopes)
        self.sent += envelopes
        return envelopes

    async def create(self) -> None:
        spec = DropSpec(drop_id=self.drop_id, name="Dunk Low", price_cents=100,
                        total_stock=self.total)
        await self.send(DropCreated(drop=spec, stock=levels(self.total, self.total)))

    async def stock(self, available: int) -> None:
        await self.send(StockChanged(stock=levels(available, self.total)))

    async def update(self, name: str) -> None:
        spec = DropSpec(drop_id=self.drop_id, name=name, price_cents=100,
                        total_stock=self.total)
        available = self.total  # the tests that update a drop sell nothing first
        await self.send(DropUpdated(drop=spec, stock=levels(available, self.total)))

    async def delete(self) -> None:
        await self.send(DropDeleted(drop_id=self.drop_id))

    async def queue(self, serving: int, issued: int, sold_out: bool = False) -> QueueUpdated:
        """The gateway's waiting-room figures for this drop, on topics.queue."""
        self.queue_clock += timedelta(milliseconds=100)
        update = QueueUpdated(drop_id=self.drop_id, serving=serving, issued=issued,
                              waiting=max(0, issued - serving), sold_out=sold_out,
                              admit_per_s=10.0, at=self.queue_clock)
        await self.feed.producer.send(Outgoing(self.feed.topics.queue, self.drop_id, update))
        return update


@dataclass
class Feed:
    producer: Producer
    topics: Topics

    async def publish(self, envelopes: list[EventEnvelope]) -> None:
        await self.producer.send_all(Outgoing(self.topics.events, e.drop_id, e)
                                     for e in envelopes)

    async def new_drop(self, total: int = 1000) -> Drop:
        drop = Drop(self, total)
        await drop.create()
        return drop


@pytest.fixture
async def feed(infra: Any, namespace: str) -> AsyncIterator[Feed]:
    topics = Topics.for_namespace(namespace)
    await ensure_topics(infra.kafka_bootstrap_servers, topics.all(), config=SINGLE_BROKER)
    producer = Producer(infra.kafka_bootstrap_servers, client_id="notifier-test")
    await producer.start()
    try:
        yield Feed(producer, topics)
    finally:
        await producer.stop()


StartNotifier = Callable[..., Awaitable[ServiceProcess]]


@pytest.fixture
async def notifier(infra: Any, namespace: str, tmp_path: Path,
                   feed: Feed) -> AsyncIterator[StartNotifier]:
    """``await notifier(SETTING="value", ...)`` starts one and waits for /readyz."""
    procs: list[ServiceProcess] = []

    async def start(**env: str) -> ServiceProcess:
        proc = ServiceProcess(
            f"notifier{len(procs)}", "stampede_notifier", free_port(),
            {"KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
             "TOPIC_NAMESPACE": namespace, "LOG_LEVEL": "WARNING", **env},
            tmp_path,
        )
        procs.append(proc)
        proc.start()
        await asyncio.to_thread(proc.wait_ready, 60)
        return proc

    yield start
    for proc in procs:
        await asyncio.to_thread(proc.stop)


def ws_url(proc: ServiceProcess, **query: object) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"ws://127.0.0.1:{proc.port}/ws" + (f"?{params}" if params else "")


async def receive_until(ws: Any, done: Callable[[list[dict[str, Any]]], bool],
                        timeout_s: float = 15, log: bool = False) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while not done(got):
                got.append(json.loads(await ws.recv()))
    except TimeoutError:
        if log:
            print("received", len(got), got[-1:])
        raise
    return got


async def quiet(ws: Any, for_s: float = 0.5) -> list[dict[str, Any]]:
    """Whatever arrives in the next ``for_s`` seconds."""
    got: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(for_s):
            while True:
                got.append(json.loads(await ws.recv()))
    except TimeoutError:
        return got


async def metric(proc: ServiceProcess, name: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{proc.url}/metrics")).text
    total = 0.0  # the series of exactly this name, summed over their labels
    for line in text.splitlines():
        if not line.startswith("#") and line.split("{", 1)[0].split(" ", 1)[0] == name:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def metric_is(proc: ServiceProcess, name: str, value: float,
                    timeout_s: float = 10) -> None:
    """Await the metric reaching ``value`` (e.g. the clients connected have joined)."""
    async with asyncio.timeout(timeout_s):
        while await metric(proc, name) != value:
            await asyncio.sleep(0.05)


async def seen(proc: ServiceProcess, drop: Drop,
               applied: Callable[[dict[str, Any]], bool]) -> None:
    """Await the notifier having applied what ``applied`` recognises in one of the drop's
    messages (a client resuming from 0 is sent the drop's window, then its live stream)."""
    async with websockets.connect(ws_url(proc, drops=drop.drop_id, since=0)) as ws:
        await receive_until(ws, lambda g: any(applied(m) for m in g))


def stock_is(available: int) -> Callable[[dict[str, Any]], bool]:
    """The stock, as a resume tells it (its window's latest, or a snapshot beyond it)."""
    return lambda m: (m["type"] in ("STOCK_UPDATED", "SNAPSHOT")
                      and m["data"].get("available_stock") == available)


async def known(proc: ServiceProcess, *drops: Drop) -> None:
    """Await the notifier having applied each drop's creation: a client joining after
    this gets live messages only."""
    for drop in drops:
        await seen(proc, drop, lambda m: m["type"] == "DROP_CREATED")
