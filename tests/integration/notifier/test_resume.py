"""Resume with since=: the missed messages from the window, or a snapshot beyond it."""

from __future__ import annotations

import pytest
import websockets

from .conftest import known, metric_is, purchase, quiet, receive_until, seen, stock_is, ws_url

pytestmark = pytest.mark.integration


async def test_reconnect_with_since_gets_what_it_missed(feed, notifier):
    proc = await notifier(STOCK_UPDATES_PER_SECOND="0")
    drop = await feed.new_drop(10)
    url = ws_url(proc, drops=drop.drop_id)
    await known(proc, drop)
    async with websockets.connect(url) as ws:
        await metric_is(proc, "stampede_notifier_connections", 1)
        await drop.stock(9)
        [first] = await receive_until(ws, lambda g: len(g) >= 1)
    last_seen = first["seq"]
    # while away: a purchase and stock changes
    await drop.send(purchase("bo"))
    for available in (8, 7, 6):
        await drop.stock(available)
    await seen(proc, drop, stock_is(6))  # all missed: a resume replays them
    async with websockets.connect(ws_url(proc, drops=drop.drop_id, since=last_seen)) as ws:
        missed = await receive_until(ws, lambda g: len(g) >= 3)
        # compacted: the events, and the latest stock only
        assert [m["type"] for m in missed] == ["PURCHASE_COMPLETED", "ACTIVITY_UPDATED",
                                               "STOCK_UPDATED"]
        assert missed[-1]["data"]["available_stock"] == 6
        assert all(m["seq"] > last_seen for m in missed)
        await drop.stock(5)
        [live] = await receive_until(ws, lambda g: len(g) >= 1)
        assert live["data"]["available_stock"] == 5 and live["seq"] > missed[-1]["seq"]
        assert await quiet(ws, 0.3) == []
    # the per-drop form, and since=0 (everything the window has)
    async with websockets.connect(ws_url(proc, since=f"{drop.drop_id}:0")) as ws:
        everything = await receive_until(ws, lambda g: len(g) >= 4)
        assert everything[0]["type"] == "DROP_CREATED"
        assert everything[-1]["data"]["available_stock"] == 5


async def test_since_older_than_the_window_gets_a_snapshot(feed, notifier):
    proc = await notifier(RECENT_WINDOW="5", STOCK_UPDATES_PER_SECOND="0")
    drop = await feed.new_drop(100)
    await drop.send(purchase("cy"))
    for available in range(99, 80, -1):
        await drop.stock(available)
    await seen(proc, drop, stock_is(81))
    async with websockets.connect(ws_url(proc, drops=drop.drop_id, since=4)) as ws:
        [snapshot] = await receive_until(ws, lambda g: len(g) >= 1)
        assert snapshot["type"] == "SNAPSHOT"
        assert snapshot["data"]["available_stock"] == 81
        assert snapshot["data"]["latest_purchasers"][0]["username"] == "cy"
        assert snapshot["data"]["drop"]["name"] == "Dunk Low"
        await drop.stock(80)
        [live] = await receive_until(ws, lambda g: len(g) >= 1)
        assert live["seq"] > snapshot["seq"] and live["data"]["available_stock"] == 80


async def test_two_processes_number_alike_so_a_client_can_switch(feed, notifier):
    first, second = await notifier(STOCK_UPDATES_PER_SECOND="0"), await notifier(
        STOCK_UPDATES_PER_SECOND="0")
    drop = await feed.new_drop(10)
    await drop.send(purchase("di"))
    await drop.stock(9)
    for proc in (first, second):
        await seen(proc, drop, stock_is(9))
    windows = []
    for proc in (first, second):
        async with websockets.connect(ws_url(proc, drops=drop.drop_id, since=0)) as ws:
            windows.append(await receive_until(ws, lambda g: len(g) >= 4))
    assert [(m["type"], m["seq"]) for m in windows[0]] == [
        (m["type"], m["seq"]) for m in windows[1]]
    # resume on the other process from what the first one sent
    async with websockets.connect(ws_url(first, drops=drop.drop_id)) as ws:
        await metric_is(first, "stampede_notifier_connections", 1)
        await drop.stock(8)
        [live] = await receive_until(ws, lambda g: len(g) >= 1)
    await drop.stock(7)
    async with websockets.connect(ws_url(second, drops=drop.drop_id,
                                         since=live["seq"])) as ws:
        [missed] = await receive_until(ws, lambda g: len(g) >= 1)
        assert missed["data"]["available_stock"] == 7 and missed["seq"] > live["seq"]
        assert await quiet(ws, 0.3) == []
