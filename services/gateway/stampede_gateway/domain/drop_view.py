"""The gateway's view of each drop, built from the inventory's events.

It answers the order path's obvious "no" at once (sold out, not live) without a
round trip to the inventory. It may lag behind the inventory by a moment; it is
only trusted to say no when stock or status says so, and a drop it does not know
is always asked about.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from stampede_contracts import (
    DropCreated,
    DropDeleted,
    DropSpec,
    DropStatus,
    DropUpdated,
    Event,
    RejectionCode,
    StockChanged,
    StockLevels,
)


@dataclass(slots=True)
class KnownDrop:
    spec: DropSpec
    stock: StockLevels
    seq: int
    stale: bool = False  # a decision we were told of is not in the view yet


class DropViews:
    """Also tracks read-your-writes: the commands this gateway was told succeeded
    (``expect``) whose events (``causation_id``) the view has not applied yet (``behind``),
    so a read of the view just after one's own decision can wait for it a moment."""

    KEEP_CAUSES = 4096  # recently applied causes: an event may come before its reply
    EXPECT_S = 1.0  # how long an expected event is waited for at most

    def __init__(self) -> None:
        self._drops: dict[UUID, KnownDrop] = {}
        self._applied: OrderedDict[UUID, None] = OrderedDict()
        self._expected: dict[UUID, dict[UUID, float]] = {}

    def get(self, drop_id: UUID) -> KnownDrop | None:
        return self._drops.get(drop_id)

    def __len__(self) -> int:
        return len(self._drops)

    def apply(self, drop_id: UUID, seq: int, event: Event, cause: UUID | None = None) -> None:
        if cause is not None:
            self._applied[cause] = None
            if len(self._applied) > self.KEEP_CAUSES:
                self._applied.popitem(last=False)
            expected = self._expected.get(drop_id)
            if expected is not None and expected.pop(cause, None) is not None and not expected:
                del self._expected[drop_id]
        known = self._drops.get(drop_id)
        if known is not None and seq <= known.seq:
            return  # a redelivered or republished event
        if isinstance(event, DropCreated | DropUpdated):
            self._drops[drop_id] = KnownDrop(event.drop, event.stock, seq)
        elif isinstance(event, DropDeleted):
            self._drops.pop(drop_id, None)
        elif known is not None:
            if isinstance(event, StockChanged):
                known.stock = event.stock
                known.stale = False
            known.seq = seq

    def expect(self, drop_id: UUID, cause: UUID, now: float) -> None:
        """A command on the drop succeeded: its events are on their way (``now``: monotonic)."""
        if cause not in self._applied:
            self._expected.setdefault(drop_id, {})[cause] = now + self.EXPECT_S

    def behind(self, drop_id: UUID, now: float) -> bool:
        """Whether a success this gateway answered is not in the view yet."""
        expected = self._expected.get(drop_id)
        if not expected:
            return False
        for cause in [c for c, until in expected.items() if until <= now]:
            del expected[cause]  # never came (or long ago): stop waiting for it
        if not expected:
            del self._expected[drop_id]
            return False
        return True

    def invalidate(self, drop_id: UUID) -> None:
        """A reply told of a decision that may give stock back (a cancel, a restock) before
        its events reached the view: say no more at once until they have."""
        known = self._drops.get(drop_id)
        if known is not None:
            known.stale = True

    def refuse_at_once(self, drop_id: UUID, quantity: int, now: datetime) -> RejectionCode | None:
        """The rejection the inventory would surely give a reservation now, if any."""
        known = self._drops.get(drop_id)
        if known is None or known.stale:
            return None
        if known.spec.status_at(now) is not DropStatus.LIVE:
            return RejectionCode.DROP_NOT_ACTIVE
        if known.stock.available < quantity:
            return RejectionCode.OUT_OF_STOCK
        return None

    def sold_out(self, drop_id: UUID) -> bool:
        known = self._drops.get(drop_id)
        return known is not None and known.stock.available == 0
