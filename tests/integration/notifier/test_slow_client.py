"""A client that never reads delays nobody, and is dropped with 4008, while the others
are served by the shared write (one payload per tick to every ready socket)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from .conftest import known, metric, metric_is, purchase, receive_until, ws_url

pytestmark = pytest.mark.integration


def tiny_socket(port: int) -> socket.socket:
    """A connected socket with a small receive buffer, so a non-reader stalls soon."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


async def test_slow_client_is_isolated_and_dropped(feed, notifier):
    proc = await notifier(CLIENT_QUEUE_SIZE="256", SLOW_CLOSE_TIMEOUT_S="6")
    drop = await feed.new_drop(100)
    await known(proc, drop)  # its creation is not one of the messages counted below
    url = ws_url(proc, drops=drop.drop_id)
    slow = await websockets.connect(url, sock=tiny_socket(proc.port), max_queue=1)
    # and one that never reads at all: aborted once the close frame cannot get through
    stuck = await websockets.connect(url, sock=tiny_socket(proc.port), max_queue=1)
    try:
        async with websockets.connect(url) as fast:
            await metric_is(proc, "stampede_notifier_connections", 3)  # all three joined
            name = "x" * 64
            started = time.monotonic()
            reader = asyncio.create_task(
                receive_until(fast, lambda g: len(g) >= 12_000, timeout_s=60))
            # 6,000 purchases: 12,000 messages, about 4.4 MB, more than the kernel
            # buffers of a stalled loopback connection hold
            for _ in range(30):
                await drop.send(*(purchase(name) for _ in range(200)))
                await asyncio.sleep(0.02)
            got = await reader
            fast_s = time.monotonic() - started
            seqs = [m["seq"] for m in got]
            assert len(got) == 12_000 and seqs == sorted(set(seqs))  # rising, none twice
        async with asyncio.timeout(10):
            while await metric(proc, "stampede_notifier_slow_clients_dropped_total") < 2:
                await asyncio.sleep(0.1)
        # the slow one now reads what was buffered for it, then the close frame
        count = 0
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(20):
                while True:
                    await slow.recv()
                    count += 1
        assert count < 12_000
        assert slow.close_code == 4008
        async with asyncio.timeout(15):  # the stuck one is aborted after 6 s
            while await metric(proc, "stampede_notifier_connections") > 0:
                await asyncio.sleep(0.2)
        assert fast_s < 10  # the stalled client held nobody back
        # the fast client was served by the shared write, not one message at a time
        assert await metric(proc, "stampede_notifier_direct_writes_total") >= 30
        print(f"fast client: 12,000 messages in {fast_s:.1f} s; "
              f"slow one read {count}, close code {slow.close_code}")
    finally:
        await slow.close()
        stuck.transport.abort()
