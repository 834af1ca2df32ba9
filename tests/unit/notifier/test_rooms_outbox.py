"""Rooms (who hears which drop) and the bounded, seq-filtering outbox."""

from __future__ import annotations

import uuid

from stampede_notifier.domain.messages import Message, MessageType
from stampede_notifier.domain.outbox import Outbox
from stampede_notifier.domain.rooms import Rooms

A, B = uuid.uuid4(), uuid.uuid4()


def test_rooms_route_by_drop_and_everything():
    rooms: Rooms[str] = Rooms()
    rooms.join("a-only", frozenset({A}))
    rooms.join("both", frozenset({A, B}))
    rooms.join("all", None)
    assert sorted(rooms.members(A)) == ["a-only", "all", "both"]
    assert sorted(rooms.members(B)) == ["all", "both"]
    assert sorted(rooms.members(uuid.uuid4())) == ["all"]
    rooms.leave("both")
    rooms.leave("all")
    rooms.leave("never joined")
    assert list(rooms.members(B)) == []
    assert len(rooms) == 1 and "a-only" in rooms


def message(seq: int, drop: uuid.UUID = A) -> Message:
    return Message(MessageType.STOCK_UPDATED, drop, seq, {"available_stock": seq})


def test_outbox_filters_old_seqs_and_overflows():
    box = Outbox(capacity=3)
    box.seen(A, 10)
    assert box.offer(message(9)) and box.offer(message(10))
    assert len(box) == 0  # already seen
    assert box.offer(message(11)) and box.offer(message(11))
    assert box.offer(message(5, B))
    assert len(box) == 2
    assert box.offer(message(12))
    assert not box.offer(message(13))
    assert box.overflowed and len(box) == 0
    assert not box.offer(message(14))


def test_outbox_keeps_order():
    box = Outbox(capacity=10)
    for s in (1, 2, 3):
        box.offer(message(s))
    assert [box.take(), box.take(), box.take(), box.take()] == [
        message(1).text, message(2).text, message(3).text, None]
