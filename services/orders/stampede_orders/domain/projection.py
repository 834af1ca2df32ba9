"""The projection: a batch of inventory events folded into the changes of the read model.

Pure: ``project(events, last_seqs)`` takes the events of one batch (in partition
order) and, per drop, the last ``seq`` already applied, and returns what to write.
An event whose ``seq`` is not above its drop's last applied seq is a duplicate
(at-least-once delivery, an inventory republishing after a crash, a replay) and
changes nothing. A seq that skips ahead is applied and reported as a gap (a lost
broker log can do that; nothing better can be done than to note it).

Within one batch later events win: a drop's catalog row and stock, and a hold's
status, are written once with their final values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from stampede_contracts import (
    DropCreated,
    DropDeleted,
    DropSpec,
    DropUpdated,
    EventEnvelope,
    HoldCancelled,
    HoldExpired,
    HoldStatus,
    PurchaseConfirmed,
    ReservationRejected,
    StockChanged,
    StockLevels,
    StockReserved,
)


@dataclass
class DropChange:
    """What changes in one drop's catalog row; ``None`` leaves a column as it is."""

    updated_at: datetime
    spec: DropSpec | None = None
    stock: StockLevels | None = None
    created_at: datetime | None = None
    deleted: bool | None = None


@dataclass(frozen=True, slots=True)
class NewHold:
    """A hold as the buyer sees it when it is taken."""

    user_id: UUID
    quantity: int
    expires_at: datetime
    created_at: datetime


@dataclass
class HoldChange:
    """A hold's final status in this batch; ``opened`` when the batch also took it."""

    reservation_id: UUID
    drop_id: UUID
    status: HoldStatus
    updated_at: datetime
    opened: NewHold | None = None


@dataclass(frozen=True, slots=True)
class PurchaseRecord:
    id: UUID
    reservation_id: UUID
    drop_id: UUID
    user_id: UUID
    username: str
    quantity: int
    amount_cents: int
    currency: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """The last event applied for one drop."""

    seq: int
    event_id: UUID


@dataclass(frozen=True, slots=True)
class Gap:
    drop_id: UUID
    expected_seq: int
    seq: int


@dataclass
class Projection:
    """Everything one batch changes, plus what it skipped."""

    drops: dict[UUID, DropChange] = field(default_factory=dict)
    holds: dict[UUID, HoldChange] = field(default_factory=dict)
    purchases: dict[UUID, PurchaseRecord] = field(default_factory=dict)
    streams: dict[UUID, StreamPosition] = field(default_factory=dict)
    applied: int = 0
    duplicates: int = 0
    gaps: list[Gap] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.streams


def project(events: Iterable[EventEnvelope], last_seqs: Mapping[UUID, int]) -> Projection:
    """Fold ``events`` (in partition order) over the drops' last applied seqs."""
    out = Projection()
    for envelope in events:
        last = out.streams[envelope.drop_id].seq if envelope.drop_id in out.streams else (
            last_seqs.get(envelope.drop_id, 0)
        )
        if envelope.seq <= last:
            out.duplicates += 1
            continue
        if last and envelope.seq != last + 1:
            out.gaps.append(Gap(envelope.drop_id, last + 1, envelope.seq))
        _apply(out, envelope)
        out.streams[envelope.drop_id] = StreamPosition(envelope.seq, envelope.event_id)
        out.applied += 1
    return out


def _drop(out: Projection, envelope: EventEnvelope) -> DropChange:
    change = out.drops.get(envelope.drop_id)
    if change is None:
        change = out.drops[envelope.drop_id] = DropChange(updated_at=envelope.occurred_at)
    change.updated_at = envelope.occurred_at
    return change


def _hold(out: Projection, envelope: EventEnvelope, reservation_id: UUID,
          status: HoldStatus) -> HoldChange:
    change = out.holds.get(reservation_id)
    if change is None:
        change = out.holds[reservation_id] = HoldChange(
            reservation_id, envelope.drop_id, status, envelope.occurred_at
        )
    change.status = status
    change.updated_at = envelope.occurred_at
    return change


def _apply(out: Projection, envelope: EventEnvelope) -> None:
    event = envelope.event
    at = envelope.occurred_at
    match event:
        case DropCreated(drop=spec, stock=stock):
            change = _drop(out, envelope)
            change.spec, change.stock, change.deleted = spec, stock, False
            change.created_at = change.created_at or at
        case DropUpdated(drop=spec, stock=stock):
            change = _drop(out, envelope)
            change.spec, change.stock = spec, stock
        case DropDeleted():
            _drop(out, envelope).deleted = True
        case StockChanged(stock=stock):
            _drop(out, envelope).stock = stock
        case StockReserved():
            hold = _hold(out, envelope, event.reservation_id, HoldStatus.ACTIVE)
            hold.opened = NewHold(event.user_id, event.quantity, event.expires_at, at)
        case HoldExpired():
            _hold(out, envelope, event.reservation_id, HoldStatus.EXPIRED)
        case HoldCancelled():
            _hold(out, envelope, event.reservation_id, HoldStatus.CANCELLED)
        case PurchaseConfirmed():
            _hold(out, envelope, event.reservation_id, HoldStatus.PURCHASED)
            out.purchases.setdefault(event.reservation_id, PurchaseRecord(
                id=event.purchase_id, reservation_id=event.reservation_id,
                drop_id=envelope.drop_id, user_id=event.user_id, username=event.username,
                quantity=event.quantity, amount_cents=event.amount_cents,
                currency=event.currency, created_at=at,
            ))  # one purchase per hold: the first confirmation stands
        case ReservationRejected():
            pass  # nothing a buyer's history shows; the seq still counts as applied
