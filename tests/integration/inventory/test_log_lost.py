"""The broker loses its log (tansu keeps it in memory): the writer notices that its
stored offset is beyond the new log's end, continues at its start, keeps its state."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from stampede_contracts import RejectionCode, ReserveStock
from stampede_devstack.broker import EmbeddedBroker
from stampede_devstack.ports import free_port
from stampede_runtime.admin import ensure_topics
from stampede_runtime.kafka_config import SINGLE_BROKER

from .harness import Client, Cluster, db_state, spec

pytestmark = pytest.mark.integration


async def test_broker_restart_with_an_empty_log(tmp_path, fresh_database, namespace):
    broker = EmbeddedBroker(free_port(), tmp_path / "tansu.log")
    broker.start()
    cluster = Cluster(tmp_path, broker.bootstrap_servers, fresh_database(), namespace)
    try:
        proc = await asyncio.to_thread(cluster.start, "inventory-0")
        drop = spec(2, reservation_ttl_seconds=600)
        async with Client(broker.bootstrap_servers, namespace) as client:
            await client.create_drops([drop])
            for _ in range(3):  # move the stored offset well past where a new log begins
                assert (await client.ask(ReserveStock(
                    drop_id=drop.drop_id, user_id=uuid.uuid4(), username="u"))).ok is not None
        before = db_state(cluster.database_url)["drops"][drop.drop_id]
        assert before["held"] == 2

        broker.kill()
        await asyncio.to_thread(broker.start)  # same port, empty log
        await ensure_topics(broker.bootstrap_servers, client.topics.all(), config=SINGLE_BROKER)
        async with Client(broker.bootstrap_servers, namespace) as client:
            # a command in the new log: decided against the state kept in PostgreSQL
            reply = await client.ask(ReserveStock(drop_id=drop.drop_id, user_id=uuid.uuid4(),
                                                  username="late"), timeout=90)
            assert reply.code is RejectionCode.OUT_OF_STOCK
        after = db_state(cluster.database_url)["drops"][drop.drop_id]
        assert (after["held"], after["sold"]) == (2, 0)
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"{proc.url}/metrics")).text
        lost = [line for line in metrics.splitlines()
                if line.startswith("stampede_broker_log_lost_total{")]
        assert lost and float(lost[0].split()[-1]) >= 1
    finally:
        cluster.stop()
        broker.stop()
