"""Drive inventory processes as the gateway would: commands in, replies and events out.

``Cluster`` starts ``python -m stampede_inventory`` processes (ServiceProcess, so
they can be kill -9'd); ``Client`` produces ``CommandEnvelope``s to the commands
topic and collects every reply and event (reading all partitions from the start);
``db_state`` reads the inventory's tables as they are after the fact.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from stampede_contracts import (
    Command,
    CommandEnvelope,
    CreateDrop,
    DropSpec,
    EventEnvelope,
    Reply,
    Topics,
    decode_event,
    decode_reply,
)
from stampede_devstack.ports import free_port
from stampede_devstack.process import ServiceProcess
from stampede_devstack.stack import SINGLE_BROKER_ENV
from stampede_runtime.admin import ensure_topics
from stampede_runtime.kafka_config import SINGLE_BROKER
from stampede_runtime.producer import Outgoing, Producer

REPLY_TO = "test-gateway"


class Cluster:
    """Inventory processes sharing one database and namespace."""

    def __init__(self, tmp: Path, kafka: str, database_url: str, namespace: str,
                 **env: str) -> None:
        self.tmp, self.kafka, self.namespace = tmp, kafka, namespace
        self.database_url = database_url
        self.env = {"SESSION_TIMEOUT_MS": "6000", "LOG_LEVEL": "INFO", **env}
        self.procs: dict[str, ServiceProcess] = {}

    def start(self, name: str, wait: bool = True) -> ServiceProcess:
        proc = self.procs.get(name)
        if proc is None:
            proc = ServiceProcess(name, "stampede_inventory", free_port(), {
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka, "DATABASE_URL": self.database_url,
                "TOPIC_NAMESPACE": self.namespace, "INSTANCE_ID": name, **SINGLE_BROKER_ENV,
                **self.env,
            }, self.tmp / "logs")
            self.procs[name] = proc
        proc.start()
        if wait:
            proc.wait_ready(90)
        return proc

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{p.tail(30)}" for n, p in self.procs.items())


class Client:
    """A stand-in gateway: sends commands, keeps every reply and event it sees."""

    def __init__(self, kafka: str, namespace: str) -> None:
        self.kafka = kafka
        self.topics = Topics.for_namespace(namespace)
        self.producer = Producer(kafka, client_id="test-client")
        self.replies: dict[uuid.UUID, list[Reply]] = defaultdict(list)
        self.events: list[EventEnvelope] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Client:
        await ensure_topics(self.kafka, self.topics.all(), config=SINGLE_BROKER)
        await self.producer.start()
        self._tasks = [
            asyncio.create_task(self._read(self.topics.replies.name, self._on_reply)),
            asyncio.create_task(self._read(self.topics.events.name, self._on_event)),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.producer.stop()

    def _on_reply(self, raw: bytes | None) -> None:
        reply = decode_reply(raw)
        self.replies[reply.command_id].append(reply)

    def _on_event(self, raw: bytes | None) -> None:
        self.events.append(decode_event(raw))

    async def _read(self, topic: str, sink: Any) -> None:
        while True:  # survives a broker restart: reconnect and read the new log
            consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka,
                                        auto_offset_reset="earliest", fetch_max_wait_ms=50)
            try:
                await consumer.start()
                parts = None
                while not parts:
                    await consumer._client.force_metadata_update()
                    parts = consumer.partitions_for_topic(topic)
                    await asyncio.sleep(0.1)
                tps = [TopicPartition(topic, p) for p in sorted(parts)]
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                while True:
                    batches = await consumer.getmany(timeout_ms=100)
                    for records in batches.values():
                        for r in records:
                            sink(r.value)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    # -- sending ---------------------------------------------------------------------------
    def envelope(self, command: Command, command_id: uuid.UUID | None = None,
                 reply_to: str | None = REPLY_TO) -> CommandEnvelope:
        return CommandEnvelope(
            command_id=command_id or uuid.uuid4(), drop_id=command.drop_id,
            occurred_at=datetime.now(UTC), reply_to=reply_to, command=command,
        )

    async def send(self, envelopes: Iterable[CommandEnvelope]) -> list[CommandEnvelope]:
        sent = list(envelopes)
        await self.producer.send_all(Outgoing(self.topics.commands, e.drop_id, e) for e in sent)
        return sent

    async def ask(self, command: Command, timeout: float = 60) -> Reply:  # noqa: ASYNC109
        (env,) = await self.send([self.envelope(command)])
        return (await self.answers([env.command_id], timeout))[env.command_id]

    async def answers(
        self, command_ids: Iterable[uuid.UUID], timeout: float = 60  # noqa: ASYNC109
    ) -> dict[uuid.UUID, Reply]:
        wanted = list(command_ids)
        async with asyncio.timeout(timeout):
            while any(not self.replies.get(c) for c in wanted):
                await asyncio.sleep(0.05)
        return {c: self.replies[c][0] for c in wanted}

    async def create_drops(self, specs: Iterable[DropSpec], timeout: float = 90) -> None:  # noqa: ASYNC109
        sent = await self.send(self.envelope(CreateDrop(drop=s)) for s in specs)
        replies = await self.answers([e.command_id for e in sent], timeout)
        assert all(r.ok for r in replies.values()), replies

    def events_of(self, drop_id: uuid.UUID) -> list[EventEnvelope]:
        """The drop's events, duplicates (republished, same id) dropped, in seq order."""
        by_id: dict[uuid.UUID, EventEnvelope] = {}
        for e in self.events:
            if e.drop_id == drop_id:
                first = by_id.setdefault(e.event_id, e)
                assert first == e, "a republished event differs from the first"
        return sorted(by_id.values(), key=lambda e: e.seq)


