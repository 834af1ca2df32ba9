"""Coalescing of a drop's stream: at most N STOCK_UPDATED a second, the last one true.

Per drop, not per client: every subscriber of a drop receives the same paced
stream, so a burst of 10,000 stock changes costs one fan-out per interval
instead of 10,000, and each client gets at most N a second by construction.

- Leading edge: a STOCK_UPDATED that comes when the drop's interval is open is
  sent at once (an isolated change is never delayed).
- Otherwise it waits for the trailing flush at the end of the interval, replacing
  any older pending STOCK_UPDATED (that one is counted as coalesced). So the last
  one sent always carries the stock after the latest decision.
- Other messages never overtake a pending stock update (seqs must rise for a
  client): while one is pending they wait with it and go in seq order at the
  flush. ACTIVITY_UPDATED, also a state, is merged the same way while waiting.
  Otherwise they go at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from .messages import Message, MessageType


@dataclass
class _Pace:
    next_open: float = float("-inf")
    pending: list[Message] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Offer:
    send: list[Message]
    """To send now."""
    flush_at: float | None
    """When set, the caller must call ``flush(drop_id, now)`` at that time."""


class Coalescer:
    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._paces: dict[UUID, _Pace] = {}
        self.coalesced = 0
        """Messages merged into a newer one (never sent), since start."""

    def offer(self, message: Message, now: float) -> Offer:
        if self._interval == 0.0:
            return Offer([message], None)
        pace = self._paces.get(message.drop_id)
        if pace is None:
            pace = self._paces[message.drop_id] = _Pace()
        if pace.pending:
            self._add(pace, message)
            return Offer([], None)  # the flush is already scheduled
        if message.type is not MessageType.STOCK_UPDATED:
            return Offer([message], None)
        if now >= pace.next_open:
            pace.next_open = now + self._interval
            return Offer([message], None)
        pace.pending.append(message)
        return Offer([], pace.next_open)

    def _add(self, pace: _Pace, message: Message) -> None:
        if message.is_state:
            for i, waiting in enumerate(pace.pending):
                if waiting.type is message.type:
                    del pace.pending[i]
                    self.coalesced += 1
                    break
        pace.pending.append(message)

    def flush(self, drop_id: UUID, now: float) -> list[Message]:
        pace = self._paces.get(drop_id)
        if pace is None or not pace.pending:
            return []
        out = sorted(pace.pending, key=lambda m: m.seq)
        pace.pending = []
        pace.next_open = now + self._interval
        return out

    def pending(self, drop_id: UUID) -> list[Message]:
        pace = self._paces.get(drop_id)
        return list(pace.pending) if pace else []
