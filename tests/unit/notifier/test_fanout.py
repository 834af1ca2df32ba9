"""``write_all``: the same bytes to many sockets; a socket that does not take them whole
is reported (index, bytes written) and the others are written all the same."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from stampede_notifier.adapters.fanout import write_all


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    made = [socket.socketpair() for _ in range(6)]
    for ours, peer in made:
        ours.setblocking(False)
        peer.setblocking(False)
    yield made
    for ours, peer in made:
        ours.close()
        peer.close()


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def fill(sock: socket.socket) -> None:
    """Fill ``sock``'s send buffer (its peer reads nothing)."""
    while True:
        try:
            sock.send(b"x" * 65536)
        except BlockingIOError:
            return


def test_every_socket_gets_the_payload(pairs):
    assert write_all([ours.fileno() for ours, _ in pairs], b"frame") == []
    assert [read_all(peer) for _, peer in pairs] == [b"frame"] * len(pairs)


def test_a_full_socket_and_a_broken_one_stop_nothing(pairs):
    fill(pairs[1][0])
    pairs[4][1].close()  # the peer is gone: EPIPE
    failed = write_all([ours.fileno() for ours, _ in pairs], b"frame")
    assert failed == [(1, 0), (4, 0)]
    for i in (0, 2, 3, 5):
        assert read_all(pairs[i][1]) == b"frame"


def test_a_partial_write_says_how_much_went(pairs):
    ours, peer = pairs[0]
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = b"y" * 4_000_000
    [(index, written)] = write_all([ours.fileno()], big)
    assert index == 0 and 0 < written < len(big)
    assert len(read_all(peer)) == written
