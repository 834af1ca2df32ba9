"""The hub: events in, per-drop messages out to the rooms' clients.

It owns the drop book (state, dedupe, resume window), the coalescer (pacing per
drop, with its trailing flush timers) and the rooms, and admits connections
(total and per-IP limits). All of it runs on the event loop, without awaiting,
so a client joining sees its replay and then the live stream, with no gap and
no duplicate (the outbox filters by seq).

Fan-out only appends to each client's bounded outbox and wakes its sender task:
a slow client never slows the others. A client whose outbox overflows is kicked
with close code 4008 and may resume with ``since``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol
from uuid import UUID

from stampede_contracts import EventEnvelope, utcnow

from . import metrics
from .domain.coalescer import Coalescer
from .domain.drops import DropBook
from .domain.messages import Message
from .domain.outbox import Outbox
from .domain.rooms import Rooms


class CloseCode:
    """Close codes the notifier uses (besides the protocol's own, e.g. 1011 on a
    ping timeout and 1012 on restart)."""

    GOING_AWAY = 1001  # the notifier shuts down; reconnect with since=
    POLICY = 1008  # Origin not allowed
    TRY_AGAIN_LATER = 1013  # the notifier's connection limit is reached
    SLOW_CONSUMER = 4008  # the client's queue overflowed; reconnect with since=
    BAD_REQUEST = 4400  # malformed drops= or since=
    TOO_MANY_FROM_IP = 4429  # the per-IP connection limit is reached


class Connection(Protocol):
    outbox: Outbox
    ip: str

    def __hash__(self) -> int: ...

    def push(self, messages: list[Message]) -> int | None:
        """Write or queue ``messages`` (in order): how many were written at once, or
        None when the client's queue overflowed."""
        ...

    def kick(self, code: int, reason: str) -> None: ...


class Batch(Protocol):
    """Optional: writes made by ``push`` during one fan-out, done together at its end."""

    def begin(self) -> None: ...

    def flush(self) -> None: ...


Since = int | Mapping[UUID, int] | None
"""Resume point: one seq for every subscribed drop, one per drop, or none (live only)."""


class Hub:
    def __init__(
        self, *, window: int, stock_updates_per_second: float, max_connections: int,
        max_connections_per_ip: int, clock: Callable[[], float] | None = None,
        batch: Batch | None = None,
    ) -> None:
        self.batch = batch
        self.book = DropBook(window)
        self.coalescer = Coalescer(stock_updates_per_second)
        self.rooms: Rooms[Connection] = Rooms()
        self._max = max_connections
        self._max_per_ip = max_connections_per_ip
        self._per_ip: Counter[str] = Counter()
        self._clock = clock
        self._timers: dict[UUID, asyncio.TimerHandle] = {}

    # -- events ----------------------------------------------------------------
    def apply(self, envelopes: Iterable[EventEnvelope]) -> None:
        for envelope in envelopes:
            messages = self.book.apply(envelope)
            if messages is None:
                metrics.duplicate_events.inc()
                continue
            for message in messages:
                self._publish(message)

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def _publish(self, message: Message) -> None:
        before = self.coalescer.coalesced
        offer = self.coalescer.offer(message, self._now())
        if self.coalescer.coalesced > before:
            metrics.messages_coalesced.inc(self.coalescer.coalesced - before)
        if offer.send:
            self._broadcast(message.drop_id, offer.send)
        if offer.flush_at is not None:
            self._schedule_flush(message.drop_id, offer.flush_at)

    def _schedule_flush(self, drop_id: UUID, at: float) -> None:
        if drop_id in self._timers:
            return
        loop = asyncio.get_running_loop()
        self._timers[drop_id] = loop.call_at(at, self._flush, drop_id)

    def _flush(self, drop_id: UUID) -> None:
        self._timers.pop(drop_id, None)
        messages = self.coalescer.flush(drop_id, self._now())
        if messages:
            self._broadcast(drop_id, messages)

    def _broadcast(self, drop_id: UUID, messages: list[Message]) -> None:
        direct = 0
        batch = self.batch
        with metrics.fanout_seconds.time():
            if batch is not None:
                batch.begin()
            try:
                for conn in self.rooms.members(drop_id):
                    written = conn.push(messages)
                    if written is None:
                        self._drop_slow(conn)
                    else:
                        direct += written
            finally:
                if batch is not None:
                    batch.flush()
        if direct:
            metrics.messages_sent.inc(direct)
            metrics.direct_writes.inc(direct)

    def _drop_slow(self, conn: Connection) -> None:
        self.rooms.leave(conn)
        metrics.slow_clients_dropped.inc()
        conn.kick(CloseCode.SLOW_CONSUMER, "slow consumer: reconnect with since=<last seq>")

    # -- connections -------------------------------------------------------------
    def admit(self, ip: str) -> tuple[int, str] | None:
        """None when a connection from ``ip`` may open, else the close code and reason."""
        if sum(self._per_ip.values()) >= self._max:
            metrics.connections_rejected.labels(reason="limit").inc()
            return CloseCode.TRY_AGAIN_LATER, "too many connections"
        if self._per_ip[ip] >= self._max_per_ip:
            metrics.connections_rejected.labels(reason="ip_limit").inc()
            return CloseCode.TOO_MANY_FROM_IP, "too many connections from this address"
        self._per_ip[ip] += 1
        metrics.connections.inc()
        return None

    def release(self, ip: str) -> None:
        """The end of a connection ``admit`` let in."""
        self._per_ip[ip] -= 1
        if self._per_ip[ip] <= 0:
            del self._per_ip[ip]
        metrics.connections.dec()

    @property
    def connection_count(self) -> int:
        return sum(self._per_ip.values())

    def connect(self, conn: Connection, drops: frozenset[UUID] | None, since: Since) -> None:
        """Join the rooms, then queue what the client missed (if it says where it was)."""
        self.rooms.join(conn, drops)
        if since is None:
            return
        if isinstance(since, int):
            points = {d: since for d in (drops if drops is not None else self.book.drop_ids())}
        else:
            points = dict(since)
        now = utcnow()
        for drop_id, seq in points.items():
            conn.outbox.seen(drop_id, seq)
            replay = self.book.replay(drop_id, seq, now)
            if not replay:
                continue
            written = conn.push(replay)
            if written is None:
                self._drop_slow(conn)
                return
            for message in replay:
                metrics.replayed.labels(kind=str(message.type)).inc()

    def disconnect(self, conn: Connection) -> None:
        self.rooms.leave(conn)

    def close_all(self, code: int, reason: str) -> None:
        for conn in self.rooms.clients():
            conn.kick(code, reason)

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
