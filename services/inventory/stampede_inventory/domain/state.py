"""The state of one drop as its single writer holds it in memory.

``decide`` updates the ``DropState`` it is given: copying a drop's maps on every
decision made a decision O(buyers), and so did copying them once per batch (a hot drop
holds a hold and a count per buyer). So a batch is decided on the state itself, with a
``Journal`` recording how to undo every write (the maps are ``Journaled`` dicts; the
counters are saved when the batch first touches the drop): a batch whose transaction
fails is undone whole, and the state it started from is back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from stampede_contracts import DropSpec, StockLevels

_MISSING: Any = object()
Undo = list[tuple[dict[Any, Any], Any, Any]]  # (map, key, the value it had or _MISSING)


class Journaled(dict[Any, Any]):
    """A dict whose writes can be undone: while a journal is open (``undo`` is a list),
    each write first records what it replaces. Reads are the dict's own (C speed)."""

    __slots__ = ("undo",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.undo: Undo | None = None

    def __setitem__(self, key: Any, value: Any) -> None:
        if self.undo is not None:
            self.undo.append((self, key, dict.get(self, key, _MISSING)))
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        if self.undo is not None:
            self.undo.append((self, key, dict.__getitem__(self, key)))
        dict.__delitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        if self.undo is not None and key in self:
            self.undo.append((self, key, dict.__getitem__(self, key)))
        return dict.pop(self, key, *default)

    def clear(self) -> None:
        if self.undo is not None:
            self.undo.extend((self, k, v) for k, v in dict.items(self))
        dict.clear(self)


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
    holds: dict[UUID, Hold] = field(default_factory=Journaled)
    hold_of_user: dict[UUID, UUID] = field(default_factory=Journaled)
    counts: dict[UUID, int] = field(default_factory=Journaled)
    expired: dict[UUID, UUID] = field(default_factory=Journaled)
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
            self.spec, self.held, self.sold, self.seq, Journaled(self.holds),
            Journaled(self.hold_of_user), Journaled(self.counts), Journaled(self.expired),
            self.deleted,
        )

    def maps(self) -> tuple[dict[Any, Any], ...]:
        return self.holds, self.hold_of_user, self.counts, self.expired

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


class Journal:
    """How to undo a batch's writes to the drops it decided on (see the module)."""

    def __init__(self) -> None:
        self._undo: Undo = []
        self._saved: dict[UUID, tuple[DropState, DropSpec, int, int, int, bool]] = {}

    def track(self, state: DropState) -> None:
        """The batch is about to change this drop (once per drop and batch)."""
        if state.drop_id in self._saved:
            return
        self._saved[state.drop_id] = (state, state.spec, state.held, state.sold, state.seq,
                                      state.deleted)
        for m in state.maps():
            if isinstance(m, Journaled):
                m.undo = self._undo

    def seq_before(self, drop_id: UUID) -> int:
        """The drop's seq before the batch (0: the batch created it)."""
        saved = self._saved.get(drop_id)
        return saved[4] if saved is not None else 0

    def rollback(self) -> None:
        """Every write undone, last first; the counters as they were."""
        for m, key, old in reversed(self._undo):
            if old is _MISSING:
                dict.pop(m, key, None)
            else:
                dict.__setitem__(m, key, old)
        for state, spec, held, sold, seq, deleted in self._saved.values():
            state.spec, state.held, state.sold, state.seq, state.deleted = (
                spec, held, sold, seq, deleted)
        self.close()

    def close(self) -> None:
        """The writes stand (committed): stop recording."""
        for state, *_ in self._saved.values():
            for m in state.maps():
                if isinstance(m, Journaled):
                    m.undo = None
        self._undo = []
        self._saved.clear()
