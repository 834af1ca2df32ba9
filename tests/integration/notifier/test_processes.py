"""Several notifier processes, each reading every event: a client that moves from one to
the other in the middle of a live stream resumes by seq and misses nothing."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
import websockets
from stampede_contracts import StockChanged

from .conftest import known, levels, metric_is, purchase, receive_until, ws_url

pytestmark = pytest.mark.integration

PURCHASES = 120


async def test_a_client_moving_between_processes_mid_stream_misses_nothing(feed, notifier):
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    procs = [await notifier(STOCK_UPDATES_PER_SECOND="20"),
             await notifier(STOCK_UPDATES_PER_SECOND="20")]
    drop = await feed.new_drop(PURCHASES)
    stream_done = asyncio.Event()

    async def sell() -> None:
        for i in range(PURCHASES):  # each: a purchase and the stock after it
            await drop.send(purchase(f"buyer{i}"),
                            StockChanged(stock=levels(PURCHASES - 1 - i, PURCHASES)))
            await asyncio.sleep(rng.uniform(0, 0.02))
        stream_done.set()

    seller = asyncio.create_task(sell())
    got: list[dict] = []
    since, hops = 0, 0
    while True:
        proc = procs[hops % 2]
        async with websockets.connect(ws_url(proc, drops=drop.drop_id, since=since)) as ws:
            stay = rng.uniform(0.05, 0.4)
            try:
                async with asyncio.timeout(stay if not stream_done.is_set() else 3):
                    while True:
                        message = json.loads(await ws.recv())
                        got.append(message)
                        if message["type"] != "QUEUE_UPDATED":
                            since = message["seq"]
            except TimeoutError:
                pass
        hops += 1
        if stream_done.is_set() and got and got[-1]["type"] == "STOCK_UPDATED" \
                and got[-1]["data"]["available_stock"] == 0:
            break
    await seller
    buyers = [m["data"]["username"] for m in got if m["type"] == "PURCHASE_COMPLETED"]
    assert buyers == [f"buyer{i}" for i in range(PURCHASES)]  # each once, in order
    seqs = [m["seq"] for m in got]
    assert seqs == sorted(set(seqs))  # rising, none twice
    assert got[-1]["data"]["available_stock"] == 0
    assert hops >= 3
    print(f"{hops} connections over 2 processes, {len(got)} messages")


async def test_both_processes_end_on_the_exact_last_stock_of_a_burst(feed, notifier):
    procs = [await notifier(STOCK_UPDATES_PER_SECOND="5"),
             await notifier(STOCK_UPDATES_PER_SECOND="5")]
    drop = await feed.new_drop(3000)
    for proc in procs:
        await known(proc, drop)
    async with (websockets.connect(ws_url(procs[0], drops=drop.drop_id)) as one,
                websockets.connect(ws_url(procs[1], drops=drop.drop_id)) as two):
        for proc in procs:  # each joined its process's room
            await metric_is(proc, "stampede_notifier_connections", 1)
        for chunk in range(10):
            await drop.send(*(StockChanged(stock=levels(3000 - chunk * 300 - i, 3000))
                              for i in range(1, 301)))
        for ws in (one, two):
            got = await receive_until(
                ws, lambda g: bool(g) and g[-1]["data"]["available_stock"] == 0, timeout_s=20)
            assert len(got) < 100  # coalesced
            assert got[-1]["seq"] == drop.seq * 4 + 2
