"""The waiting room: a gateway-wide gate on the order path and the queue behind it.

The gate lets a request through while fewer than ``max_in_flight`` order-path
requests are being decided (admitted tickets not yet used count as in flight: their
place is kept) and the admission bucket (``rate``/s, ``burst``) has a token, and
nobody is queued ahead. Otherwise the request gets a ticket and joins the queue.

Admission is first come, first served: the head of the queue is admitted as soon as
capacity frees. An admitted ticket passes the gate once, within ``admitted_window_s``;
a used ticket is remembered until it would expire, so a replay is refused. Entries
leave the queue only at its head (admitted, expired, withdrawn or abandoned: not seen
for ``abandon_after_s``), so a place is ``serial - head serial + 1`` in O(1).

The queue is per gateway process (state in memory): behind a load balancer a client
must come back to the same process (sticky sessions), otherwise its ticket is unknown.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from .token_bucket import TokenBucket


class Pass(StrEnum):
    PASS = "pass"
    WAITING = "waiting"
    REFUSED = "refused"


@dataclass(slots=True)
class _Entry:
    serial: int
    ticket_id: str
    drop_id: str
    expires_at: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class QueueStatus:
    position: int  # 0 once admitted
    admitted: bool
    retry_after_s: int
    eta_s: int
    drop_id: str


@dataclass
class WaitingRoom:
    rate: float
    burst: int
    max_in_flight: int
    admitted_window_s: float
    ticket_ttl_s: float
    max_waiting: int = 100_000
    abandon_after_s: float = 60.0
    in_flight: int = 0
    _bucket: TokenBucket | None = None
    _queue: deque[_Entry] = field(default_factory=deque)
    _by_id: dict[str, _Entry] = field(default_factory=dict)
    _admitted: dict[str, tuple[float, str]] = field(default_factory=dict)  # id -> (until, drop)
    _used: dict[str, float] = field(default_factory=dict)  # id -> forget after
    _next_serial: int = 0

    def _bucket_at(self, now: float) -> TokenBucket:
        if self._bucket is None:
            self._bucket = TokenBucket.full(self.rate, self.burst, now)
        return self._bucket

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def _busy(self) -> int:
        return self.in_flight + len(self._admitted)

    def try_enter(self, now: float) -> bool:
        """A request without a ticket: through the gate, or False (it must queue)."""
        self.admit_ready(now)
        if self._queue or self._busy() >= self.max_in_flight:
            return False
        if not self._bucket_at(now).take(now).allowed:
            return False
        self.in_flight += 1
        return True

    def leave(self, now: float) -> None:
        """An order-path request that passed the gate is done."""
        self.in_flight = max(0, self.in_flight - 1)
        self.admit_ready(now)

    def full(self) -> bool:
        return len(self._queue) >= self.max_waiting

    def enqueue(self, ticket_id: str, drop_id: str, issued_at: float, now: float) -> int:
        """Join the queue; returns the place (1 = next)."""
        self._next_serial += 1
        entry = _Entry(self._next_serial, ticket_id, drop_id, issued_at + self.ticket_ttl_s, now)
        self._queue.append(entry)
        self._by_id[ticket_id] = entry
        return self._place(entry)

    def _place(self, entry: _Entry) -> int:
        return entry.serial - self._queue[0].serial + 1

    def admit_ready(self, now: float) -> int:
        """Admit from the head while capacity allows; expire stale admissions."""
        for tid, (until, _) in list(self._admitted.items()):
            if until <= now:
                del self._admitted[tid]
        for tid, forget in list(self._used.items()):
            if forget <= now:
                del self._used[tid]
        admitted = 0
        bucket = self._bucket_at(now)
        while self._queue:
            head = self._queue[0]
            withdrawn = self._by_id.get(head.ticket_id) is not head
            if withdrawn or head.expires_at <= now or now - head.last_seen > self.abandon_after_s:
                self._pop_head()
                continue
            if self._busy() >= self.max_in_flight or not bucket.take(now).allowed:
                break
            self._pop_head()
            self._admitted[head.ticket_id] = (now + self.admitted_window_s, head.drop_id)
            admitted += 1
        return admitted

    def _touch(self, ticket_id: str, now: float) -> None:
        entry = self._by_id.get(ticket_id)
        if entry is not None:
            entry.last_seen = now

    def _pop_head(self) -> None:
        entry = self._queue.popleft()
        if self._by_id.get(entry.ticket_id) is entry:
            del self._by_id[entry.ticket_id]

    def withdraw(self, ticket_id: str, now: float) -> None:
        """The ticket's request was answered without the gate (e.g. sold out): give its
        place up. A queued entry is left where it is and skipped when it reaches the head
        (places behind it stay O(1) to compute, a little pessimistic meanwhile)."""
        was_admitted = self._admitted.pop(ticket_id, None) is not None
        was_queued = self._by_id.pop(ticket_id, None) is not None
        if was_admitted or was_queued:
            self._used[ticket_id] = now + self.ticket_ttl_s
        self.admit_ready(now)

    def use(self, ticket_id: str, now: float) -> Pass:
        """A request carrying a (verified) ticket: pass once if admitted."""
        self._touch(ticket_id, now)
        self.admit_ready(now)
        if ticket_id in self._admitted:
            del self._admitted[ticket_id]
            self._used[ticket_id] = now + self.ticket_ttl_s
            self.in_flight += 1
            return Pass.PASS
        if ticket_id in self._by_id:
            return Pass.WAITING
        return Pass.REFUSED

    def status(self, ticket_id: str, now: float) -> QueueStatus | None:
        """Where a ticket stands; None when unknown, used or expired."""
        self._touch(ticket_id, now)
        self.admit_ready(now)
        admitted = self._admitted.get(ticket_id)
        if admitted is not None:
            return QueueStatus(0, True, 0, 0, admitted[1])
        entry = self._by_id.get(ticket_id)
        if entry is None:
            return None
        place = self._place(entry)
        eta = math.ceil(place / self.rate)
        return QueueStatus(place, False, min(5, max(1, eta)), eta, entry.drop_id)
