"""The notifier skips, before decoding, exactly the events that give clients nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from stampede_contracts import (
    EventEnvelope,
    HoldCancelled,
    HoldExpired,
    RejectionCode,
    ReservationRejected,
    StockChanged,
    StockLevels,
    StockReserved,
    encode,
    event_id_for,
)
from stampede_notifier.consumer import tells_clients
from stampede_notifier.domain.drops import DropState, messages_for

DROP, USER = uuid.uuid4(), uuid.uuid4()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def record(event) -> tuple[ConsumerRecord, EventEnvelope]:
    envelope = EventEnvelope(event_id=event_id_for(DROP, 3), drop_id=DROP, seq=3,
                             occurred_at=NOW, event=event)
    return ConsumerRecord("t", 0, 0, 0, 0, None, encode(envelope), None, 0, 0, []), envelope


def test_skipped_on_their_bytes_are_those_that_give_no_message():
    rid = uuid.uuid4()
    events = [
        StockReserved(reservation_id=rid, user_id=USER, username='say "StockChanged"',
                      quantity=1, expires_at=NOW),
        ReservationRejected(user_id=USER, code=RejectionCode.OUT_OF_STOCK, quantity=1),
        HoldCancelled(reservation_id=rid, user_id=USER, quantity=1),
        HoldExpired(reservation_id=rid, user_id=USER, quantity=1),
        StockChanged(stock=StockLevels(total_stock=1, available=1, held=0, sold=0)),
    ]
    for event in events:
        rec, envelope = record(event)
        gives = messages_for(DropState(DROP, 16), envelope)
        assert tells_clients(rec) == bool(gives), event.type
