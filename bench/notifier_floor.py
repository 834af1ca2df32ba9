"""The kernel's floor under the notifier's fan-out: CPU per write of one message's frame
to each of N loopback TCP sockets, written by the notifier's own ``write_all`` from a
process that does nothing else, read by other processes.

``.venv/bin/python -m bench.notifier_floor [--clients 5000] [--rounds 20]``

On loopback the kernel does the receiving side's work (TCP receive, waking the reader)
in the writer's system call, so this is what one write costs the notifier before any
Python: ``bench.notifier_fanout`` prints its CPU per message against it.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import resource
import select
import socket
import time
import uuid
from typing import Any

from ._fanout_clients import raise_fd_limit


def _reader(port: int, count: int, expected: int, ready: Any) -> None:
    raise_fd_limit(count + 100)
    poller = select.epoll(count)
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        poller.register(sock.fileno(), select.EPOLLIN)
        socks.append(sock)
    ready.set()
    by_fd = {s.fileno(): s for s in socks}
    got, deadline = 0, time.monotonic() + 120
    while got < expected and time.monotonic() < deadline:
        for fd, _ in poller.poll(1.0):
            with contextlib.suppress(BlockingIOError):
                got += len(by_fd[fd].recv(65536))
    for sock in socks:
        sock.close()


def _writer(clients: int, rounds: int, interval: float, procs: int, result: Any) -> None:
    from stampede_notifier.adapters.fanout import write_all
    from stampede_notifier.domain.messages import Message, MessageType

    raise_fd_limit(clients + 100)
    frame = Message(MessageType.STOCK_UPDATED, uuid.uuid4(), 4_000_002, {
        "available_stock": 123_456, "total_stock": 1_000_000, "held": 0, "sold": 876_544,
        "occurred_at": "2026-11-30T07:00:00.000000Z"}).frame
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4096)
    port = server.getsockname()[1]
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    ready = [mp.get_context("spawn").Event() for _ in shares]
    readers = [mp.get_context("spawn").Process(
        target=_reader, args=(port, n, n * rounds * len(frame), ev), daemon=True)
        for n, ev in zip(shares, ready, strict=True)]
    for reader in readers:
        reader.start()
    conns: list[socket.socket] = []
    while len(conns) < clients:
        conn, _ = server.accept()
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append(conn)
    for event in ready:
        event.wait(120)
    fds = [c.fileno() for c in conns]
    spent = 0.0
    for _ in range(rounds):
        time.sleep(interval)
        before = resource.getrusage(resource.RUSAGE_SELF)
        write_all(fds, frame)
        after = resource.getrusage(resource.RUSAGE_SELF)
        spent += (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    for reader in readers:
        reader.join(60)
    result.send(1e6 * spent / (rounds * clients))


def floor_us_per_write(clients: int, rounds: int = 20, interval: float = 0.25,
                       procs: int = 2) -> float:
    """CPU µs the writing process spends per socket and message (user + system)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    writer = ctx.Process(target=_writer, args=(clients, rounds, interval, procs, child))
    writer.start()
    if not parent.poll(300):
        writer.kill()
        raise TimeoutError("the floor measurement did not finish in 300 s")
    value = float(parent.recv())
    writer.join(30)
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    raise_fd_limit(2 * args.clients + 1000)
    print(f"floor: {floor_us_per_write(args.clients, args.rounds):.1f} µs of CPU per "
          f"write, {args.clients} loopback sockets, {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
