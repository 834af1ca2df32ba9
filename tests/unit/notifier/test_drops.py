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

from .helpers import (
    T0,
    created,
    deleted,
    envelope,
    expired,
    purchase,
    queue_update,
    reserved,
    stock,
    updated,
)

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


def test_admin_changes_give_drop_updated_and_stock_when_it_changed():
    book = DropBook(window=100)
    book.apply(envelope(DROP, 1, created(DROP)))
    [renamed] = book.apply(envelope(DROP, 2, updated(DROP, "Air Max 2")))
    assert renamed.type is MessageType.DROP_UPDATED and renamed.seq == message_seq(2, Slot.PRIMARY)
    assert renamed.data["name"] == "Air Max 2" and renamed.data["status"] == "live"
    restocked, stock_update = book.apply(envelope(DROP, 3, updated(DROP, "Air Max 2", total=20,
                                                                   available=20)))
    assert restocked.data["total_stock"] == 20
    assert stock_update.type is MessageType.STOCK_UPDATED
    assert stock_update.data["available_stock"] == 20 and stock_update.seq > restocked.seq
    [gone] = book.apply(envelope(DROP, 4, deleted(DROP)))
    assert gone.type is MessageType.DROP_DELETED and gone.seq == message_seq(4, Slot.PRIMARY)


def test_queue_figures_take_slot_three_of_the_latest_event_and_stale_ones_are_ignored():
    book = DropBook(window=100)
    early = book.apply_queue(queue_update(DROP, serving=1, issued=9, second=1))
    assert early is not None and early.seq == message_seq(0, Slot.QUEUE)
    book.apply(envelope(DROP, 1, created(DROP)))
    book.apply(envelope(DROP, 2, stock(9)))
    later = book.apply_queue(queue_update(DROP, serving=3, issued=9, second=2))
    assert later is not None and later.seq == message_seq(2, Slot.QUEUE)
    assert later.data["waiting"] == 6 and later.data["at"] == "2026-01-01T00:00:02Z"
    assert book.apply_queue(queue_update(DROP, serving=2, issued=9, second=2)) is None
    assert book.apply_queue(queue_update(DROP, serving=2, issued=9, second=1)) is None
    again = book.apply_queue(queue_update(DROP, serving=3, issued=9, second=3))
    assert again is not None and again.seq == later.seq  # a state: same place, newer figures


def test_replay_ends_with_the_latest_queue_figures_placed_after_the_stream():
    book = DropBook(window=4)
    book.apply(envelope(DROP, 1, created(DROP)))
    book.apply_queue(queue_update(DROP, serving=5, issued=9, second=1))
    for seq in range(2, 4):
        book.apply(envelope(DROP, seq, stock(12 - seq)))
    replay = book.replay(DROP, message_seq(2, Slot.STOCK), T0)
    assert [m.type for m in replay] == [MessageType.STOCK_UPDATED, MessageType.QUEUE_UPDATED]
    assert replay[-1].seq == message_seq(3, Slot.QUEUE) and replay[-1].data["serving"] == 5
    # nothing else missed: the figures all the same; from a process ahead: not below it
    [only] = book.replay(DROP, message_seq(3, Slot.QUEUE), T0)
    assert only.type is MessageType.QUEUE_UPDATED
    [ahead] = book.replay(DROP, message_seq(7, Slot.STOCK), T0)
    assert ahead.seq == message_seq(7, Slot.QUEUE)
    for seq in range(4, 10):
        book.apply(envelope(DROP, seq, stock(12 - seq)))
    snapshot, queue = book.replay(DROP, message_seq(1, Slot.PRIMARY), T0)
    assert snapshot.type is MessageType.SNAPSHOT and snapshot.data["queue"]["serving"] == 5
    assert queue.seq > snapshot.seq


def test_a_deleted_drop_replays_as_its_deletion_alone_and_takes_no_queue_figures():
    book = DropBook(window=100)
    book.apply(envelope(DROP, 1, created(DROP)))
    book.apply(envelope(DROP, 2, stock(9)))
    book.apply_queue(queue_update(DROP, serving=5, issued=9, second=1))
    book.apply(envelope(DROP, 3, deleted(DROP)))
    [gone] = book.replay(DROP, message_seq(1, Slot.PRIMARY), T0)
    assert gone.type is MessageType.DROP_DELETED
    assert book.replay(DROP, 0, T0) == []  # a client that never knew it
    assert book.replay(DROP, gone.seq, T0) == []
    assert book.apply_queue(queue_update(DROP, serving=6, issued=9, second=2)) is None
    # re-created (the inventory continues its seq): a drop again
    [back] = book.apply(envelope(DROP, 4, created(DROP)))
    assert [m.type for m in book.replay(DROP, gone.seq, T0)] == [MessageType.DROP_CREATED]
    assert back.seq > gone.seq
