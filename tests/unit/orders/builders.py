"""Realistic inventory event streams for the orders tests (unit and integration).

``DropStream`` plays the inventory for one drop: it keeps the four stock numbers
and the per-drop ``seq``, and every decision returns the envelopes the inventory
would publish (the decision's event, then ``StockChanged``), with
``event_id = event_id_for(drop_id, seq)``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from stampede_contracts import (
    DropCreated,
    DropDeleted,
    DropSpec,
    DropUpdated,
    EventEnvelope,
    HoldCancelled,
    HoldExpired,
    PurchaseConfirmed,
    StockChanged,
    StockLevels,
    StockReserved,
    event_id_for,
    purchase_id_for,
)
from stampede_contracts.events import Event

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Hold:
    reservation_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    quantity: int = 1


@dataclass
class DropStream:
    spec: DropSpec
    seq: int = 0
    clock: datetime = T0
    available: int = 0
    held: int = 0
    sold: int = 0
    events: list[EventEnvelope] = field(default_factory=list)

    @classmethod
    def new(cls, *, total_stock: int = 100, name: str = "Air Max 1", price_cents: int = 15_000,
            starts_at: datetime | None = None, ends_at: datetime | None = None,
            draft: bool = False, clock: datetime = T0) -> DropStream:
        spec = DropSpec(drop_id=uuid.uuid4(), name=name, price_cents=price_cents,
                        total_stock=total_stock, starts_at=starts_at, ends_at=ends_at,
                        draft=draft)
        return cls(spec=spec, available=total_stock, clock=clock)

    @property
    def drop_id(self) -> uuid.UUID:
        return self.spec.drop_id

    @property
    def stock(self) -> StockLevels:
        return StockLevels(total_stock=self.spec.total_stock, available=self.available,
                           held=self.held, sold=self.sold)

    def _emit(self, *events: Event) -> list[EventEnvelope]:
        out = []
        for event in events:
            self.seq += 1
            self.clock += timedelta(milliseconds=1)
            out.append(EventEnvelope(
                event_id=event_id_for(self.drop_id, self.seq), drop_id=self.drop_id,
                seq=self.seq, occurred_at=self.clock, event=event,
            ))
        self.events += out
        return out

    def _stock_changed(self) -> StockChanged:
        return StockChanged(stock=self.stock)

    def create(self) -> list[EventEnvelope]:
        return self._emit(DropCreated(drop=self.spec, stock=self.stock))

    def update(self, **changes: object) -> list[EventEnvelope]:
        self.spec = self.spec.model_copy(update=changes)
        return self._emit(DropUpdated(drop=self.spec, stock=self.stock))

    def delete(self) -> list[EventEnvelope]:
        return self._emit(DropDeleted(drop_id=self.drop_id))

    def reserve(
        self, username: str | None = None, quantity: int = 1
    ) -> tuple[Hold, list[EventEnvelope]]:
        user = uuid.uuid4()
        hold = Hold(uuid.uuid4(), user, username or f"user-{user.hex[:8]}", quantity)
        self.available -= quantity
        self.held += quantity
        expires = self.clock + timedelta(seconds=self.spec.reservation_ttl_seconds)
        return hold, self._emit(
            StockReserved(reservation_id=hold.reservation_id, user_id=user,
                          username=hold.username, quantity=quantity, expires_at=expires),
            self._stock_changed(),
        )

    def purchase(self, hold: Hold) -> list[EventEnvelope]:
        self.held -= hold.quantity
        self.sold += hold.quantity
        return self._emit(
            PurchaseConfirmed(
                purchase_id=purchase_id_for(hold.reservation_id),
                reservation_id=hold.reservation_id, user_id=hold.user_id,
                username=hold.username, quantity=hold.quantity,
                amount_cents=hold.quantity * self.spec.price_cents, currency=self.spec.currency,
            ),
            self._stock_changed(),
        )

    def buy(self, username: str | None = None) -> tuple[Hold, list[EventEnvelope]]:
        hold, reserved = self.reserve(username)
        return hold, reserved + self.purchase(hold)

    def expire(self, hold: Hold) -> list[EventEnvelope]:
        self.held -= hold.quantity
        self.available += hold.quantity
        return self._emit(
            HoldExpired(reservation_id=hold.reservation_id, user_id=hold.user_id,
                        quantity=hold.quantity),
            self._stock_changed(),
        )

    def cancel(self, hold: Hold) -> list[EventEnvelope]:
        self.held -= hold.quantity
        self.available += hold.quantity
        return self._emit(
            HoldCancelled(reservation_id=hold.reservation_id, user_id=hold.user_id,
                          quantity=hold.quantity),
            self._stock_changed(),
        )
