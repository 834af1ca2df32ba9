"""The hub: events in, per-drop messages out to the rooms' clients.

It owns the drop book (state, dedupe, resume window), the coalescer (pacing per
drop, with its trailing flush timers) and the rooms, and admits connections
(total and per-IP limits). All of it runs on the event loop, without awaiting.

Fan-out is batched per event-loop tick: the messages a tick makes for a drop (a
consumer batch, a trailing flush) are joined once into one payload, written to
every ready socket of the drop's rooms by ``write_all`` (the same bytes for all, no
Python per socket), and handed one at a time to the held clients: those whose
socket is backed up (their transport buffers it, bounded: past ``capacity``
messages waiting they are dropped with 4008 and resume with ``since``) and those
catching up after a resume (``domain.catchup``). A slow client never slows the
others: the fan-out does not wait for any socket.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter, methodcaller
from typing import Protocol
from uuid import UUID

from stampede_contracts import EventEnvelope, QueueUpdated, utcnow

from . import metrics
from .adapters.fanout import write_all
from .domain.catchup import Seen, in_sync, still_needed
from .domain.coalescer import Coalescer
from .domain.drops import DropBook
from .domain.messages import Message
from .domain.rooms import Keyed, Room, Rooms


class CloseCode:
    """Close codes the notifier uses."""

    GOING_AWAY = 1001  # the notifier shuts down; reconnect with since=
    POLICY = 1008  # Origin not allowed
    PING_TIMEOUT = 1011  # no answer to the keepalive ping; reconnect with since=
    RESTARTING = 1012  # the server is restarting; reconnect with since=
    TRY_AGAIN_LATER = 1013  # the notifier's connection limit is reached
    SLOW_CONSUMER = 4008  # the client's queue overflowed; reconnect with since=
    BAD_REQUEST = 4400  # malformed drops= or since=
    TOO_MANY_FROM_IP = 4429  # the per-IP connection limit is reached


class Transport(Protocol):
    def is_closing(self) -> bool: ...


class Connection(Keyed, Protocol):
    """What the hub needs of a client (adapters/connection.py). Its ``key`` is its
    socket's descriptor, written by the shared fan-out."""

    ip: str
    transport: Transport
    paused: bool
    """Its socket is backed up: what is sent waits in its transport."""
    seen: Seen | None
    """Catching up after a resume: per drop, the latest stream seq it has."""

    def send(self, payload: bytes, count: int) -> bool:
        """Write ``payload`` (``count`` messages) after anything pending; False when
        more than its capacity would be waiting (the hub then drops it)."""
        ...

    def kick(self, code: int, reason: str) -> None: ...


Since = int | Mapping[UUID, int] | None
"""Resume point: one seq for every subscribed drop, one per drop, or none (live only)."""

Writer = Callable[[list[int], bytes], list[tuple[int, int]]]

_TRANSPORT = attrgetter("transport")
_IS_CLOSING = methodcaller("is_closing")


