"""A resuming client's filter: nothing twice, nothing missed, seqs never going down."""

from __future__ import annotations

import uuid

from stampede_notifier.domain.catchup import in_sync, still_needed
from stampede_notifier.domain.messages import Message, MessageType, Slot, message_seq

DROP = uuid.uuid4()


def stock(event_seq: int) -> Message:
    return Message(MessageType.STOCK_UPDATED, DROP, message_seq(event_seq, Slot.STOCK),
                   {"available_stock": event_seq})


def queue(event_seq: int, serving: int) -> Message:
    return Message(MessageType.QUEUE_UPDATED, DROP, message_seq(event_seq, Slot.QUEUE),
                   {"serving": serving})


def test_stream_messages_it_has_are_dropped_and_seen_advances():
    seen = {DROP: stock(5).seq}
    out = still_needed(seen, DROP, [stock(4), stock(5), stock(6), stock(7)])
    assert out == [stock(6), stock(7)]
    assert seen[DROP] == stock(7).seq
    assert still_needed(seen, DROP, [stock(7)]) == []


def test_queue_figures_always_pass_never_below_the_clients_position():
    seen = {DROP: stock(9).seq}  # came from a process ahead of this one
    [late] = still_needed(seen, DROP, [queue(6, serving=40)])
    assert late.data == {"serving": 40} and late.seq == message_seq(9, Slot.QUEUE)
    [same] = still_needed(seen, DROP, [queue(9, serving=41)])
    assert same.seq == message_seq(9, Slot.QUEUE)
    assert seen[DROP] == stock(9).seq  # queue figures are no stream position


def test_other_drops_pass_untouched():
    other = Message(MessageType.STOCK_UPDATED, uuid.uuid4(), 3, {})
    assert still_needed({DROP: 100}, other.drop_id, [other]) == [other]


def test_in_sync_once_nothing_is_unpublished_and_the_client_is_not_ahead():
    assert in_sync(stock(5).seq, last_event_seq=5, unpublished=False)
    assert in_sync(message_seq(5, Slot.QUEUE), last_event_seq=5, unpublished=False)
    assert not in_sync(stock(5).seq, last_event_seq=5, unpublished=True)
    assert not in_sync(stock(6).seq, last_event_seq=5, unpublished=False)
    assert in_sync(0, last_event_seq=0, unpublished=False)
