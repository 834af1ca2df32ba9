"""One client's WebSocket, from the upgrade on, owned by the notifier.

uvicorn parses the HTTP request and, on ``Upgrade: websocket``, hands the connection
to the class its ``ws`` option names: this one (``main.uvicorn_options``). Past the
handshake (websockets' sans-I/O ``ServerProtocol``, then dropped) a connection is a
few slots: its transport, its socket's descriptor for the fan-out's direct writes
(``fanout.write_all``), its state. No task, no queue, no ASGI cycle
per connection: that is what keeps a connection to a few KiB and a message to one
``write`` per socket.

Writes, in order on the socket:

- the hub's shared fan-out writes straight to the descriptor, only while the
  transport holds nothing (``paused`` is false; the write buffer limits are 0, so
  uvloop calls ``pause_writing`` as soon as it buffers a byte and ``resume_writing``
  once it has written everything);
- everything else (handshake, replay, control frames, what a full socket did not take)
  goes through the transport, which writes at once when it can and buffers the rest.

While paused, the client is held: the hub sends it its messages one at a time and
counts them; past ``capacity`` waiting, it is kicked with 4008. A kick sends the close
frame after what is buffered and aborts the TCP connection if the close handshake has
not finished within ``close_timeout_s`` (a peer that reads nothing would otherwise hold
its buffers forever).

Clients may send the text ``ping`` (browsers cannot send protocol pings); they get
``pong``. ``keep_alive`` pings every connection and closes with 1011 one that has not
answered (any frame counts) within the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from websockets.http11 import Request
from websockets.server import ServerProtocol

from ..domain.catchup import Seen
from ..service import CloseCode, Hub, Since
from .frames import (
    CLOSE,
    PING,
    PING_FRAME,
    PONG_TEXT_FRAME,
    TEXT,
    FrameError,
    close_code_of,
    close_frame,
    pong_frame,
    read_frames,
)

#: websockets' handshake logs every connection opened at INFO: too loud at 20,000.
handshake_log = logging.getLogger(f"{__name__}.handshake")
handshake_log.setLevel(logging.WARNING)

PATH = "/ws"


@dataclass(frozen=True, slots=True)
class Admitted:
    drops: frozenset[UUID] | None
    since: Since


@dataclass(frozen=True, slots=True)
class Refused:
    code: int
    reason: str


Door = Callable[[str, str | None, str], Admitted | Refused]
"""(request target, Origin header, client IP) -> the decision (``api.Door``)."""


@dataclass(frozen=True, slots=True)
class Limits:
    capacity: int
    """Messages that may wait for one client while its socket is backed up."""
    close_timeout_s: float
    max_message_bytes: int


class State(Enum):
    HANDSHAKE = 0
    OPEN = 1
    CLOSING = 2  # close frame sent (or refused at the door); waiting for the peer
    CLOSED = 3


class WebSocketConnection(asyncio.Protocol):
    __slots__ = ("_admitted", "_buffer", "_closer", "_connections", "_door", "_handshake",
                 "_hub", "_limits", "_state", "ip", "key", "paused", "pong_due",
                 "seen", "transport", "waiting")

    def __init__(self, config: Any = None, server_state: Any = None, app_state: Any = None,
                 *, hub: Hub, door: Door, limits: Limits) -> None:
        self._hub = hub
        self._door = door
        self._limits = limits
        self._connections: set[Any] = server_state.connections if server_state else set()
        self.transport: Any = None
        self._handshake: ServerProtocol | None = ServerProtocol(
            max_size=limits.max_message_bytes, logger=handshake_log)
        self._buffer = bytearray()
        self._state = State.HANDSHAKE
        self._admitted = False
        self._closer: asyncio.TimerHandle | None = None
        self.key = -1
        self.ip = "?"
        self.paused = False
        self.waiting = 0
        self.seen: Seen | None = None
        self.pong_due: float | None = None

    def __hash__(self) -> int:
        return id(self)

    # -- asyncio.Protocol ------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._connections.add(self)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.ip = peer[0] if peer else "?"
        # 0/0: paused as soon as the transport buffers a byte, resumed once it is empty
        # (uvloop's transports are no asyncio.WriteTransport instances, hence no check)
        transport.set_write_buffer_limits(high=0, low=0)  # type: ignore[attr-defined]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._state is State.HANDSHAKE:
            if self._handshake is not None:
                self._shake_hands()
            return  # frames sent right after the handshake wait for _open
        if self._state is State.CLOSED:
            return
        try:
            frames = read_frames(self._buffer, self._limits.max_message_bytes)
        except FrameError as exc:
            self._buffer.clear()
            self.kick(exc.code, exc.reason)
            return
        self.pong_due = None  # any frame shows the peer is alive
        for opcode, payload in frames:
            if opcode == TEXT and payload == b"ping":
                self._send_control(PONG_TEXT_FRAME)
            elif opcode == PING:
                self._send_control(pong_frame(payload))
            elif opcode == CLOSE:
                self._peer_closed(close_code_of(payload))
                return

    def eof_received(self) -> bool | None:
        self._leave()
        return None  # the transport closes itself

    def pause_writing(self) -> None:
        self.paused = True
        self.waiting = 0
        if self._state is State.OPEN:
            self._hub.hold(self)

    def resume_writing(self) -> None:
        self.paused = False
        self.waiting = 0
        if self._state is State.OPEN:
            self._hub.resume(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._leave()
        self._state = State.CLOSED
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        self.key = -1
        self._connections.discard(self)

    # -- for the hub (service.Connection) -----------------------------------------
    def send(self, payload: bytes, count: int) -> bool:
        if self._state is not State.OPEN:
            return True  # on its way out: nothing more to send
        if self.paused:
            self.waiting += count
            if self.waiting > self._limits.capacity:
                return False
        self.transport.write(payload)
        return True

    def kick(self, code: int, reason: str) -> None:
        if self._state is not State.OPEN:
            return
        self._leave()
        self._state = State.CLOSING
        self.transport.write(close_frame(code, reason))
        self._closer = asyncio.get_running_loop().call_later(
            self._limits.close_timeout_s, self._abort)

    # -- for uvicorn and the keepalive ------------------------------------------------
    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: clients reconnect elsewhere with since=."""
        if self._state is State.HANDSHAKE:
            self.transport.close()
        self.kick(CloseCode.RESTARTING, "notifier restarting: reconnect with since=")

    def keepalive(self, now: float, timeout_s: float) -> None:
        if self._state is not State.OPEN:
            return
        if self.pong_due is None:
            self.pong_due = now
            self.transport.write(PING_FRAME)
        elif now - self.pong_due >= timeout_s:
            self.kick(CloseCode.PING_TIMEOUT, "keepalive ping timeout")

    # -- internals ------------------------------------------------------------------
    def _shake_hands(self) -> None:
        handshake = self._handshake
        assert handshake is not None
        handshake.receive_data(bytes(self._buffer))
        self._buffer.clear()
        requests = handshake.events_received()
        if not requests:
            if handshake.handshake_exc is not None:  # not an HTTP request at all
                self.transport.close()
            return
        request = requests[0]
        assert isinstance(request, Request)  # a server receives requests
        response = handshake.accept(request)  # validates the upgrade headers
        if response.status_code == 101 and urlsplit(request.path).path != PATH:
            response = handshake.reject(404, "Not Found\n")
        handshake.send_response(response)
        self.transport.write(b"".join(handshake.data_to_send()))
        self._handshake = None
        if response.status_code != 101:
            self._state = State.CLOSED
            self.transport.close()
            return
        # uvicorn gives the transport to this protocol (set_protocol) only when this
        # call returns: until then the transport's flow-control callbacks would reach
        # the HTTP protocol, so nothing more is written before then.
        asyncio.get_running_loop().call_soon(self._open, request.path,
                                             request.headers.get("Origin"))

    def _open(self, target: str, origin: str | None) -> None:
        if self._state is not State.HANDSHAKE or self.transport.is_closing():
            return
        self._state = State.OPEN
        decision = self._door(target, origin, self.ip)
        if isinstance(decision, Refused):
            self.kick(decision.code, decision.reason)
            return
        self._admitted = True
        self.key = self.transport.get_extra_info("socket").fileno()
        self.paused = self.transport.get_write_buffer_size() > 0
        self._hub.connect(self, decision.drops, decision.since)
        if self._buffer:
            self.data_received(b"")

    def _send_control(self, frame: bytes) -> None:
        if self._state is State.OPEN:
            self.transport.write(frame)

    def _peer_closed(self, code: int | None) -> None:
        if self._state is State.OPEN:
            self._leave()
            self.transport.write(close_frame(code if code is not None and _echoable(code)
                                              else 1000))
        self._state = State.CLOSED
        self.transport.close()

    def _leave(self) -> None:
        """Out of every room, and the admission slot back: nothing is sent any more."""
        if self._admitted:
            self._admitted = False
            self._hub.disconnect(self)
            self._hub.release(self.ip)

    def _abort(self) -> None:
        self._closer = None
        if self._state is not State.CLOSED:
            self.transport.abort()


def _echoable(code: int) -> bool:
    """A code a close frame may carry (RFC 6455 7.4), so it is echoed back."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code < 5000


async def keep_alive(hub: Hub, interval_s: float, timeout_s: float) -> None:
    """Ping every connection each ``interval_s``; close those that have not answered
    within ``timeout_s`` (checked at the next round)."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval_s)
        now = loop.time()
        for conn in hub.rooms.clients():
            if isinstance(conn, WebSocketConnection):
                with contextlib.suppress(Exception):
                    conn.keepalive(now, timeout_s)
