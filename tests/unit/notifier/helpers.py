"""Envelope builders for the notifier's unit tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from stampede_contracts import (
    DropCreated,
    DropSpec,
    Event,
    EventEnvelope,
    HoldExpired,
    PurchaseConfirmed,
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
