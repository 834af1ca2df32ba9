"""Coalescing: at most N stock updates per interval, the trailing one true, seqs rising."""

from __future__ import annotations

import itertools
import uuid

from stampede_notifier.domain.coalescer import Coalescer
from stampede_notifier.domain.messages import Message, MessageType, Slot, message_seq

DROP = uuid.uuid4()


def stock(event_seq: int, available: int, drop: uuid.UUID = DROP) -> Message:
    return Message(MessageType.STOCK_UPDATED, drop, message_seq(event_seq, Slot.STOCK),
                   {"available_stock": available})


def bought(event_seq: int) -> list[Message]:
    return [
        Message(MessageType.PURCHASE_COMPLETED, DROP, message_seq(event_seq, Slot.PRIMARY), {}),
        Message(MessageType.ACTIVITY_UPDATED, DROP, message_seq(event_seq, Slot.ACTIVITY), {}),
    ]


def test_first_goes_at_once_burst_waits_and_trailing_flush_is_latest():
    c = Coalescer(per_second=10)
    offer = c.offer(stock(1, 100), now=0.0)
    assert offer.send == [stock(1, 100)] and offer.flush_at is None
    offer = c.offer(stock(2, 99), now=0.01)
    assert offer.send == [] and offer.flush_at == 0.1
    for i in range(3, 50):
        assert c.offer(stock(i, 101 - i), now=0.02).send == []
    assert c.coalesced == 47
    flushed = c.flush(DROP, now=0.1)
    assert flushed == [stock(49, 52)]
    assert c.flush(DROP, now=0.1) == []
    # the next one inside the new interval waits again
    assert c.offer(stock(50, 51), now=0.15).flush_at == 0.2


def test_events_never_overtake_a_pending_stock_update():
    c = Coalescer(per_second=10)
    c.offer(stock(1, 10), now=0.0)
    c.offer(stock(2, 9), now=0.01)
    for m in bought(3):
        assert c.offer(m, now=0.02).send == []
    c.offer(stock(4, 8), now=0.03)
    for m in bought(5):
        c.offer(m, now=0.04)
    c.offer(stock(6, 7), now=0.05)
    out = c.flush(DROP, now=0.1)
    assert [m.seq for m in out] == sorted(m.seq for m in out)
    assert [m.type for m in out] == [MessageType.PURCHASE_COMPLETED,
                                     MessageType.PURCHASE_COMPLETED,
                                     MessageType.ACTIVITY_UPDATED,
                                     MessageType.STOCK_UPDATED]
    assert out[-1] == stock(6, 7)


def test_events_pass_at_once_when_nothing_waits_and_drops_are_independent():
    c = Coalescer(per_second=10)
    assert c.offer(bought(1)[0], now=0.0).send == [bought(1)[0]]
    other = uuid.uuid4()
    assert c.offer(stock(1, 5), now=0.0).send
    assert c.offer(stock(1, 5, drop=other), now=0.0).send


def test_rate_zero_disables_coalescing():
    c = Coalescer(per_second=0)
    for i in range(1, 100):
        assert c.offer(stock(i, 100 - i), now=0.0).send == [stock(i, 100 - i)]
    assert c.coalesced == 0


def test_at_most_n_per_second_over_a_long_burst():
    c = Coalescer(per_second=5)
    sent: list[float] = []
    flush_at: float | None = None
    now = 0.0
    for i in range(1, 2001):  # 2,000 changes over 2 seconds
        now = i / 1000
        if flush_at is not None and now >= flush_at:
            sent += [flush_at for _ in c.flush(DROP, flush_at)]
            flush_at = None
        offer = c.offer(stock(i, 3000 - i), now)
        sent += [now for _ in offer.send]
        flush_at = offer.flush_at or flush_at
    assert flush_at is not None
    last = c.flush(DROP, flush_at)
    assert last[-1].data["available_stock"] == 1000
    sent.append(flush_at)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 0.2 - 1e-9  # so at most 5 in any second
    assert len(sent) <= 2 * 5 + 1
