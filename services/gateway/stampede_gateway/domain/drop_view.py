"""The gateway's view of each drop, built from the inventory's events.

It answers the order path's sure "no" at once (sold out, not live) without a round trip
to the inventory, and tells the waiting room whether a drop's queue may advance. It may
lag behind the inventory by a moment; it is trusted only to say no when stock or status
says so, and a drop it does not know is always asked about.

Read-your-writes: an ok reply names the drop's seq after its decision (``note``); a read
of the view that must include one's own decision waits while the view is ``behind``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from stampede_contracts import DropSpec, DropStatus, RejectionCode, StockLevels


class Admission(StrEnum):
    """What the view says of a buyer's attempt to hold stock of a drop now."""

    ASK = "ask"  # live with stock, or unknown: ask the inventory (through the gate)
    QUEUE = "queue"  # starts soon: the buyer may only queue for it


@dataclass(slots=True)
class KnownDrop:
    spec: DropSpec
    stock: StockLevels
    seq: int


class DropViews:
    EXPECT_S = 1.0  # a noted seq is waited for at most this long (then forgotten)

    def __init__(self, opens_before_start: timedelta = timedelta(minutes=10)) -> None:
        self._drops: dict[UUID, KnownDrop] = {}
        self._expected: dict[UUID, tuple[int, float]] = {}  # drop -> (seq, until: monotonic)
        self._stale: dict[UUID, int] = {}  # drop -> the seq the view must reach to say no
        self._opens_before = opens_before_start

    def get(self, drop_id: UUID) -> KnownDrop | None:
        return self._drops.get(drop_id)

    def __len__(self) -> int:
        return len(self._drops)

    def known(self) -> list[KnownDrop]:
        return list(self._drops.values())

    # -- the events -------------------------------------------------------------------
    def put(self, drop_id: UUID, seq: int, spec: DropSpec, stock: StockLevels) -> None:
        """A drop created or changed by an admin."""
        known = self._drops.get(drop_id)
        if known is None or seq > known.seq:
            self._drops[drop_id] = KnownDrop(spec, stock, seq)

    def delete(self, drop_id: UUID, seq: int) -> None:
        known = self._drops.get(drop_id)
        if known is not None and seq > known.seq:
            del self._drops[drop_id]

    def stock(self, drop_id: UUID, seq: int, stock: StockLevels) -> None:
        known = self._drops.get(drop_id)
        if known is not None and seq > known.seq:
            known.stock, known.seq = stock, seq

    # -- read-your-writes -------------------------------------------------------------
    def note(self, drop_id: UUID, seq: int, now: float) -> None:
        """A decision on the drop succeeded; its effects are at ``seq`` (``now``: monotonic)."""
        known = self._drops.get(drop_id)
        if known is not None and known.seq >= seq:
            return
        current = self._expected.get(drop_id)
        if current is None or current[0] < seq:
            self._expected[drop_id] = (seq, now + self.EXPECT_S)

    def behind(self, drop_id: UUID, now: float) -> bool:
        """Whether a success this gateway answered is not in the view yet."""
        expected = self._expected.get(drop_id)
        if expected is None:
            return False
        known = self._drops.get(drop_id)
        if (known is not None and known.seq >= expected[0]) or expected[1] <= now:
            del self._expected[drop_id]
            return False
        return True

    def invalidate(self, drop_id: UUID, seq: int) -> None:
        """A reply told of a decision that may give stock back or change the drop (a
        cancel, an admin's change) whose events, up to ``seq``, the view has not applied:
        say no more at once until it has."""
        known = self._drops.get(drop_id)
        if (known is None or known.seq < seq) and self._stale.get(drop_id, 0) < seq:
            self._stale[drop_id] = seq

    def _is_stale(self, drop_id: UUID, known: KnownDrop) -> bool:
        needed = self._stale.get(drop_id)
        if needed is None:
            return False
        if known.seq >= needed:
            del self._stale[drop_id]
            return False
        return True

    # -- the order path ---------------------------------------------------------------
    def refuse_at_once(
        self, drop_id: UUID, quantity: int, now: datetime
    ) -> RejectionCode | Admission:
        """The rejection the inventory would surely give a hold now, or what to do."""
        known = self._drops.get(drop_id)
        if known is None or self._is_stale(drop_id, known):
            return Admission.ASK
        status = known.spec.status_at(now)
        if status is DropStatus.SCHEDULED:
            starts = known.spec.starts_at
            if starts is not None and starts - now <= self._opens_before:
                return Admission.QUEUE
            return RejectionCode.DROP_NOT_ACTIVE
        if status is not DropStatus.LIVE:
            return RejectionCode.DROP_NOT_ACTIVE
        if known.stock.available < quantity:
            return RejectionCode.OUT_OF_STOCK
        return Admission.ASK

    def sold_out(self, drop_id: UUID) -> bool:
        """Nothing available and nothing held: no point waiting for it."""
        known = self._drops.get(drop_id)
        return known is not None and known.stock.available == 0 and known.stock.held == 0

    def advancing(self, drop_id: UUID, now: datetime) -> bool:
        """Whether the drop's waiting room may admit: live, with stock to hold."""
        known = self._drops.get(drop_id)
        return (known is not None and known.spec.status_at(now) is DropStatus.LIVE
                and known.stock.available > 0)
