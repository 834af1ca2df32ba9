"""Bursts of stock changes: few messages per second, the last one equal to the last change."""

from __future__ import annotations

import asyncio
import time

import pytest
import websockets
from stampede_contracts import StockChanged

from .conftest import known, levels, metric, metric_is, quiet, receive_until, ws_url

pytestmark = pytest.mark.integration


async def test_burst_is_coalesced_and_trailing_update_is_exact(feed, notifier):
    proc = await notifier(STOCK_UPDATES_PER_SECOND="5")
    drop = await feed.new_drop(2000)
    await known(proc, drop)
    async with websockets.connect(ws_url(proc, drops=drop.drop_id)) as ws:
        await metric_is(proc, "stampede_notifier_connections", 1)
        started = time.monotonic()
        for chunk in range(10):  # 2,000 stock changes over about a second
            await drop.send(*(StockChanged(stock=levels(2000 - chunk * 200 - i, 2000))
                              for i in range(1, 201)))
            await asyncio.sleep(0.1)
        got = await receive_until(
            ws, lambda g: bool(g) and g[-1]["data"]["available_stock"] == 0, timeout_s=20)
        elapsed = time.monotonic() - started
        got += await quiet(ws, 0.6)
    stock_updates = [m for m in got if m["type"] == "STOCK_UPDATED"]
    assert stock_updates[-1]["data"]["available_stock"] == 0  # the trailing flush is exact
    assert stock_updates[-1]["seq"] == drop.seq * 4 + 2
    assert len(stock_updates) <= 5 * (elapsed + 1) + 1
    seqs = [m["seq"] for m in got]
    assert seqs == sorted(set(seqs))  # rising, no two alike
    assert await metric(proc, "stampede_notifier_messages_coalesced_total") >= 1900
