"""Event -> message mapping, seq scheme, dedupe, resume window and snapshots."""

from __future__ import annotations

import json
import uuid

from stampede_notifier.domain.drops import DropBook
from stampede_notifier.domain.messages import (
    SLOTS_PER_EVENT,
    MessageType,
    Slot,
    event_seq_of,
    message_seq,
)

from .helpers import T0, created, envelope, expired, purchase, reserved, stock

DROP = uuid.uuid4()


def test_messages_of_each_event_with_api_shapes():
    book = DropBook(window=100)
    [m] = book.apply(envelope(DROP, 1, created(DROP)))
    assert m.type is MessageType.DROP_CREATED and m.seq == message_seq(1, Slot.PRIMARY)
    assert m.data["available_stock"] == 10 and m.data["name"] == "Air Max"
    assert book.apply(envelope(DROP, 2, reserved())) == []
    [m] = book.apply(envelope(DROP, 3, stock(9, held=1)))
    assert m.type is MessageType.STOCK_UPDATED and m.data["available_stock"] == 9
    done, activity = book.apply(envelope(DROP, 4, purchase("ann")))
    assert done.type is MessageType.PURCHASE_COMPLETED
    assert done.data["username"] == "ann" and done.data["purchased_at"].startswith("2026-01-01")
    assert activity.type is MessageType.ACTIVITY_UPDATED and activity.seq > done.seq
    assert activity.data["latest_purchasers"][0]["username"] == "ann"
    [m] = book.apply(envelope(DROP, 5, expired()))
    assert m.type is MessageType.RESERVATION_EXPIRED and m.data["quantity"] == 1
    wire = json.loads(m.text)
    assert set(wire) == {"type", "drop_id", "seq", "data"}
    assert wire["drop_id"] == str(DROP) and wire["seq"] == m.seq


def test_seq_rises_and_is_derived_from_the_event_seq():
    book = DropBook(window=100)
    seqs = []
    for seq, event in enumerate([created(DROP), purchase("a"), stock(9), purchase("b")], 1):
        for m in book.apply(envelope(DROP, seq, event)) or []:
            assert event_seq_of(m.seq) == seq
            seqs.append(m.seq)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert seqs[0] == SLOTS_PER_EVENT  # event 1, slot 0
    # another process reading the same log numbers the messages alike
    other = DropBook(window=3)
    again = [m.seq for s, e in enumerate([created(DROP), purchase("a"), stock(9),
                                          purchase("b")], 1)
             for m in other.apply(envelope(DROP, s, e)) or []]
    assert again == seqs


def test_latest_purchasers_keeps_three_newest_first():
    book = DropBook(window=100)
    last = None
    for seq, name in enumerate(["a", "b", "c", "d"], 1):
        last = book.apply(envelope(DROP, seq, purchase(name)))
    assert last is not None
    assert [p["username"] for p in last[1].data["latest_purchasers"]] == ["d", "c", "b"]


def test_republished_events_are_ignored():
    book = DropBook(window=100)
    book.apply(envelope(DROP, 1, created(DROP)))
    book.apply(envelope(DROP, 2, stock(9)))
    assert book.apply(envelope(DROP, 2, stock(9))) is None
    assert book.apply(envelope(DROP, 1, created(DROP))) is None
    assert book.apply(envelope(DROP, 3, stock(8))) is not None


def test_replay_compacts_states_and_keeps_events():
    book = DropBook(window=100)
    book.apply(envelope(DROP, 1, created(DROP)))
    for seq in range(2, 12):
        book.apply(envelope(DROP, seq, stock(12 - seq)))
    book.apply(envelope(DROP, 12, purchase("x")))
    book.apply(envelope(DROP, 13, stock(0)))
    since = message_seq(1, Slot.PRIMARY)
    replay = book.replay(DROP, since, T0)
    assert [m.type for m in replay] == [MessageType.PURCHASE_COMPLETED,
                                        MessageType.ACTIVITY_UPDATED,
                                        MessageType.STOCK_UPDATED]
    assert replay[-1].data["available_stock"] == 0
    assert book.replay(DROP, replay[-1].seq, T0) == []
    assert book.replay(uuid.uuid4(), 0, T0) == []


def test_replay_beyond_the_window_is_a_snapshot():
    book = DropBook(window=4)
    book.apply(envelope(DROP, 1, created(DROP)))
    for seq in range(2, 10):
        book.apply(envelope(DROP, seq, stock(12 - seq)))
    book.apply(envelope(DROP, 10, purchase("zed")))
    [snap] = book.replay(DROP, message_seq(1, Slot.PRIMARY), T0)
    assert snap.type is MessageType.SNAPSHOT
    state = book.get(DROP)
    assert state is not None and snap.seq == state.last_seq
    assert snap.data["available_stock"] == 3
    assert snap.data["latest_purchasers"][0]["username"] == "zed"
    assert snap.data["drop"]["name"] == "Air Max"
    # within the window: the messages themselves
    recent = book.replay(DROP, message_seq(8, Slot.STOCK), T0)
    assert [m.type for m in recent] == [MessageType.STOCK_UPDATED,
                                        MessageType.PURCHASE_COMPLETED,
                                        MessageType.ACTIVITY_UPDATED]
