"""Exactly-once effect of at-least-once events: replays, republishes, kill -9, lost logs."""

from __future__ import annotations

import asyncio
import random
import re

import pytest
from stampede_contracts import EventEnvelope
from stampede_orders.adapters.migrate import upgrade_sync

from tests.unit.orders.builders import DropStream, Hold

from .conftest import Orders, eventually

pytestmark = pytest.mark.integration


def _metric(orders: Orders, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", orders.get("/metrics").text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _history(seed: int) -> list[DropStream]:
    """Three drops with every kind of event: buys, expiries, cancels, an update, a delete."""
    rng = random.Random(seed)
    streams = [DropStream.new(total_stock=50, name=f"Drop {i}") for i in range(3)]
    for s in streams:
        s.create()
    streams[0].update(name="Drop 0 (restocked)", total_stock=60)
    for _ in range(60):
        s = rng.choice(streams[:2])
        hold, _ = s.reserve()
        fate = rng.random()
        if fate < 0.6:
            s.purchase(hold)
        elif fate < 0.8:
            s.expire(hold)
        elif fate < 0.9:
            s.cancel(hold)
    streams[2].delete()
    return streams


def _interleaved(streams: list[DropStream]) -> list[EventEnvelope]:
    return [e for s in streams for e in s.events]


async def test_replaying_the_whole_log_twice_yields_the_same_rows(orders: Orders):
    streams = _history(seed=7)
    events = _interleaved(streams)
    await orders.publish(events)
    orders.start()
    await orders.caught_up()
    first = orders.snapshot()
    assert len(first["purchases"]) == sum(s.sold for s in streams)
    assert {(r[0], r[1]) for r in first["event_streams"]} == {(s.drop_id, s.seq) for s in streams}

    # 1. every event republished (an inventory crash between commit and publish)
    await orders.publish(events)
    await orders.caught_up()
    assert orders.snapshot() == first
    assert _metric(orders, "stampede_orders_duplicates_skipped_total") == len(events)

    # 2. a fresh consumer group and no stored positions: the whole log read again
    orders.stop()
    orders.sql("DELETE FROM consumer_positions RETURNING 1")
    orders.start(CONSUMER_GROUP="orders-replay")
    await orders.caught_up()
    assert orders.snapshot() == first
    assert _metric(orders, "stampede_orders_duplicates_skipped_total") == 2 * len(events)
    assert _metric(orders, "stampede_orders_events_applied_total") == 0

    # the migrations ran once, their version table lives in the service's schema
    assert orders.sql("SELECT version_num FROM orders.alembic_version") == [("0002",)]


async def test_kill9_in_a_storm_records_every_purchase_exactly_once(orders: Orders):
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")  # random.Random(seed) replays which drop each buyer picks
    rng = random.Random(seed)
    streams = [DropStream.new(total_stock=1000, name=f"Storm {i}") for i in range(4)]
    holds: list[Hold] = []
    chunks: list[list[EventEnvelope]] = [[e for s in streams for e in s.create()]]
    for _ in range(15):  # 15 chunks x 100 buyers = 1500 purchases, 6000 events
        chunk: list[EventEnvelope] = []
        for _ in range(100):
            s = rng.choice(streams)
            hold, events = s.buy()
            holds.append(hold)
            chunk += events
        chunks.append(chunk)
    orders.start()

    async def storm() -> None:
        for i, chunk in enumerate(chunks):
            await orders.publish(chunk)
            if i % 5 == 4:  # an inventory restart republishes what it had sent
                await orders.publish(chunks[i - 1])
            await asyncio.sleep(0.15)

    producing = asyncio.create_task(storm())
    await eventually(lambda: orders.sql("SELECT count(*) FROM purchases")[0][0] >= 300, 60)
    assert orders.process is not None
    orders.process.kill9()
    recorded_at_crash = orders.sql("SELECT count(*) FROM purchases")[0][0]
    await producing
    orders.start()
    await orders.caught_up(timeout_s=120)

    rows = orders.sql("SELECT reservation_id, drop_id, username FROM purchases")
    assert len(rows) == len(holds)
    assert {r[0] for r in rows} == {h.reservation_id for h in holds}
    assert recorded_at_crash < len(holds)  # the crash did land in the middle
    stock = {r[0]: r[1:] for r in orders.sql(
        "SELECT id, available, held, sold FROM drops")}
    for s in streams:
        assert stock[s.drop_id] == (s.available, s.held, s.sold)
    seqs = dict(orders.sql("SELECT drop_id, last_seq FROM event_streams"))
    assert seqs == {s.drop_id: s.seq for s in streams}
    assert orders.sql("SELECT count(*) FROM holds WHERE status <> 'purchased'") == [(0,)]


async def test_lost_broker_log_is_replayed_from_the_start(orders: Orders):
    """Stored positions beyond the log's end (the embedded broker restarted empty):
    orders resets them and reads the new log from 0."""
    await asyncio.to_thread(upgrade_sync, orders.database_url, "orders")
    orders.sql(
        "INSERT INTO consumer_positions (topic, partition, next_offset) "
        "SELECT %s, p, 100000 FROM generate_series(0, 7) AS p RETURNING 1",
        orders.topics.events.name,
    )
    stream = DropStream.new(total_stock=5)
    stream.create()
    stream.buy("survivor")
    await orders.publish(stream.events)
    orders.start()
    await eventually(
        lambda: orders.sql("SELECT username FROM purchases") == [("survivor",)], 60
    )
    await orders.caught_up()
    assert max(orders.positions().values()) < 100
    assert _metric(orders, "stampede_orders_positions_reset_total") >= 1