async def oversell_gauges(cluster: Cluster) -> list[float]:
    """``stampede_inventory_oversell_violations`` of every running process."""
    values = []
    async with httpx.AsyncClient() as http:
        for proc in cluster.procs.values():
            if proc.running:
                text = (await http.get(f"{proc.url}/metrics", timeout=10)).text
                line = next(li for li in text.splitlines()
                            if li.startswith("stampede_inventory_oversell_violations "))
                values.append(float(line.split()[-1]))
    return values


async def partitions_owned(proc: ServiceProcess) -> int:
    """``stampede_inventory_partitions_owned`` of a running process (0 when it is down)."""
    if not proc.running:
        return 0
    async with httpx.AsyncClient() as http:
        try:
            text = (await http.get(f"{proc.url}/metrics", timeout=10)).text
        except httpx.TransportError:
            return 0
    line = next(li for li in text.splitlines()
                if li.startswith("stampede_inventory_partitions_owned "))
    return int(float(line.split()[-1]))


def spec(total_stock: int, **changes: Any) -> DropSpec:
    return DropSpec(drop_id=uuid.uuid4(), name="Jordan 1", price_cents=18000,
                    total_stock=total_stock, **changes)


def db_state(database_url: str) -> dict[str, Any]:
    """The inventory's tables now: drops, holds by status, processed command ids."""
    with psycopg.connect(database_url, options="-c search_path=inventory") as conn:
        drops = {
            r[0]: {"total": r[1], "held": r[2], "sold": r[3], "seq": r[4]}
            for r in conn.execute(
                "SELECT drop_id, (spec->>'total_stock')::int, held, sold, seq FROM drops"
            )
        }
        holds = [dict(zip(("reservation_id", "drop_id", "user_id", "quantity", "status"), r,
                          strict=True))
                 for r in conn.execute(
                     "SELECT reservation_id, drop_id, user_id, quantity, status FROM holds")]
        processed = {r[0] for r in conn.execute("SELECT command_id FROM processed")}
        purchases = conn.execute("SELECT count(*) FROM purchases").fetchone()
    return {"drops": drops, "holds": holds, "processed": processed,
            "purchases": purchases[0] if purchases else 0}


def assert_consistent(state: dict[str, Any]) -> None:
    """No oversell in the database: per drop, held = its active holds and fits the total."""
    for drop_id, d in state["drops"].items():
        active = [h for h in state["holds"] if h["drop_id"] == drop_id and h["status"] == "active"]
        sold = [h for h in state["holds"] if h["drop_id"] == drop_id and h["status"] == "purchased"]
        assert d["held"] == sum(h["quantity"] for h in active), drop_id
        assert d["sold"] == sum(h["quantity"] for h in sold), drop_id
        assert 0 <= d["held"] + d["sold"] <= d["total"], drop_id


def assert_event_log(client: Client, drop_id: uuid.UUID, db_drop: dict[str, Any]) -> None:
    """The drop's events: seqs 1..N without gap, the last StockChanged = the database."""
    events = client.events_of(drop_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].seq == db_drop["seq"]
    stock = [e.event.stock for e in events if e.event.type == "StockChanged"][-1]
    assert (stock.total_stock, stock.held, stock.sold) == (
        db_drop["total"], db_drop["held"], db_drop["sold"])
    assert stock.available == stock.total_stock - stock.held - stock.sold
    reserved = {e.event.reservation_id for e in events if e.event.type == "StockReserved"}
    assert len(reserved) == len([e for e in events if e.event.type == "StockReserved"])
