"""Envelope builders for the notifier's unit tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from stampede_contracts import (
    DropCreated,
    DropDeleted,
    DropSpec,
    DropUpdated,
    Event,
    EventEnvelope,
    HoldExpired,
    PurchaseConfirmed,
    QueueUpdated,
    StockChanged,
    StockLevels,
    StockReserved,
    event_id_for,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def levels(available: int, total: int = 10, held: int = 0) -> StockLevels:
    return StockLevels(total_stock=total, available=available, held=held,
                       sold=total - available - held)


def envelope(drop: uuid.UUID, seq: int, event: Event) -> EventEnvelope:
    return EventEnvelope(event_id=event_id_for(drop, seq), drop_id=drop, seq=seq,
                         occurred_at=T0, event=event)


def created(drop: uuid.UUID, total: int = 10) -> DropCreated:
    spec = DropSpec(drop_id=drop, name="Air Max", price_cents=12_000, total_stock=total)
    return DropCreated(drop=spec, stock=levels(total, total))


def updated(drop: uuid.UUID, name: str, total: int = 10, available: int | None = None
            ) -> DropUpdated:
    spec = DropSpec(drop_id=drop, name=name, price_cents=12_000, total_stock=total)
    return DropUpdated(drop=spec, stock=levels(total if available is None else available,
                                               total))


def deleted(drop: uuid.UUID) -> DropDeleted:
    return DropDeleted(drop_id=drop)


def queue_update(drop: uuid.UUID, *, serving: int, issued: int, second: int,
                 sold_out: bool = False) -> QueueUpdated:
    """The waiting room's figures ``second`` seconds after T0."""
    return QueueUpdated(drop_id=drop, serving=serving, issued=issued,
                        waiting=max(0, issued - serving), sold_out=sold_out, admit_per_s=5.0,
                        at=T0 + timedelta(seconds=second))


def stock(available: int, total: int = 10, held: int = 0) -> StockChanged:
    return StockChanged(stock=levels(available, total, held))


def purchase(username: str) -> PurchaseConfirmed:
    return PurchaseConfirmed(purchase_id=uuid.uuid4(), reservation_id=uuid.uuid4(),
                             user_id=uuid.uuid4(), username=username, quantity=1,
                             amount_cents=12_000, currency="USD")


def reserved() -> StockReserved:
    return StockReserved(reservation_id=uuid.uuid4(), user_id=uuid.uuid4(), username="u",
                         quantity=1, expires_at=T0)


def expired() -> HoldExpired:
    return HoldExpired(reservation_id=uuid.uuid4(), user_id=uuid.uuid4(), quantity=1)
