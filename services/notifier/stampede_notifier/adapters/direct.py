"""The fan-out fast path: a message's frame, built once, written straight to a socket.

Going through ASGI costs tens of microseconds per client and message (Starlette,
uvicorn, the websockets protocol framing the same bytes again for each client,
a task switch); with thousands of clients that is the whole latency budget. A
server-to-client text frame is the same bytes for everyone (no mask, no
compression: per-message deflate is off), so, like ``websockets.broadcast``,
the notifier writes it to the connection's transport directly when that is
safe, and falls back to the ASGI path (the client's queue and sender task)
otherwise:

- the connection is open (no close frame sent or received) and its transport is
  not closing;
- the transport's write buffer is below ``HIGH_WATER`` (a client that does not
  keep up goes through its bounded queue, and overflows it);
- nothing is queued or being sent for that client (order is kept).

It needs to see uvicorn's protocol object behind the ASGI ``send`` callable, which
``ServerSendMiddleware`` keeps in the scope (both uvicorn ``websockets``
implementations qualify). Anything else (another
server, a test client) gets ``None`` and only the ASGI path.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from ..domain.messages import Message
from ..domain.outbox import Outbox

HIGH_WATER = 64 * 1024
SCOPE_KEY = "stampede.server_send"


class ServerSendMiddleware:
    """Keeps the server's own ``send`` in the scope of WebSocket connections (inner
    layers wrap it in closures, hiding the protocol object behind it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SCOPE_KEY] = send
        await self.app(scope, receive, send)


class DirectWriter:
    """One connection's fast path. ``push`` is the whole per-socket cost of a fan-out
    besides the write itself, so it is kept to one Python call: with 5,000 clients
    every microsecond here is 5 ms on the last client's delay."""

    __slots__ = ("_batch", "_fd", "_open", "_protocol", "_state_owner", "_transport")

    def __init__(self, protocol: Any, transport: Any, batch: WriteBatch | None = None) -> None:
        self._protocol = protocol
        self._transport = transport
        self._batch = batch
        sock = transport.get_extra_info("socket") if batch is not None else None
        self._fd: int = sock.fileno() if sock is not None else -1
        # websockets-sansio keeps its websockets.ServerProtocol as .conn; the legacy
        # implementation *is* the websockets protocol. Both expose .state, a member of
        # their own State enum: compared by identity with that enum's OPEN.
        self._state_owner = getattr(protocol, "conn", protocol)
        self._open = _open_state(self._state_owner)

    @classmethod
    def of(cls, websocket: WebSocket, batch: WriteBatch | None = None) -> DirectWriter | None:
        send = websocket.scope.get(SCOPE_KEY)
        protocol = getattr(send, "__self__", None)
        transport = getattr(protocol, "transport", None)
        if protocol is None or transport is None:
            return None
        if not type(protocol).__module__.startswith("uvicorn.protocols.websockets"):
            return None
        needed = ("write", "is_closing", "get_write_buffer_size")
        if not all(hasattr(transport, name) for name in needed):
            return None
        if _open_state(getattr(protocol, "conn", protocol)) is None:
            return None
        if getattr(protocol, "extensions", None) or getattr(
            getattr(protocol, "conn", None), "extensions", None
        ):
            return None  # a negotiated extension (compression) changes the frames
        return cls(protocol, transport, batch)

    def push(self, messages: list[Message], outbox: Outbox) -> int | None:
        """Write the frames of ``messages`` new to this client (by ``outbox``'s seqs,
        which it updates, as ``Outbox.admit``) in one write, if the socket takes them
        now: the connection is open and its write buffer below ``HIGH_WATER``. The
        number written, or None (nothing done) when it does not. The caller checks
        that nothing is queued or in flight for the client."""
        transport = self._transport
        if (self._state_owner.state is not self._open
                or getattr(self._protocol, "close_sent", False)
                or transport.is_closing()
                or transport.get_write_buffer_size() >= HIGH_WATER):
            return None
        last_seqs = outbox.last_seqs
        if len(messages) == 1:  # the usual case: one frame, no copy
            message = messages[0]
            if message.seq <= last_seqs.get(message.drop_id, 0):
                return 0
            last_seqs[message.drop_id] = message.seq
            self._write(message.frame)
            return 1
        frames = []
        for message in messages:
            if message.seq > last_seqs.get(message.drop_id, 0):
                last_seqs[message.drop_id] = message.seq
                frames.append(message.frame)
        if frames:
            self._write(b"".join(frames))  # one syscall, not one per message
        return len(frames)

    def _write(self, payload: bytes) -> None:
        batch = self._batch
        if batch is not None and batch.collecting and self._fd >= 0:
            batch.items.append((self, payload))
        else:
            self._transport.write(payload)

    def abort(self) -> None:
        """Drop the TCP connection now (a peer that reads nothing never gets a close frame)."""
        self._transport.abort()


def _open_state(state_owner: Any) -> Any:
    """The OPEN member of the enum ``state_owner.state`` belongs to (None if there is none)."""
    state = getattr(state_owner, "state", None)
    return getattr(type(state), "OPEN", None) if state is not None else None


class WriteBatch:
    """The writes of one fan-out, done together at its end, from up to two threads.

    Between ``begin`` and ``flush`` (both on the event loop's thread, with no await
    between them, so nothing else writes to these transports meanwhile), a writer
    whose transport is empty queues its payload here instead of writing it.
    ``flush`` writes the payloads with ``os.write`` on the raw non-blocking sockets
    (cheaper than the transport's ``write`` for a socket with nothing buffered: the
    syscall, with the loopback delivery it performs, is most of a fan-out's cost),
    half of them from a worker thread when there are at least ``min_split`` (the GIL
    is released during the syscall, so the kernel's work runs on both cores); then,
    from the loop's thread, it gives what a socket did not take whole (a partial
    write, EAGAIN, an error) to that socket's transport, which buffers it or reports
    the broken connection. Each socket gets at most one payload per fan-out, written
    by one thread, so per-socket order holds.
    """

    def __init__(self, threads: int = 2, min_split: int = 512) -> None:
        self.collecting = False
        self.items: list[tuple[DirectWriter, bytes]] = []
        self._min_split = min_split
        self._pool = (ThreadPoolExecutor(threads - 1, thread_name_prefix="fanout")
                      if threads > 1 else None)

    def begin(self) -> None:
        self.collecting = True

    def flush(self) -> None:
        self.collecting = False
        items, self.items = self.items, []
        if not items:
            return
        if self._pool is None or len(items) < self._min_split:
            rest = _write_raw(items)
        else:
            half = len(items) // 2
            other = self._pool.submit(_write_raw, items[half:])
            try:
                rest = _write_raw(items[:half])
            finally:
                rest_other = other.result()  # never leave the worker writing alone
            rest += rest_other
        for writer, payload in rest:
            writer._transport.write(payload)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _write_raw(items: list[tuple[DirectWriter, bytes]]) -> list[tuple[DirectWriter, bytes]]:
    """Write each payload to its socket; return what was not written whole, for the
    transport (which also reports a broken connection)."""
    rest = []
    write = os.write
    for writer, payload in items:
        try:
            written = write(writer._fd, payload)
        except OSError:  # EAGAIN, or a broken connection the transport will report
            written = 0
        if written < len(payload):
            rest.append((writer, payload[written:] if written else payload))
    return rest
