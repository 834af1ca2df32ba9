"""Hold expiry, decided by the drop's owner: timers that produce ``ExpireHolds``.

For each owned drop with holds the writer arms a timer at its earliest ``expires_at``.
When it falls due, an ``ExpireHolds(as_of=now)`` is produced into the drop's own
command stream (keyed by the drop), so expiry is ordered and persisted like any
decision and is decided with ``as_of``, the same on any replay. A timer that fired
is re-armed a little later as a guard: if the command was lost (broker restart, a
rebalance), it is sent again; if it was applied, the guard finds nothing due.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID, uuid5

from stampede_contracts import STAMPEDE_NS, CommandEnvelope, ExpireHolds, TopicSpec, utcnow
from stampede_runtime.producer import Outgoing, Producer

from . import metrics
from .domain import DropState

log = logging.getLogger(__name__)
RESEND_AFTER = timedelta(seconds=2)


def expire_command(drop_id: UUID, as_of: datetime) -> CommandEnvelope:
    """Deterministic id: the same (drop, as_of) is the same command."""
    return CommandEnvelope(
        command_id=uuid5(STAMPEDE_NS, f"expire:{drop_id}:{as_of.isoformat()}"),
        drop_id=drop_id, occurred_at=as_of, command=ExpireHolds(drop_id=drop_id, as_of=as_of),
    )


class ExpiryTimers:
    def __init__(
        self, producer: Producer, topic: TopicSpec, lookup: Callable[[UUID], DropState | None],
        *, tick_s: float = 0.1, clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._lookup = lookup  # the owned, committed state of a drop (None: not ours)
        self._tick_s = tick_s
        self._clock = clock
        self._heap: list[tuple[datetime, UUID]] = []
        self._armed: dict[UUID, datetime] = {}

    def arm(self, state: DropState) -> None:
        due = state.next_expiry()
        if due is not None:
            self._arm(state.drop_id, due)

    def arm_at(self, drop_id: UUID, due: datetime) -> None:
        """A hold of the drop falls due then (the timer keeps the earliest)."""
        self._arm(drop_id, due)

    def _arm(self, drop_id: UUID, due: datetime) -> None:
        current = self._armed.get(drop_id)
        if current is not None and current <= due:
            return
        self._armed[drop_id] = due
        heapq.heappush(self._heap, (due, drop_id))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            try:
                await self.fire_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker may be away; the guards re-arm
                log.warning("expiry: could not send ExpireHolds: %r", exc)

    def due(self, now: datetime) -> list[UUID]:
        """Pop the drops whose earliest hold is due by ``now`` (re-arming their guard)."""
        drops: list[UUID] = []
        while self._heap and self._heap[0][0] <= now:
            due, drop_id = heapq.heappop(self._heap)
            if self._armed.get(drop_id) != due:
                continue  # superseded by an earlier timer
            del self._armed[drop_id]
            state = self._lookup(drop_id)
            upcoming = state.next_expiry() if state is not None else None
            if upcoming is None:
                continue
            if upcoming > now:
                self._arm(drop_id, upcoming)
                continue
            drops.append(drop_id)
            self._arm(drop_id, now + RESEND_AFTER)
        return drops

    async def fire_due(self) -> None:
        now = self._clock()
        drops = self.due(now)
        if drops:
            await self._producer.send_all(
                Outgoing(self._topic, d, expire_command(d, now)) for d in drops
            )
            metrics.expiries_sent.inc(len(drops))
