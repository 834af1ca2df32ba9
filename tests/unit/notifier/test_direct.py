"""The fan-out fast path's batched writes (adapters/direct.py): raw writes from one
or two threads, what a socket does not take going to its transport, in order."""

from __future__ import annotations

import socket
from enum import Enum
from typing import Any
from uuid import uuid4

import pytest
from stampede_notifier.adapters.direct import DirectWriter, WriteBatch
from stampede_notifier.domain.messages import Message, MessageType
from stampede_notifier.domain.outbox import Outbox


class State(Enum):
    OPEN = 1
    CLOSED = 2


class FakeTransport:
    """Stands for uvloop's transport: the socket, and what was given to ``write``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.written: list[bytes] = []

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return sum(map(len, self.written))


class FakeProtocol:
    def __init__(self) -> None:
        self.state = State.OPEN
        self.close_sent = None


def _pair(batch: WriteBatch) -> tuple[DirectWriter, FakeTransport, socket.socket]:
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.setblocking(False)
    transport = FakeTransport(ours)
    return DirectWriter(FakeProtocol(), transport, batch), transport, peer


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


@pytest.mark.parametrize(("threads", "min_split"), [(1, 512), (2, 1), (2, 512)])
def test_every_socket_gets_the_frame_once(threads: int, min_split: int) -> None:
    batch = WriteBatch(threads, min_split)
    pairs = [_pair(batch) for _ in range(50)]
    drop = uuid4()
    message = Message(MessageType.STOCK_UPDATED, drop, 10, {"available_stock": 1})
    try:
        batch.begin()
        for writer, _, _ in pairs:
            assert writer.push([message], Outbox(10)) == 1
        assert len(batch.items) == 50  # nothing written yet
        batch.flush()
        for _, transport, peer in pairs:
            assert _read_all(peer) == message.frame
            assert transport.written == []
    finally:
        batch.close()
        for _, transport, peer in pairs:
            transport.sock.close()
            peer.close()


def test_what_the_socket_does_not_take_goes_to_the_transport_in_order() -> None:
    batch = WriteBatch(2, 1)
    writer, transport, peer = _pair(batch)
    others = [_pair(batch) for _ in range(3)]
    drop = uuid4()
    big = Message(MessageType.STOCK_UPDATED, drop, 10, {"pad": "x" * 4_000_000})
    small = Message(MessageType.STOCK_UPDATED, drop, 11, {"available_stock": 1})
    try:
        batch.begin()
        writer.push([big], Outbox(10))
        for other, _, _ in others:
            other.push([small], Outbox(10))
        batch.flush()
        # the socket took part of the frame; the rest went to the transport, whole
        assert len(transport.written) == 1
        received = _read_all(peer)
        assert 0 < len(received) < len(big.frame)
        assert received + transport.written[0] == big.frame
        # a socket with something buffered is written by the transport (order kept)
        outbox = Outbox(10)
        outbox.admit(big)
        batch.begin()
        assert writer.push([small], outbox) is None
        batch.flush()
        for _, other_transport, other_peer in others:
            assert _read_all(other_peer) == small.frame
            assert other_transport.written == []
    finally:
        batch.close()
        for _, t, p in [(writer, transport, peer), *others]:
            t.sock.close()
            p.close()


def test_outside_a_batch_the_transport_writes() -> None:
    batch = WriteBatch(2, 1)
    writer, transport, peer = _pair(batch)
    drop = uuid4()
    first = Message(MessageType.STOCK_UPDATED, drop, 10, {"available_stock": 2})
    second = Message(MessageType.STOCK_UPDATED, drop, 11, {"available_stock": 1})
    outbox = Outbox(10)
    try:
        assert writer.push([first, second], outbox) == 2
        assert transport.written == [first.frame + second.frame]  # one write
        assert writer.push([first], outbox) == 0  # seen already
        assert batch.items == []
    finally:
        batch.close()
        transport.sock.close()
        peer.close()
