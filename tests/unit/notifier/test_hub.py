"""The hub with fake connections: routing, resume, pacing with its timer, slow clients,
admission limits."""

from __future__ import annotations

import asyncio
import uuid

from stampede_notifier.domain.messages import Message, MessageType
from stampede_notifier.domain.outbox import Outbox
from stampede_notifier.service import CloseCode, Hub

from .helpers import created, envelope, purchase, stock


class FakeConnection:
    """Implements the hub's Connection: queues only (no socket)."""

    def __init__(self, capacity: int = 100, ip: str = "10.0.0.1") -> None:
        self.outbox = Outbox(capacity)
        self.ip = ip
        self.kicked: tuple[int, str] | None = None

    def __hash__(self) -> int:
        return id(self)

    def push(self, messages: list[Message]) -> int | None:
        return 0 if all(self.outbox.offer(m) for m in messages) else None

    def kick(self, code: int, reason: str) -> None:
        self.kicked = (code, reason)

    def drain(self) -> list[str]:
        out = []
        while (text := self.outbox.take()) is not None:
            out.append(text)
        return out


def hub(**kw) -> Hub:
    params = {"window": 100, "stock_updates_per_second": 0, "max_connections": 10,
              "max_connections_per_ip": 10}
    return Hub(**{**params, **kw})


def types(texts: list[str]) -> list[str]:
    import json

    return [json.loads(t)["type"] for t in texts]


async def test_routing_and_resume_without_gap_or_duplicate():
    h = hub()
    a, b = uuid.uuid4(), uuid.uuid4()
    only_a, everything = FakeConnection(), FakeConnection()
    h.connect(only_a, frozenset({a}), None)
    h.connect(everything, None, None)
    h.apply([envelope(a, 1, created(a)), envelope(b, 1, created(b)),
             envelope(a, 2, purchase("ann"))])
    assert types(only_a.drain()) == ["DROP_CREATED", "PURCHASE_COMPLETED", "ACTIVITY_UPDATED"]
    assert len(everything.drain()) == 4
    late = FakeConnection()
    h.connect(late, frozenset({a}), 4)  # saw DROP_CREATED (seq 4) only
    assert types(late.drain()) == ["PURCHASE_COMPLETED", "ACTIVITY_UPDATED"]
    h.apply([envelope(a, 2, purchase("ann")), envelope(a, 3, stock(8))])  # a republish
    assert types(late.drain()) == ["STOCK_UPDATED"]


async def test_pacing_sends_the_trailing_update_on_its_timer():
    h = hub(stock_updates_per_second=20)  # 50 ms
    drop = uuid.uuid4()
    conn = FakeConnection()
    h.connect(conn, frozenset({drop}), None)
    h.apply([envelope(drop, 1, created(drop, total=100))])
    h.apply([envelope(drop, seq, stock(100 - seq, total=100)) for seq in range(2, 60)])
    first = conn.drain()
    assert types(first) == ["DROP_CREATED", "STOCK_UPDATED"]
    await asyncio.sleep(0.1)
    [last] = conn.drain()
    assert '"available_stock":41' in last
    h.stop()


async def test_overflowing_client_is_kicked_and_others_unaffected():
    h = hub()
    drop = uuid.uuid4()
    slow, fine = FakeConnection(capacity=3), FakeConnection(capacity=1000)
    h.connect(slow, frozenset({drop}), None)
    h.connect(fine, frozenset({drop}), None)
    h.apply([envelope(drop, 1, created(drop))])
    h.apply([envelope(drop, s, purchase(f"u{s}")) for s in range(2, 10)])
    assert slow.kicked is not None and slow.kicked[0] == CloseCode.SLOW_CONSUMER
    assert slow not in h.rooms
    assert len(fine.drain()) == 1 + 2 * 8


def test_admission_limits():
    h = hub(max_connections=3, max_connections_per_ip=2)
    assert h.admit("1.1.1.1") is None and h.admit("1.1.1.1") is None
    assert h.admit("1.1.1.1") == (CloseCode.TOO_MANY_FROM_IP, "too many connections from "
                                  "this address")
    assert h.admit("2.2.2.2") is None
    refused = h.admit("3.3.3.3")
    assert refused is not None and refused[0] == CloseCode.TRY_AGAIN_LATER
    h.release("1.1.1.1")
    assert h.admit("3.3.3.3") is None
    assert h.connection_count == 3


def test_message_types_are_the_api_ones():
    assert {t.value for t in MessageType} >= {
        "DROP_CREATED", "STOCK_UPDATED", "RESERVATION_EXPIRED", "PURCHASE_COMPLETED",
        "ACTIVITY_UPDATED"}
