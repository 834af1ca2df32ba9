"""The client side of ``bench.notifier_fanout``: many WebSocket connections per child
process, read by a minimal reader on ``asyncio.Protocol`` (handshake, then server frames
recorded with their receipt time and decoded only when the figures are asked for, so the
clients, which share the cores with the notifier, cost as little CPU as possible), and
the /proc readers the bench uses for CPU time and memory."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import struct
import time
from datetime import datetime
from pathlib import Path
from typing import Any


class _Reader(asyncio.Protocol):
    """One WebSocket connection: handshake, then unmasked server frames."""

    def __init__(self, key: str, path: str, host: str,
                 received: list[tuple[float, bytes]]) -> None:
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self._buffer = b""
        self._upgraded = False
        self._received = received
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed before upgrade"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self._buffer = self._buffer[:end], self._buffer[end + 4:]
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.opened.set_exception(ConnectionError(head[:80].decode(errors="replace")))
                return
            self._upgraded = True
            self.opened.set_result(None)
        self._frames(now)

    def _frames(self, now: float) -> None:
        buf = self._buffer
        while len(buf) >= 2:
            opcode, length, start = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    break
                length, start = struct.unpack(">H", buf[2:4])[0], 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length, start = struct.unpack(">Q", buf[2:10])[0], 10
            if len(buf) < start + length:
                break
            payload, buf = buf[start:start + length], buf[start + length:]
            if opcode == 0x1:
                self._on_text(payload, now)
            elif opcode == 0x9:  # ping -> pong (client frames are masked)
                self._send(0xA, payload)
            elif opcode == 0x8 and self.transport is not None:
                self.transport.close()
        self._buffer = buf

    def _on_text(self, payload: bytes, now: float) -> None:
        # The receipt time is taken in data_received; decoding the message waits for
        # the report (_delays_of), so the clients, which share the cores with the
        # notifier, spend as little CPU as possible while the events go by.
        self._received.append((now, payload))

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or len(payload) > 125:
            return
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)


def cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds spent not idle by the whole machine (every process, every core)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _delays_of(received: list[tuple[float, bytes]]) -> list[float]:
    """Receipt time minus ``data.occurred_at``, for each STOCK_UPDATED received."""
    delays = []
    for now, payload in received:
        message = json.loads(payload)
        if message.get("type") == "STOCK_UPDATED":
            occurred = datetime.fromisoformat(message["data"]["occurred_at"].replace("Z",
                                                                                      "+00:00"))
            delays.append(now - occurred.timestamp())
    return delays


def rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _client_main(conn: Any, port: int, path: str, count: int) -> None:
    loop = asyncio.get_running_loop()
    received: list[tuple[float, bytes]] = []
    readers: list[_Reader] = []
    gate = asyncio.Semaphore(100)
    rss_before = rss_kib()

    async def open_one() -> None:
        async with gate:
            key = base64.b64encode(os.urandom(16)).decode()
            _, reader = await loop.create_connection(
                lambda: _Reader(key, path, f"127.0.0.1:{port}", received), "127.0.0.1", port)
            await asyncio.wait_for(reader.opened, 30)
            readers.append(reader)

    results = await asyncio.gather(*(open_one() for _ in range(count)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    conn.send(("connected", len(readers), repr(failures[0]) if failures else "",
               rss_kib() - rss_before))
    await loop.run_in_executor(None, conn.recv)  # "report"
    conn.send(("delays", _delays_of(received)))
    await loop.run_in_executor(None, conn.recv)  # "close"
    for reader in readers:
        if reader.transport is not None:
            reader.transport.close()
    await asyncio.sleep(0.2)


def client_process(conn: Any, port: int, path: str, count: int) -> None:
    raise_fd_limit(count + 100)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_client_main(conn, port, path, count))


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, wanted))
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
