"""One WebSocket client: its outbox, its own sender task, its receive loop.

The sender task is the only writer to the socket, so a client whose socket is
full blocks nobody but itself; the hub sees its outbox overflow and kicks it.
Kicking cancels the sender and closes with the code given, waiting at most
``close_timeout_s`` for the close frame to get through; a client that still reads
nothing by then has its TCP connection aborted.

Clients may send the text ``ping`` (browsers cannot send protocol pings); they
get ``pong``. Protocol-level pings are uvicorn's (``WS_PING_INTERVAL_S``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import metrics
from ..domain.messages import Message
from ..domain.outbox import Outbox
from .direct import DirectWriter, WriteBatch

log = logging.getLogger(__name__)


class WebSocketClient:
    def __init__(self, websocket: WebSocket, ip: str, *, capacity: int,
                 close_timeout_s: float, direct: bool = True,
                 batch: WriteBatch | None = None) -> None:
        self.ws = websocket
        self.ip = ip
        self.outbox = Outbox(capacity)
        self._close_timeout_s = close_timeout_s
        self._ready = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self.close_code: int | None = None
        self._in_flight = False
        self._direct = DirectWriter.of(websocket, batch) if direct else None

    def __hash__(self) -> int:
        return id(self)

    def push(self, messages: list[Message]) -> int | None:
        """Write at once when the socket takes it (see ``direct``), else queue for the
        sender task. The number written at once, or None when the queue overflowed."""
        outbox, direct = self.outbox, self._direct
        if (direct is not None and not outbox.queue and not self._in_flight
                and self.close_code is None):
            sent = direct.push(messages, outbox)
            if sent is not None:
                return sent
        if all(outbox.offer(m) for m in messages):
            self._ready.set()
            return 0
        return None

    def wake(self) -> None:
        self._ready.set()

    def kick(self, code: int, reason: str) -> None:
        if self.close_code is not None:
            return
        self.close_code = code
        if self._sender is not None:
            self._sender.cancel()
        self._closer = asyncio.create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(self._close_timeout_s):
                await self.ws.close(code, reason)
        except TimeoutError:
            # the peer reads nothing: its buffers are full and the close frame waits
            # behind them; without this it could hold the connection forever
            # (zero-window probes are answered).
            if self._direct is not None:
                self._direct.abort()
        except Exception as exc:  # the connection went away meanwhile
            log.debug("close failed: %r", exc)

    async def run(self) -> None:
        """Serve until the client goes or is kicked."""
        self._sender = asyncio.create_task(self._pump())
        try:
            await self._receive()
        finally:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sender
            if self._closer is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._closer

    async def _pump(self) -> None:
        ready, outbox, send = self._ready, self.outbox, self.ws.send_text
        try:
            while True:
                text = outbox.take()
                if text is None:
                    ready.clear()
                    await ready.wait()
                    continue
                self._in_flight = True
                await send(text)
                self._in_flight = False
                metrics.messages_sent.inc()
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the connection is gone; the receive loop notices too

    async def _receive(self) -> None:
        while self.close_code is None:
            try:
                message = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "ping":
                self.outbox.put_text("pong")
                self.wake()
        # kicked: wait (bounded) for the close handshake to finish
        if self._closer is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._closer
