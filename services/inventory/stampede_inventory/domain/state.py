"""The state of one drop as its single writer holds it in memory.

``decide`` updates the ``DropState`` it is given: copying a drop's maps on every
decision made a decision O(buyers). The writer copies a drop once per batch
(``copy()``) before deciding on it, so a batch whose transaction fails is thrown
away whole and the state it started from is still intact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from stampede_contracts import DropSpec, StockLevels


class Hold(NamedTuple):
    """An active reservation: ``quantity`` units set aside for one user until ``expires_at``."""

    reservation_id: UUID
    drop_id: UUID
    user_id: UUID
    username: str
    quantity: int
    expires_at: datetime


@dataclass(slots=True)
class DropState:
    """One drop: its spec (``spec.total_stock`` is the total), counts and active holds.

    - ``holds``: active holds by reservation id; ``hold_of_user``: user -> their active hold.
    - ``counts``: user -> units held or bought (what the per-user limit counts).
    - ``expired``: user -> their most recent expired hold, so a late purchase is told
      ``RESERVATION_EXPIRED`` rather than ``NO_ACTIVE_RESERVATION``.
    - ``seq``: the seq of the drop's last event; ``deleted`` keeps the seq of a deleted
      drop so event ids are never reused.
    """

    spec: DropSpec
    held: int = 0
    sold: int = 0
    seq: int = 0
    holds: dict[UUID, Hold] = field(default_factory=dict)
    hold_of_user: dict[UUID, UUID] = field(default_factory=dict)
    counts: dict[UUID, int] = field(default_factory=dict)
    expired: dict[UUID, UUID] = field(default_factory=dict)
    deleted: bool = False

    @property
    def drop_id(self) -> UUID:
        return self.spec.drop_id

    @property
    def total_stock(self) -> int:
        return self.spec.total_stock

    @property
    def available(self) -> int:
        return self.spec.total_stock - self.held - self.sold

    def stock(self) -> StockLevels:
        return StockLevels(
            total_stock=self.spec.total_stock, available=self.available, held=self.held,
            sold=self.sold,
        )

    def copy(self) -> DropState:
        return DropState(
            self.spec, self.held, self.sold, self.seq, dict(self.holds),
            dict(self.hold_of_user), dict(self.counts), dict(self.expired), self.deleted,
        )

    def next_expiry(self) -> datetime | None:
        """When the earliest active hold falls due (the writer arms its timer for it)."""
        return min((h.expires_at for h in self.holds.values()), default=None)

    def violations(self) -> int:
        """1 if the stock invariant is broken (must never happen), else 0."""
        ok = (
            self.available >= 0 and self.held >= 0 and self.sold >= 0
            and self.held == sum(h.quantity for h in self.holds.values())
        )
        return 0 if ok else 1
