"""The per-drop waiting rooms of this gateway process: the gate on the order path, where
a ticket stands, and the ticker that moves the shared counters.

The gate lets a buyer without a ticket through at once only while nobody waits for the
drop and its direct admissions allow (``admit_per_s`` shared out over the live processes)
and this process is not over its in-flight limit; otherwise the buyer takes the next
number of the drop's queue and gets a signed ticket (``WaitingRoom``). A ticket passes
once its place is served (``domain/serving.py``), within ``ADMITTED_WINDOW_S``; that it
passes only once is recorded with the request's idempotency claim (``order_path``).

Room rows are cached from this process's own takes and ticks: a room absent from the
last tick has nobody waiting. The tick also publishes each room's figures (QueueUpdated)
when the store elects this process to, so watchers see their place move.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from prometheus_client import Counter
from stampede_contracts import DropStatus, QueueUpdated, TopicSpec, utcnow
from stampede_runtime.producer import Outgoing, Producer

from . import metrics
from .adapters.heartbeat import Heartbeat
from .adapters.idempotency_store import IdempotencyStore
from .adapters.rooms import NumberRequest, RoomStore, RoomTick
from .domain.drop_view import DropViews, KnownDrop
from .domain.serving import Mode, RoomState, Standing, standing
from .domain.tickets import Ticket, TicketSigner
from .domain.tickets import TicketInvalid as BadTicket
from .domain.token_bucket import TokenBucket
from .errors import TicketInvalid, WaitingRoom, WaitingRoomFull

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RoomDefaults:
    admit_per_s: float
    mode: Mode
    admitted_window_s: float
    max_in_flight: int
    max_waiting: int
    tick_s: float


@dataclass(frozen=True, slots=True)
class Passage:
    """Through the gate: ``ticket_id`` names the ticket it spends, if any."""

    ticket_id: str | None = None


@dataclass(frozen=True, slots=True)
class TicketStatus:
    drop_id: UUID
    standing: Standing
    sold_out: bool


def verify(signer: TicketSigner, token: str, now: float,
           client_key: str | None = None) -> Ticket:
    """A genuine, unexpired ticket (of ``client_key`` when given), or ``TicketInvalid``."""
    try:
        return signer.verify(token, now, client_key)
    except BadTicket as exc:
        raise TicketInvalid(f"Queue ticket refused: {exc}.") from None


class WaitingRooms:
    def __init__(self, signer: TicketSigner, store: RoomStore, views: DropViews,
                 heartbeat: Heartbeat, records: IdempotencyStore, defaults: RoomDefaults,
                 producer: Producer, topic: TopicSpec) -> None:
        self.signer = signer
        self._store = store
        self._views = views
        self._heartbeat = heartbeat
        self._records = records
        self.defaults = defaults
        self._producer = producer
        self._topic = topic
        self.rooms: dict[UUID, RoomState] = {}
        self._direct: dict[UUID, TokenBucket] = {}
        self.in_flight = 0
        self._admitted_series: dict[tuple[UUID, str], Counter] = {}
        self._gauged: set[str] = set()  # drops whose room gauges are exported

    # -- settings -------------------------------------------------------------------------
    def settings_of(self, known: KnownDrop | None) -> tuple[float, Mode]:
        room = known.spec.waiting_room if known is not None else None
        if room is None:
            return self.defaults.admit_per_s, self.defaults.mode
        return room.admit_per_s, Mode(room.mode)

    # -- the gate -------------------------------------------------------------------------
    async def enter(self, client_key: str, drop_id: UUID, token: str | None,
                    queue_only: bool) -> Passage:
        """Through the gate, or ``WaitingRoom`` (a place, or not yet your turn), or
        ``TicketInvalid``. ``queue_only``: the drop has not started (only places are given)."""
        now = time.time()
        if token:
            return await self._with_ticket(client_key, drop_id, token, now)
        if not queue_only and self._may_pass(drop_id, now):
            self.in_flight += 1
            self._admitted(drop_id, "direct")
            return Passage()
        raise await self._place(client_key, drop_id, now)

    def leave(self, passage: Passage) -> None:
        self.in_flight = max(0, self.in_flight - 1)

    def _may_pass(self, drop_id: UUID, now: float) -> bool:
        room = self.rooms.get(drop_id)
        if room is not None and room.waiting(now) > 0:
            return False  # first come, first served: nobody passes the queue
        if self.in_flight >= self.defaults.max_in_flight:
            return False  # this process is over capacity: newcomers queue
        return self._direct_bucket(drop_id, now).take(now).allowed

    def _direct_bucket(self, drop_id: UUID, now: float) -> TokenBucket:
        rate, _ = self.settings_of(self._views.get(drop_id))
        share = rate / max(1, self._heartbeat.live)
        burst = max(1, math.floor(share))  # about one second of admissions
        bucket = self._direct.get(drop_id)
        if bucket is None or bucket.rate != share:
            bucket = TokenBucket.full(share, burst, now)
            self._direct[drop_id] = bucket
        return bucket

    async def _place(self, client_key: str, drop_id: UUID, now: float) -> WaitingRoom:
        """A place in the drop's queue: the next number, as a signed ticket."""
        room = self.rooms.get(drop_id)
        if room is not None and room.waiting(now) >= self.defaults.max_waiting:
            raise WaitingRoomFull()
        known = self._views.get(drop_id)
        rate, mode = self.settings_of(known)
        started = known is None or known.spec.status_at(utcnow()) is not DropStatus.SCHEDULED
        number, room = await self._store.take(NumberRequest(drop_id, rate, mode, started))
        self.rooms[drop_id] = room
        metrics.waiting_room_tickets.inc()
        token = self.signer.issue(client_key, drop_id, number, now)
        st = standing(room, number, now, self.defaults.admitted_window_s)
        return WaitingRoom(token, st.position, max(1, st.retry_after_s))

    async def _with_ticket(self, client_key: str, drop_id: UUID, token: str,
                           now: float) -> Passage:
        ticket = self._verify(token, now, client_key)
        if ticket.drop_id != drop_id:
            raise TicketInvalid("Queue ticket refused: it is for another drop.")
        st = await self._standing(ticket, now)
        if not st.admitted:
            raise WaitingRoom(token, st.position, max(1, st.retry_after_s))
        if st.expired:
            raise TicketInvalid("Queue ticket refused: its admission window has passed.")
        self.in_flight += 1
        self._admitted(drop_id, "ticket")
        return Passage(ticket.ticket_id)

    def _admitted(self, drop_id: UUID, via: str) -> None:
        counter = self._admitted_series.get((drop_id, via))
        if counter is None:
            counter = metrics.waiting_room_admitted.labels(str(drop_id), via)
            self._admitted_series[(drop_id, via)] = counter
        counter.inc()

    def ticket_id(self, token: str, client_key: str) -> str | None:
        """What a genuine ticket of this client is recorded under (None: not one)."""
        try:
            return self.signer.verify(token, time.time(), client_key).ticket_id
        except BadTicket:
            return None

    def _verify(self, token: str, now: float, client_key: str | None = None) -> Ticket:
        return verify(self.signer, token, now, client_key)

    async def _standing(self, ticket: Ticket, now: float) -> Standing:
        room = self.rooms.get(ticket.drop_id)
        if room is None or ticket.number > room.issued:  # another process gave it: look
            room = await self._store.get(ticket.drop_id)
            if room is not None:
                self.rooms[ticket.drop_id] = room
        if room is None or ticket.number > room.issued:
            raise TicketInvalid("Queue ticket refused: unknown to its drop's queue.")
        return standing(room, ticket.number, now, self.defaults.admitted_window_s)

    # -- where a ticket stands --------------------------------------------------------------
    async def status(self, ticket: Ticket) -> TicketStatus:
        """For ``GET /waiting-room/status`` (a verified ticket): any process, no identity
        needed."""
        now = time.time()
        st = await self._standing(ticket, now)
        if st.admitted and (st.expired or await self._records.ticket_spent(ticket.ticket_id)):
            raise TicketInvalid("Queue ticket refused: already used, or its turn has passed.")
        return TicketStatus(ticket.drop_id, st, self._views.sold_out(ticket.drop_id))

    async def figures(self, drop_id: UUID) -> tuple[RoomState | None, float, Mode]:
        """The room as stored now, and its settings (for the admin)."""
        rate, mode = self.settings_of(self._views.get(drop_id))
        return await self._store.get(drop_id), rate, mode

    # -- the ticker -----------------------------------------------------------------------
    async def tick(self) -> None:
        now = utcnow()
        drops = []
        for known in self._views.known():
            status = known.spec.status_at(now)
            if status not in (DropStatus.LIVE, DropStatus.SCHEDULED):
                continue
            rate, _ = self.settings_of(known)
            drop_id = known.spec.drop_id
            drops.append(RoomTick(drop_id, self._views.advancing(drop_id, now), rate,
                                  status is DropStatus.LIVE, self._views.sold_out(drop_id)))
        ticked = await self._store.tick(drops)
        self.rooms = {t.room.drop_id: t.room for t in ticked}
        unix = time.time()
        published = [Outgoing(self._topic, t.room.drop_id, self._figures(t.room, unix))
                     for t in ticked if t.publish]
        if published:
            await self._producer.send_all(published)
        metrics.waiting_rooms_in_use.set(len(ticked))
        self._room_gauges(drops, unix)

    def _room_gauges(self, drops: list[RoomTick], now: float) -> None:
        """Each live or scheduled drop's queue depth (0: no room, nobody queued) and
        admission rate; a drop gone from the tick is removed."""
        shown: set[str] = set()
        for tick in drops:
            drop = str(tick.drop_id)
            shown.add(drop)
            room = self.rooms.get(tick.drop_id)
            metrics.waiting_room_depth.labels(drop).set(room.waiting(now) if room else 0)
            metrics.waiting_room_admit_per_s.labels(drop).set(room.rate if room else tick.rate)
        for drop in self._gauged - shown:
            metrics.waiting_room_depth.remove(drop)
            metrics.waiting_room_admit_per_s.remove(drop)
        self._gauged = shown

    def _figures(self, room: RoomState, now: float) -> QueueUpdated:
        serving = room.serving_now(now)
        return QueueUpdated(
            drop_id=room.drop_id, serving=serving, issued=room.issued,
            waiting=max(0, room.issued - serving),
            sold_out=self._views.sold_out(room.drop_id), admit_per_s=room.rate, at=utcnow(),
        )

    async def run(self, on_live: Callable[[int], None]) -> None:
        """Tick until cancelled; every ~2 s also beat, telling ``on_live`` how many
        processes are alive (limits are shared out by it)."""
        beat_every = max(1, round(2.0 / self.defaults.tick_s))
        n = failures = 0
        while True:
            try:
                if n % beat_every == 0:
                    on_live(await self._heartbeat.beat())
                await self.tick()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database or broker may be away: try again,
                failures += 1  # less often, and say so once in a while (not every tick)
                if failures == 1 or failures % 100 == 0:
                    log.warning("waiting rooms: tick failed (%d in a row): %r", failures, exc)
            n += 1
            await asyncio.sleep(self.defaults.tick_s * min(10, 1 + failures))
