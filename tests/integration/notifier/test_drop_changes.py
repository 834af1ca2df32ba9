"""QUEUE_UPDATED from the waiting room's topic, DROP_UPDATED and DROP_DELETED from the
inventory's events: pushed on the drop's channel, and what a resume gives of each."""

from __future__ import annotations

import pytest
import websockets

from .conftest import quiet, receive_until, seen, ws_url

pytestmark = pytest.mark.integration


async def test_queue_figures_are_pushed_and_a_resume_on_another_process_gets_the_latest(
        feed, notifier):
    first, second = await notifier(), await notifier()
    drop = await feed.new_drop(10)
    async with websockets.connect(ws_url(first, drops=drop.drop_id, since=0)) as ws:
        [created] = await receive_until(ws, lambda g: len(g) >= 1)  # the drop is known
        assert created["type"] == "DROP_CREATED"
        await drop.queue(serving=10, issued=50)
        [pushed] = await receive_until(ws, lambda g: len(g) >= 1)
        assert pushed["type"] == "QUEUE_UPDATED" and pushed["seq"] == 1 * 4 + 3
        assert pushed["data"] | {"at": None} == {"serving": 10, "waiting": 40,
                                                 "sold_out": False, "issued": 50,
                                                 "admit_per_s": 10.0, "at": None}
    await drop.queue(serving=50, issued=50, sold_out=True)  # while away
    await seen(second, drop, lambda m: m["type"] == "QUEUE_UPDATED" and m["data"]["sold_out"])
    async with websockets.connect(ws_url(second, drops=drop.drop_id,
                                         since=pushed["seq"])) as ws:
        # the resume ends with the figures the process has; the latest come at once
        got = await receive_until(ws, lambda g: bool(g) and g[-1]["data"]["sold_out"])
        assert {m["type"] for m in got} == {"QUEUE_UPDATED"}
        latest = got[-1]
        assert latest["data"]["waiting"] == 0 and latest["seq"] >= pushed["seq"]
        await drop.stock(9)  # the stream goes on after it
        [live] = await receive_until(ws, lambda g: len(g) >= 1)
        assert live["type"] == "STOCK_UPDATED" and live["seq"] > latest["seq"]


async def test_drop_updated_and_deleted_reach_watchers_and_a_deleted_drop_stays_deleted(
        feed, notifier):
    proc = await notifier(STOCK_UPDATES_PER_SECOND="0")
    drop = await feed.new_drop(10)
    async with websockets.connect(ws_url(proc, drops=drop.drop_id, since=0)) as ws:
        [created] = await receive_until(ws, lambda g: len(g) >= 1)
        assert created["type"] == "DROP_CREATED"
        await drop.update("Dunk Low Retro")
        [renamed] = await receive_until(ws, lambda g: len(g) >= 1)
        assert renamed["type"] == "DROP_UPDATED"
        assert renamed["data"]["name"] == "Dunk Low Retro"
        assert renamed["data"]["available_stock"] == 10
        await drop.delete()
        [gone] = await receive_until(ws, lambda g: len(g) >= 1)
        assert gone["type"] == "DROP_DELETED" and gone["seq"] > renamed["seq"]
    # a client that knew the drop hears it was deleted, and nothing of what came before
    async with websockets.connect(ws_url(proc, drops=drop.drop_id, since=4)) as ws:
        [only] = await receive_until(ws, lambda g: len(g) >= 1)
        assert only["type"] == "DROP_DELETED"
        assert await quiet(ws, 0.5) == []
    # one asking for everything from scratch is not told of it at all
    async with websockets.connect(ws_url(proc, since=0)) as ws:
        assert [m for m in await quiet(ws, 0.5) if m["drop_id"] == str(drop.drop_id)] == []
