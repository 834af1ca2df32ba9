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

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

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
    def __init__(self, protocol: Any, transport: Any) -> None:
        self._protocol = protocol
        self._transport = transport
        # websockets-sansio keeps its websockets.ServerProtocol as .conn; the legacy
        # implementation *is* the websockets protocol. Both expose .state.
        self._state_owner = getattr(protocol, "conn", protocol)

    @classmethod
    def of(cls, websocket: WebSocket) -> DirectWriter | None:
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
        if getattr(getattr(protocol, "conn", protocol), "state", None) is None:
            return None
        if getattr(protocol, "extensions", None) or getattr(
            getattr(protocol, "conn", None), "extensions", None
        ):
            return None  # a negotiated extension (compression) changes the frames
        return cls(protocol, transport)

    def writable(self) -> bool:
        transport = self._transport
        return (
            getattr(self._state_owner.state, "name", "") == "OPEN"
            and not getattr(self._protocol, "close_sent", False)
            and not transport.is_closing()
            and transport.get_write_buffer_size() < HIGH_WATER
        )

    def write(self, frame: bytes) -> None:
        self._transport.write(frame)

    def abort(self) -> None:
        """Drop the TCP connection now (a peer that reads nothing never gets a close frame)."""
        self._transport.abort()