class Hub:
    def __init__(
        self, *, window: int, stock_updates_per_second: float, max_connections: int,
        max_connections_per_ip: int, clock: Callable[[], float] | None = None,
        writer: Writer = write_all,
    ) -> None:
        self.book = DropBook(window)
        self.coalescer = Coalescer(stock_updates_per_second)
        self.rooms: Rooms[Connection] = Rooms()
        self._write = writer
        self._max = max_connections
        self._max_per_ip = max_connections_per_ip
        self._per_ip: Counter[str] = Counter()
        self._clock = clock
        self._timers: dict[UUID, asyncio.TimerHandle] = {}
        self._pending: dict[UUID, list[Message]] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._published: dict[UUID, int] = {}
        """Per drop, the seq of the latest stream message fanned out."""

    # -- messages in -----------------------------------------------------------
    def apply(self, envelopes: Iterable[EventEnvelope]) -> None:
        for envelope in envelopes:
            messages = self.book.apply(envelope)
            if messages is None:
                metrics.duplicate_events.inc()
                continue
            for message in messages:
                self._offer(message)

    def apply_queue(self, updates: Iterable[QueueUpdated]) -> None:
        for update in updates:
            message = self.book.apply_queue(update)
            if message is None:
                metrics.queue_updates_ignored.inc()
            else:
                self._offer(message)

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def _offer(self, message: Message) -> None:
        before = self.coalescer.coalesced
        offer = self.coalescer.offer(message, self._now())
        if self.coalescer.coalesced > before:
            metrics.messages_coalesced.inc(self.coalescer.coalesced - before)
        if offer.send:
            self._queue(message.drop_id, offer.send)
        if offer.flush_at is not None and message.drop_id not in self._timers:
            self._timers[message.drop_id] = asyncio.get_running_loop().call_at(
                offer.flush_at, self._trailing_flush, message.drop_id)

    def _trailing_flush(self, drop_id: UUID) -> None:
        self._timers.pop(drop_id, None)
        messages = self.coalescer.flush(drop_id, self._now())
        if messages:
            self._queue(drop_id, messages)

    def _queue(self, drop_id: UUID, messages: list[Message]) -> None:
        """Batch for this tick's fan-out."""
        self._pending.setdefault(drop_id, []).extend(messages)
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self.flush)

    # -- fan-out -----------------------------------------------------------------
    def flush(self) -> None:
        """Fan out what this tick made: one payload per drop."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        pending, self._pending = self._pending, {}
        for drop_id, messages in pending.items():
            self._fan_out(drop_id, messages)

    def _fan_out(self, drop_id: UUID, messages: list[Message]) -> None:
        for message in reversed(messages):
            if message.in_stream:
                self._published[drop_id] = message.seq
                break
        payload = b"".join(m.frame for m in messages)
        count, direct, delivered = len(messages), 0, 0
        with metrics.fanout_seconds.time():
            for room in self.rooms.targets(drop_id):
                direct += self._write_ready(room, payload, count)
                for conn in list(room.held):
                    delivered += self._deliver(conn, drop_id, messages, payload)
        if direct or delivered:
            metrics.messages_sent.inc(direct * count + delivered)
            metrics.direct_writes.inc(direct)

    def _write_ready(self, room: Room[Connection], payload: bytes, count: int) -> int:
        """The shared write; a socket that did not take it whole gets the rest through
        its transport (and is held from then on). The number of sockets written."""
        keys = room.keys()
        if not keys:
            return 0
        # A transport closed on a read error has given its descriptor back before its
        # connection_lost (next tick): its number may already be a new socket's. The
        # check runs in C (map, attrgetter, methodcaller), like the write.
        if True in map(_IS_CLOSING, map(_TRANSPORT, room.members())):
            for gone in [c for c in room.members() if c.transport.is_closing()]:
                self.rooms.leave(gone)
            keys = room.keys()
        failed = self._write(keys, payload)
        for index, written in failed:
            conn = room.ready.get(keys[index])
            if conn is not None and not conn.send(payload[written:], count):
                self._drop_slow(conn)
        return len(keys) - len(failed)

    def _deliver(self, conn: Connection, drop_id: UUID, messages: list[Message],
                 payload: bytes) -> int:
        """One held client's share of a fan-out; the number of messages sent."""
        seen = conn.seen
        if seen is not None and drop_id in seen:
            messages = still_needed(seen, drop_id, messages)
            payload = b"".join(m.frame for m in messages)
        if messages and not conn.send(payload, len(messages)):
            self._drop_slow(conn)
            return 0
        if seen is not None:
            self._catch_up(conn, seen)
        return len(messages)

    def _in_sync(self, drop_id: UUID, seen_seq: int) -> bool:
        state = self.book.get(drop_id)
        if state is None:
            return in_sync(seen_seq, 0, False)
        return in_sync(seen_seq, state.last_event_seq,
                       state.last_seq > self._published.get(drop_id, 0))

    def _catch_up(self, conn: Connection, seen: Seen) -> None:
        """A catching-up client joins the shared fan-out once in sync on every drop."""
        if all(self._in_sync(d, s) for d, s in seen.items()):
            conn.seen = None
            if not conn.paused:
                self.rooms.release(conn)

    def _drop_slow(self, conn: Connection) -> None:
        self.rooms.leave(conn)
        metrics.slow_clients_dropped.inc()
        conn.kick(CloseCode.SLOW_CONSUMER, "slow consumer: reconnect with since=<last seq>")

    # -- connections -------------------------------------------------------------
    def admit(self, ip: str) -> tuple[int, str] | None:
        """None when a connection from ``ip`` may open, else the close code and reason."""
        if self.connection_count >= self._max:
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
        return self._per_ip.total()

    def connect(self, conn: Connection, drops: frozenset[UUID] | None, since: Since) -> None:
        """Join the rooms and send what the client missed (if it says where it was).
        A client that needs filtering (its replay reaches messages not yet published,
        or it comes from a process ahead of this one) is held until in sync."""
        if since is None:
            self.rooms.join(conn, drops, held=conn.paused)
            return
        if isinstance(since, int):
            points = {d: since for d in (drops if drops is not None else self.book.drop_ids())}
        else:
            points = dict(since)
        now, replay, seen = utcnow(), [], {}
        for drop_id, seq in points.items():
            messages = self.book.replay(drop_id, seq, now)
            replay += messages
            state = self.book.get(drop_id)
            has = max(seq, state.last_seq if state is not None else 0)
            if not self._in_sync(drop_id, has):
                seen[drop_id] = has
        conn.seen = seen or None
        self.rooms.join(conn, drops, held=conn.paused or bool(seen))
        if replay and not conn.send(b"".join(m.frame for m in replay), len(replay)):
            self._drop_slow(conn)
            return
        for message in replay:
            metrics.replayed.labels(kind=str(message.type)).inc()

    def disconnect(self, conn: Connection) -> None:
        self.rooms.leave(conn)

    def hold(self, conn: Connection) -> None:
        """The client's socket backed up: serve it one at a time."""
        self.rooms.hold(conn)

    def resume(self, conn: Connection) -> None:
        """The client's socket drained: back to the shared fan-out, unless catching up."""
        if conn.seen is None:
            self.rooms.release(conn)

    def close_all(self, code: int, reason: str) -> None:
        for conn in self.rooms.clients():
            conn.kick(code, reason)

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
