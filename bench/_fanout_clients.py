"""The client side of ``bench.notifier_fanout``: many WebSocket connections per child
process, and the /proc readers the bench uses for CPU time and memory.

A client process opens its connections (the HTTP upgrade on raw non-blocking sockets,
under asyncio), then reads them all from one plain ``epoll`` loop: one ``recvmsg`` per
readable socket, the bytes kept with two times and decoded only when the figures are
asked for, so the clients, which share the machine's cores with the notifier, spend as
little CPU as they can. The two times of each read:

- ``kernel``: when the data reached the client's socket (``SO_TIMESTAMPNS``, stamped by
  the kernel on receipt; on loopback that is when the notifier's write delivered it),
  which a busy client process does not delay;
- ``read``: when the client process read it (``time.time()``), which includes the
  client's own lag behind its sockets.

A message's delay is each of these minus its ``data.occurred_at`` (the decision's time).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import select
import socket
import struct
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

TIMESPEC = struct.Struct("@ll")
#: Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS), which Python's socket module does not name.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
ANCILLARY = socket.CMSG_SPACE(TIMESPEC.size)


@dataclass
class Stream:
    """What one connection received: (kernel time, read time, bytes) per read."""

    sock: socket.socket
    reads: list[tuple[float, float, bytes]] = field(default_factory=list)


async def _open(port: int, path: str) -> Stream:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(sock, (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            head += chunk
    except BaseException:
        sock.close()
        raise
    status, rest = head.split(b"\r\n", 1)[0], head.split(b"\r\n\r\n", 1)[1]
    if b" 101 " not in status:
        sock.close()
        raise ConnectionError(status.decode(errors="replace"))
    stream = Stream(sock)
    if rest:  # frames already sent after the response (a replay)
        stream.reads.append((time.time(), time.time(), rest))
    return stream


async def _open_all(ports: list[int], path: str, count: int) -> tuple[list[Stream], str]:
    gate = asyncio.Semaphore(64)

    async def one(i: int) -> Stream:
        async with gate:
            return await asyncio.wait_for(_open(ports[i % len(ports)], path), 60)

    results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
    streams = [r for r in results if isinstance(r, Stream)]
    failures = [r for r in results if not isinstance(r, Stream)]
    return streams, repr(failures[0]) if failures else ""


def _read_until(streams: list[Stream], control: Any) -> None:
    """Read every socket until the parent writes to ``control``."""
    poller = select.epoll(len(streams) + 1)
    by_fd = {s.sock.fileno(): s for s in streams}
    for fd in by_fd:
        poller.register(fd, select.EPOLLIN)
    poller.register(control.fileno(), select.EPOLLIN)
    stop = control.fileno()
    clock = time.time
    try:
        while True:
            for fd, _ in poller.poll(1.0):
                if fd == stop:
                    return
                stream = by_fd[fd]
                try:
                    data, ancillary, _, _ = stream.sock.recvmsg(65536, ANCILLARY)
                except BlockingIOError:
                    continue
                except OSError:
                    data, ancillary = b"", []
                if not data:
                    poller.unregister(fd)
                    continue
                kernel = clock()
                for level, kind, value in ancillary:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        sec, nsec = TIMESPEC.unpack(value[:TIMESPEC.size])
                        kernel = sec + nsec / 1e9
                stream.reads.append((kernel, clock(), data))
    finally:
        poller.close()


def delays_of(streams: list[Stream]) -> list[tuple[float, float]]:
    """(kernel delay, read delay) of every STOCK_UPDATED received, each frame timed by
    the read that completed it."""
    out = []
    for stream in streams:
        buffer, times = b"", (0.0, 0.0)
        for kernel, read, data in stream.reads:
            buffer += data
            times = (kernel, read)
            while len(buffer) >= 2:
                opcode, size, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
                if size == 126:
                    size, start = struct.unpack("!H", buffer[2:4])[0], 4
                elif size == 127:
                    size, start = struct.unpack("!Q", buffer[2:10])[0], 10
                if len(buffer) < start + size:
                    break
                payload, buffer = buffer[start:start + size], buffer[start + size:]
                if opcode == 0x1:
                    message = json.loads(payload)
                    if message.get("type") == "STOCK_UPDATED":
                        occurred = datetime.fromisoformat(
                            message["data"]["occurred_at"].replace("Z", "+00:00")).timestamp()
                        out.append((times[0] - occurred, times[1] - occurred))
    return out


def client_process(control: Any, ports: list[int], path: str, count: int) -> None:
    """One client process: ``count`` connections spread over ``ports``; reports
    ("connected", n, first failure, RSS KiB of the connections) then, when asked,
    ("delays", [(kernel, read), ...])."""
    raise_fd_limit(count + 100)
    rss_before = rss_kib()
    streams, failure = asyncio.run(_open_all(ports, path, count))
    control.send(("connected", len(streams), failure, rss_kib() - rss_before))
    _read_until(streams, control)
    control.recv()  # "report"
    control.send(("delays", delays_of(streams)))
    control.recv()  # "close"
    for stream in streams:
        stream.sock.close()


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


def rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def raise_fd_limit(wanted: int) -> None:
    """Soft limit up to ``wanted``; the hard one too when allowed (root), so that the
    processes this one starts (notifiers, clients) inherit room for their sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if wanted > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return
        except (ValueError, OSError):
            wanted = hard
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
