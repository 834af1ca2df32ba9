"""What the notifier knows of each drop, built from ``topics.events`` and
``topics.queue`` alone.

``DropBook.apply`` turns one event into the messages clients see, and drops
republished events (a crash between the inventory's commit and its publish
sends the same events again): an event whose ``seq`` is not above the last one
applied for its drop is a duplicate. Each drop keeps a bounded window of its
recent event messages for resume (``replay``); a client that missed more than the
window gets one SNAPSHOT of the drop's current state instead.

``DropBook.apply_queue`` keeps the drop's latest waiting-room figures (a state,
outside the window: a resume always ends with them). A deleted drop stays deleted
for resume: its replay is the DROP_DELETED alone, never what came before it.
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
    QueueUpdated,
    StockChanged,
    StockLevels,
)

from .messages import Message, MessageType, Slot, compact, event_seq_of, message_seq

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


def queue_data(update: QueueUpdated) -> dict[str, Any]:
    return {"serving": update.serving, "waiting": update.waiting,
            "sold_out": update.sold_out, "issued": update.issued,
            "admit_per_s": update.admit_per_s, "at": _iso(update.at)}


@dataclass
class DropState:
    drop_id: UUID
    window_size: int
    spec: DropSpec | None = None
    stock: StockLevels | None = None
    deleted: Message | None = None
    """The DROP_DELETED message while the drop is deleted (None otherwise)."""
    purchasers: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=LATEST_PURCHASERS)
    )
    queue: Message | None = None
    """The latest QUEUE_UPDATED (not in the window)."""
    queue_at: datetime | None = None
    last_event_seq: int = 0
    last_seq: int = 0
    """The seq of the latest event message (what a SNAPSHOT stands for)."""
    evicted_upto: int = 0
    """The seq of the newest message pushed out of the window (0: none yet)."""
    window: deque[Message] = field(default_factory=deque)

    def remember(self, message: Message) -> None:
        self.window.append(message)
        self.last_seq = message.seq
        if len(self.window) > self.window_size:
            self.evicted_upto = self.window.popleft().seq

    def queue_after(self, since: int) -> Message | None:
        """The latest queue figures placed after every event message this process has
        for the drop, and not below ``since`` (the client may come from a process that
        is ahead): the last message of a resume."""
        if self.queue is None:
            return None
        position = max(self.last_event_seq, event_seq_of(since))
        return self.queue.at_seq(max(self.queue.seq, message_seq(position, Slot.QUEUE)))


def messages_for(state: DropState, envelope: EventEnvelope) -> list[Message]:
    """Apply one event to the drop's state; return the messages it gives clients."""
    event, seq, at = envelope.event, envelope.seq, envelope.occurred_at
    when = {"occurred_at": _iso(at)}

    def make(kind: MessageType, slot: Slot, data: dict[str, Any]) -> Message:
        return Message(kind, state.drop_id, message_seq(seq, slot), {**data, **when})

    if isinstance(event, DropCreated):
        state.spec, state.stock, state.deleted = event.drop, event.stock, None
        return [make(MessageType.DROP_CREATED, Slot.PRIMARY,
                     {**drop_data(event.drop, at), **stock_data(event.stock)})]
    if isinstance(event, DropUpdated):
        changed = event.stock != state.stock
        state.spec, state.stock = event.drop, event.stock
        updated = make(MessageType.DROP_UPDATED, Slot.PRIMARY,
                       {**drop_data(event.drop, at), **stock_data(event.stock)})
        if not changed:
            return [updated]
        return [updated, make(MessageType.STOCK_UPDATED, Slot.STOCK, stock_data(event.stock))]
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
        state.deleted = make(MessageType.DROP_DELETED, Slot.PRIMARY, {})
        state.queue = state.queue_at = None  # a deleted drop has no waiting room
        return [state.deleted]
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

    def _state(self, drop_id: UUID) -> DropState:
        state = self._drops.get(drop_id)
        if state is None:
            state = self._drops[drop_id] = DropState(drop_id, self._window_size)
        return state

    def apply(self, envelope: EventEnvelope) -> list[Message] | None:
        """The messages of one event, or None when it is a duplicate."""
        state = self._state(envelope.drop_id)
        if envelope.seq <= state.last_event_seq:
            return None
        state.last_event_seq = envelope.seq
        messages = messages_for(state, envelope)
        for message in messages:
            state.remember(message)
        return messages

    def apply_queue(self, update: QueueUpdated) -> Message | None:
        """The QUEUE_UPDATED of one waiting-room update, or None when it tells nothing
        new: older than the figures held (``at``), or about a deleted drop."""
        state = self._state(update.drop_id)
        if state.deleted is not None or (state.queue_at is not None
                                         and update.at <= state.queue_at):
            return None
        state.queue_at = update.at
        state.queue = Message(MessageType.QUEUE_UPDATED, update.drop_id,
                              message_seq(state.last_event_seq, Slot.QUEUE),
                              queue_data(update))
        return state.queue

    def replay(self, drop_id: UUID, since: int, now: datetime) -> list[Message]:
        """What a client that has seen up to ``since`` missed: the recent messages
        (compacted: every event, the latest of each state), or a SNAPSHOT when
        some of them have left the window; then the latest queue figures. A deleted
        drop gives its DROP_DELETED alone, and only to a client that knew the drop
        (``0 < since`` below the deletion)."""
        state = self._drops.get(drop_id)
        if state is None:
            return []
        if state.deleted is not None:
            return [state.deleted] if 0 < since < state.deleted.seq else []
        missed: list[Message] = []
        if since < state.last_seq:
            if since >= state.evicted_upto:
                missed = compact([m for m in state.window if m.seq > since])
            else:
                missed = [self.snapshot(state, now)]
        queue = state.queue_after(since)
        return [*missed, queue] if queue is not None else missed

    @staticmethod
    def snapshot(state: DropState, now: datetime) -> Message:
        data: dict[str, Any] = {"deleted": state.deleted is not None,
                                "latest_purchasers": list(state.purchasers)}
        if state.spec is not None:
            data["drop"] = drop_data(state.spec, now)
        if state.stock is not None:
            data.update(stock_data(state.stock))
        if state.queue is not None:
            data["queue"] = dict(state.queue.data)
        return Message(MessageType.SNAPSHOT, state.drop_id, state.last_seq, data)
