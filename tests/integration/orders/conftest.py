"""The orders service alone, as a process, on the shared broker and a fresh database.

Tests play the inventory themselves: they produce ``EventEnvelope``s to
``topics.events`` (see ``tests/unit/orders/builders.py``) and look at what orders
made of them, over its internal HTTP API and in its schema.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from stampede_contracts import EventEnvelope, Topics
from stampede_devstack.ports import free_port
from stampede_devstack.process import ServiceProcess
from stampede_devstack.stack import SINGLE_BROKER_ENV
from stampede_runtime.admin import ensure_topics
from stampede_runtime.kafka_config import SINGLE_BROKER
from stampede_runtime.producer import Outgoing, Producer

pytestmark = pytest.mark.integration


@dataclass
class Orders:
    """One orders service under test, with the producer that feeds it."""

    bootstrap: str
    namespace: str
    topics: Topics
    database_url: str
    producer: Producer
    log_dir: Path
    process: ServiceProcess | None = None
    restarts: int = 0
    #: the service token orders requires on /internal (the gateway's, in a deployment)
    token: str = "test-service-token-of-orders"
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    def env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "DATABASE_URL": self.database_url,
            "TOPIC_NAMESPACE": self.namespace,
            "LOG_LEVEL": "INFO", "ORDERS_SERVICE_TOKEN": self.token, **SINGLE_BROKER_ENV,
        }

    def start(self, *, wait: bool = True, **env: str) -> ServiceProcess:
        self.process = ServiceProcess(
            f"orders-{self.restarts}", "stampede_orders", free_port(), {**self.env(), **env},
            self.log_dir,
        )
        self.restarts += 1
        self.process.start()
        if wait:
            self.process.wait_ready(90)
        return self.process

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def get(self, path: str, *, headers: dict[str, str] | None = None,
            **params: Any) -> httpx.Response:
        """GET with the service token, unless ``headers`` says otherwise."""
        assert self.process is not None
        sent = {"Authorization": f"Bearer {self.token}"} if headers is None else headers
        return self._http.get(f"{self.process.url}{path}", params=params, headers=sent)

    async def publish(self, envelopes: Iterable[EventEnvelope]) -> None:
        await self.producer.send_all(
            Outgoing(self.topics.events, e.drop_id, e) for e in envelopes
        )

    async def publish_raw(self, key: bytes | None, value: bytes | None) -> None:
        await self.producer.send_raw(self.topics.events, key, value)

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, options="-c search_path=orders") as conn:
            return conn.execute(query, args).fetchall()  # type: ignore[arg-type]

    def positions(self) -> dict[int, int]:
        try:
            rows = self.sql("SELECT partition, next_offset FROM consumer_positions")
        except psycopg.errors.UndefinedTable:
            return {}
        return {int(p): int(o) for p, o in rows}

    async def end_offsets(self) -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await consumer.start()
        try:
            parts = consumer.partitions_for_topic(self.topics.events.name) or set()
            tps = [TopicPartition(self.topics.events.name, p) for p in parts]
            ends = await consumer.end_offsets(tps)
        finally:
            await consumer.stop()
        return {tp.partition: off for tp, off in ends.items() if off > 0}

    async def caught_up(self, timeout_s: float = 60) -> None:
        """Wait until the stored positions reach the end of every partition."""
        ends = await self.end_offsets()
        deadline = time.monotonic() + timeout_s
        while True:
            stored = await asyncio.to_thread(self.positions)
            if all(stored.get(p, 0) >= end for p, end in ends.items()):
                return
            if time.monotonic() > deadline:
                tail = self.process.tail() if self.process else ""
                raise TimeoutError(f"orders stuck at {stored}, log ends {ends}\n{tail}")
            await asyncio.sleep(0.2)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the read model, in a stable order (positions excluded)."""
        return {
            table: self.sql(f"SELECT * FROM {table} ORDER BY 1")
            for table in ("drops", "holds", "purchases", "event_streams")
        }


@pytest.fixture
async def orders(infra, namespace, fresh_database, tmp_path) -> AsyncIterator[Orders]:
    topics = Topics.for_namespace(namespace)
    await ensure_topics(infra.kafka_bootstrap_servers, topics.all(), config=SINGLE_BROKER)
    producer = Producer(infra.kafka_bootstrap_servers, client_id="orders-test")
    await producer.start()
    under_test = Orders(infra.kafka_bootstrap_servers, namespace, topics, fresh_database(),
                        producer, tmp_path / "logs")
    try:
        yield under_test
    finally:
        under_test.stop()
        await producer.stop()


async def eventually(check: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.2)
