"""Bad messages on the events topic are dead-lettered; the projection goes on."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaConsumer
from stampede_contracts import encode

from tests.unit.orders.builders import DropStream

from .conftest import Orders, eventually

pytestmark = pytest.mark.integration


async def _dead_letters(orders: Orders, expect: int) -> list[tuple[bytes | None, str]]:
    consumer = AIOKafkaConsumer(
        orders.topics.dead_letters.name, bootstrap_servers=orders.bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[tuple[bytes | None, str]] = []
    try:
        async with asyncio.timeout(60):
            while len(found) < expect:
                batches = await consumer.getmany(timeout_ms=200)
                found += [
                    (r.value, dict(r.headers)["reason"].decode())
                    for rs in batches.values() for r in rs
                ]
    finally:
        await consumer.stop()
    return found


async def test_malformed_and_unappliable_events_are_dead_lettered(orders: Orders):
    stream = DropStream.new(total_stock=10)
    stream.create()
    key = str(stream.drop_id).encode()
    await orders.publish(stream.events)
    await orders.publish_raw(key, b"{not json")
    unknown = json.loads(encode(stream.create()[0]))
    unknown["event"]["type"] = "DropExploded"
    await orders.publish_raw(key, json.dumps(unknown).encode())
    future = json.loads(encode(stream.create()[0]))
    future["schema_version"] = 99
    await orders.publish_raw(key, json.dumps(future).encode())
    # valid JSON of a valid envelope that the database refuses (currency too long):
    # retried by the loop's policy, then dead-lettered alone
    hold, reserved = stream.reserve("poison")
    poison = stream.purchase(hold)
    poison[0] = poison[0].model_copy(update={
        "event": poison[0].event.model_copy(update={"currency": "X" * 40})
    })
    await orders.publish(reserved + poison)
    _, after = stream.buy("after")
    await orders.publish(after)

    orders.start()
    await eventually(
        lambda: orders.sql("SELECT username FROM purchases") == [("after",)], 60
    )
    dead = await _dead_letters(orders, 4)
    # one drop, one partition: dead-lettered in the order they were published
    assert [reason.split(":", 1)[0] for _, reason in dead] == [
        "malformed", "malformed", "malformed", "handler"]
    assert dead[0][0] == b"{not json"
    drop = orders.get(f"/internal/drops/{stream.drop_id}").json()
    assert (drop["available_stock"], drop["held"], drop["sold"]) == (
        stream.available, stream.held, stream.sold)
    metrics = orders.get("/metrics").text
    assert "stampede_orders_seq_gaps_total 2.0" in metrics  # past the dead letters
    assert orders.get("/readyz").status_code == 200
