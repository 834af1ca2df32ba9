"""What the notifier knows of each drop, built from ``topics.events`` alone.

``DropBook.apply`` turns one event into the messages clients see, and drops
republished events (a crash between the inventory's commit and its publish
sends the same events again): an event whose ``seq`` is not above the last one
applied for its drop is a duplicate. Each drop keeps a bounded window of its
recent messages for resume (``replay``); a client that missed more than the
window gets one SNAPSHOT of the drop's current state instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from stampede_contracts import (
    DropCreated,
    DropDeleted,
    DropSpec,
    DropUpdated,
    EventEnvelope,
    HoldExpired,
    PurchaseConfirmed,
    StockChanged,
    StockLevels,
)

from .messages import Message, MessageType, Slot, compact, message_seq

LATEST_PURCHASERS = 3


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def stock_data(stock: StockLevels) -> dict[str, Any]:
    return {"available_stock": stock.available, "total_stock": stock.total_stock,
            "held": stock.held, "sold": stock.sold}


def drop_data(spec: DropSpec, at: datetime) -> dict[str, Any]:
    return {
        "name": spec.name, "price_cents": spec.price_cents, "currency": spec.currency,
        "total_stock": spec.total_stock, "status": str(spec.status_at(at)),
        "starts_at": _iso(spec.starts_at), "ends_at": _iso(spec.ends_at),
        "per_user_limit": spec.per_user_limit,
        "reservation_ttl_seconds": spec.reservation_ttl_seconds,
    }


@dataclass
class DropState:
    drop_id: UUID
    window_size: int
    spec: DropSpec | None = None
    stock: StockLevels | None = None
    deleted: bool = False
    purchasers: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=LATEST_PURCHASERS)
    )
    last_event_seq: int = 0
    last_seq: int = 0
    """The seq of the latest message (what a SNAPSHOT stands for)."""
    evicted_upto: int = 0
    """The seq of the newest message pushed out of the window (0: none yet)."""
    window: deque[Message] = field(default_factory=deque)

    def remember(self, message: Message) -> None:
        self.window.append(message)
        self.last_seq = message.seq
        if len(self.window) > self.window_size:
            self.evicted_upto = self.window.popleft().seq


def messages_for(state: DropState, envelope: EventEnvelope) -> list[Message]:
    """Apply one event to the drop's state; return the messages it gives clients."""
    event, seq, at = envelope.event, envelope.seq, envelope.occurred_at
    when = {"occurred_at": _iso(at)}

    def make(kind: MessageType, slot: Slot, data: dict[str, Any]) -> Message:
        return Message(kind, state.drop_id, message_seq(seq, slot), {**data, **when})

    if isinstance(event, DropCreated):
        state.spec, state.stock, state.deleted = event.drop, event.stock, False
        return [make(MessageType.DROP_CREATED, Slot.PRIMARY,
                     {**drop_data(event.drop, at), **stock_data(event.stock)})]
    if isinstance(event, DropUpdated):
        changed = event.stock != state.stock
        state.spec, state.stock = event.drop, event.stock
        return [make(MessageType.STOCK_UPDATED, Slot.STOCK, stock_data(event.stock))] \
            if changed else []
    if isinstance(event, StockChanged):
        state.stock = event.stock
        return [make(MessageType.STOCK_UPDATED, Slot.STOCK, stock_data(event.stock))]
    if isinstance(event, PurchaseConfirmed):
        purchaser = {"username": event.username, "quantity": event.quantity,
                     "purchased_at": _iso(at)}
        state.purchasers.appendleft(purchaser)
        return [
            make(MessageType.PURCHASE_COMPLETED, Slot.PRIMARY, purchaser),
            make(MessageType.ACTIVITY_UPDATED, Slot.ACTIVITY,
                 {"latest_purchasers": list(state.purchasers)}),
        ]
    if isinstance(event, HoldExpired):
        return [make(MessageType.RESERVATION_EXPIRED, Slot.PRIMARY,
                     {"reservation_id": str(event.reservation_id), "quantity": event.quantity})]
    if isinstance(event, DropDeleted):
        state.deleted = True
    # StockReserved, ReservationRejected, HoldCancelled: the StockChanged that
    # follows them tells clients all they need; who reserved is nobody's business.
    return []


class DropBook:
    def __init__(self, window: int) -> None:
        self._window_size = window
        self._drops: dict[UUID, DropState] = {}

    def get(self, drop_id: UUID) -> DropState | None:
        return self._drops.get(drop_id)

    def drop_ids(self) -> Iterable[UUID]:
        return self._drops.keys()

    def apply(self, envelope: EventEnvelope) -> list[Message] | None:
        """The messages of one event, or None when it is a duplicate."""
        state = self._drops.get(envelope.drop_id)
        if state is None:
            state = self._drops[envelope.drop_id] = DropState(envelope.drop_id,
                                                              self._window_size)
        if envelope.seq <= state.last_event_seq:
            return None
        state.last_event_seq = envelope.seq
        messages = messages_for(state, envelope)
        for message in messages:
            state.remember(message)
        return messages

    def replay(self, drop_id: UUID, since: int, now: datetime) -> list[Message]:
        """What a client that has seen up to ``since`` missed: the recent messages
        (compacted: every event, the latest of each state), or a SNAPSHOT when
        some of them have left the window."""
        state = self._drops.get(drop_id)
        if state is None or since >= state.last_seq:
            return []
        if since >= state.evicted_upto:
            return compact([m for m in state.window if m.seq > since])
        return [self.snapshot(state, now)]

    @staticmethod
    def snapshot(state: DropState, now: datetime) -> Message:
        data: dict[str, Any] = {"deleted": state.deleted,
                                "latest_purchasers": list(state.purchasers)}
        if state.spec is not None:
            data["drop"] = drop_data(state.spec, now)
        if state.stock is not None:
            data.update(stock_data(state.stock))
        return Message(MessageType.SNAPSHOT, state.drop_id, state.last_seq, data)

