"""Rooms, message shapes, dedupe, ping and the door's close codes, over real sockets."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from .conftest import known, metric, metric_is, purchase, quiet, receive_until, ws_url

pytestmark = pytest.mark.integration


async def test_clients_get_their_drops_only(feed, notifier):
    proc = await notifier()
    one, two = await feed.new_drop(10), await feed.new_drop(10)
    await known(proc, one, two)  # created before anyone below joins: not sent to them
    async with (websockets.connect(ws_url(proc, drops=one.drop_id)) as a,
                websockets.connect(ws_url(proc, drops=f"{one.drop_id},{two.drop_id}")) as both,
                websockets.connect(ws_url(proc)) as everything):
        await metric_is(proc, "stampede_notifier_connections", 3)  # the three joined
        await one.send(purchase("ann"))
        await one.stock(9)
        await two.stock(7)
        got_a = await receive_until(a, lambda g: len(g) >= 3)
        assert [m["type"] for m in got_a] == ["PURCHASE_COMPLETED", "ACTIVITY_UPDATED",
                                              "STOCK_UPDATED"]
        assert {m["drop_id"] for m in got_a} == {str(one.drop_id)}
        assert got_a[0]["data"]["username"] == "ann" and "purchased_at" in got_a[0]["data"]
        assert got_a[1]["data"]["latest_purchasers"][0]["username"] == "ann"
        assert got_a[2]["data"]["available_stock"] == 9
        seqs = [m["seq"] for m in got_a]
        assert seqs == sorted(set(seqs))  # rising, no two alike
        for ws in (both, everything):
            got = await receive_until(ws, lambda g: len(g) >= 4)
            assert sorted((m["drop_id"], m["type"]) for m in got) == sorted([
                (str(one.drop_id), "PURCHASE_COMPLETED"), (str(one.drop_id), "ACTIVITY_UPDATED"),
                (str(one.drop_id), "STOCK_UPDATED"), (str(two.drop_id), "STOCK_UPDATED")])
        # a republished event (same drop, same seq) is not sent again
        await feed.publish(one.sent[-2:])
        await one.stock(8)
        [last] = await receive_until(a, lambda g: len(g) >= 1)
        assert last["data"]["available_stock"] == 8
        assert await quiet(a, 0.3) == []
        assert await metric(proc, "stampede_notifier_duplicate_events_total") >= 2
        await a.send("ping")
        assert await a.recv() == "pong"
        assert await metric(proc, "stampede_notifier_connections") == 3


async def _close_code(url: str, **kwargs) -> int | None:
    async with websockets.connect(url, **kwargs) as ws:
        with contextlib.suppress(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        return ws.close_code


async def test_door_checks_answer_with_close_codes(feed, notifier):
    proc = await notifier(MAX_CONNECTIONS_PER_IP="2", ALLOWED_ORIGINS="https://shop.example")
    url = ws_url(proc)
    assert await _close_code(url, origin="https://evil.example") == 1008
    assert await _close_code(ws_url(proc, drops="not-a-uuid")) == 4400
    assert await _close_code(ws_url(proc, since="-3")) == 4400
    async with (websockets.connect(url, origin="https://shop.example") as first,
                websockets.connect(url) as second):
        assert await _close_code(url) == 4429
        await first.send("ping")
        assert await first.recv() == "pong"
        await second.send("ping")
        assert await second.recv() == "pong"
    await metric_is(proc, "stampede_notifier_connections", 0)  # their slots are free again
    async with websockets.connect(url) as again:
        await again.send("ping")
        assert await again.recv() == "pong"
    assert await metric(proc, "stampede_notifier_connections_rejected_total") >= 1


async def test_a_peer_that_never_answers_pings_is_closed_with_1011(feed, notifier):
    proc = await notifier(WS_PING_INTERVAL_S="0.3", WS_PING_TIMEOUT_S="0.3",
                          SLOW_CLOSE_TIMEOUT_S="1")
    reader, writer = await asyncio.open_connection("127.0.0.1", proc.port)
    writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    async with asyncio.timeout(10):
        rest = await reader.read()  # until the server ends the connection
    writer.close()
    ping, close = rest[:2 + rest[1]], rest[2 + rest[1]:]
    assert ping[0] == 0x89  # the keepalive ping, never answered
    assert close[0] == 0x88 and int.from_bytes(close[2:4]) == 1011
    async with asyncio.timeout(5):
        while await metric(proc, "stampede_notifier_connections") > 0:
            await asyncio.sleep(0.1)
