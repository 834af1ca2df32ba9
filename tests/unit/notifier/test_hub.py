"""The hub with fake connections and a fake shared write: routing, one payload per drop
and tick, resume without gap or duplicate (also across processes), pacing with its
timer, slow clients, queue figures, deleted drops, admission limits."""

from __future__ import annotations

import asyncio
import json
import uuid

from stampede_notifier.domain.messages import Message, MessageType, Slot, message_seq
from stampede_notifier.service import CloseCode, Hub

from .helpers import created, deleted, envelope, purchase, queue_update, stock, updated


class FakeTransport:
    def __init__(self) -> None:
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing


class FakeConnection:
    """Implements the hub's Connection; ``full`` makes the shared write fail for it and
    ``send`` back up (as a transport that buffers)."""

    def __init__(self, net: FakeNet, capacity: int = 100, ip: str = "10.0.0.1") -> None:
        self.key = net.add(self)
        self.transport = FakeTransport()
        self.ip = ip
        self.paused = False
        self.seen: dict[uuid.UUID, int] | None = None
        self.capacity = capacity
        self.waiting = 0
        self.full = False
        self.received = b""
        self.kicked: tuple[int, str] | None = None

    def __hash__(self) -> int:
        return id(self)

    def send(self, payload: bytes, count: int) -> bool:
        if self.full:
            self.paused = True
            self.waiting += count
            return self.waiting <= self.capacity
        self.received += payload
        return True

    def kick(self, code: int, reason: str) -> None:
        self.kicked = (code, reason)

    def messages(self) -> list[dict]:
        """Everything received so far, decoded (and forgotten)."""
        out, data = [], self.received
        while data:
            size, start = data[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(data[2:4]), 4
            out.append(json.loads(data[start:start + size]))
            data = data[start + size:]
        self.received = b""
        return out


class FakeNet:
    """The shared write: each key's connection gets the payload, unless it is full."""

    def __init__(self) -> None:
        self.conns: dict[int, FakeConnection] = {}
        self.writes: list[tuple[int, int]] = []  # (sockets, payload bytes) per call

    def add(self, conn: FakeConnection) -> int:
        self.conns[len(self.conns) + 1] = conn
        return len(self.conns)

    def write(self, keys: list[int], payload: bytes) -> list[tuple[int, int]]:
        self.writes.append((len(keys), len(payload)))
        failed = []
        for i, key in enumerate(keys):
            if self.conns[key].full:
                failed.append((i, 0))
            else:
                self.conns[key].received += payload
        return failed


def make_hub(net: FakeNet, **kw) -> Hub:
    params = {"window": 100, "stock_updates_per_second": 0, "max_connections": 10,
              "max_connections_per_ip": 10}
    return Hub(**{**params, **kw}, writer=net.write)


async def tick() -> None:
    await asyncio.sleep(0)


def types(got: list[dict]) -> list[str]:
    return [m["type"] for m in got]


async def test_routing_one_payload_per_drop_and_tick():
    net = FakeNet()
    hub = make_hub(net)
    a, b = uuid.uuid4(), uuid.uuid4()
    only_a, everything = FakeConnection(net), FakeConnection(net)
    hub.connect(only_a, frozenset({a}), None)
    hub.connect(everything, None, None)
    hub.apply([envelope(a, 1, created(a)), envelope(b, 1, created(b)),
               envelope(a, 2, purchase("ann"))])
    assert net.writes == []  # nothing before the tick ends
    await tick()
    assert types(only_a.messages()) == ["DROP_CREATED", "PURCHASE_COMPLETED",
                                        "ACTIVITY_UPDATED"]
    assert len(everything.messages()) == 4
    # drop a: its room and the everything room, one write each; drop b: one
    assert sorted(n for n, _ in net.writes) == [1, 1, 1]


async def test_resume_gets_what_was_missed_then_live_without_duplicate():
    net = FakeNet()
    hub = make_hub(net)
    a = uuid.uuid4()
    hub.apply([envelope(a, 1, created(a)), envelope(a, 2, purchase("ann"))])
    await tick()
    late = FakeConnection(net)
    hub.connect(late, frozenset({a}), message_seq(1, Slot.PRIMARY))
    assert types(late.messages()) == ["PURCHASE_COMPLETED", "ACTIVITY_UPDATED"]
    assert not hub.rooms.is_held(late)  # in sync: on the shared write at once
    hub.apply([envelope(a, 2, purchase("ann")), envelope(a, 3, stock(8))])  # a republish
    await tick()
    assert types(late.messages()) == ["STOCK_UPDATED"]


async def test_resume_while_messages_are_unpublished_gets_each_once():
    net = FakeNet()
    hub = make_hub(net)
    a = uuid.uuid4()
    hub.apply([envelope(a, 1, created(a))])
    await tick()
    hub.apply([envelope(a, 2, stock(9))])  # made, not yet fanned out
    joiner = FakeConnection(net)
    hub.connect(joiner, frozenset({a}), message_seq(1, Slot.PRIMARY))
    assert [m["seq"] for m in joiner.messages()] == [message_seq(2, Slot.STOCK)]
    assert hub.rooms.is_held(joiner)
    await tick()  # the fan-out of seq 2: filtered for the joiner, who is then in sync
    assert joiner.messages() == []
    assert not hub.rooms.is_held(joiner)
    hub.apply([envelope(a, 3, stock(8))])
    await tick()
    assert [m["data"]["available_stock"] for m in joiner.messages()] == [8]


async def test_a_client_from_a_process_ahead_waits_for_this_one_to_catch_up():
    net = FakeNet()
    hub = make_hub(net)
    a = uuid.uuid4()
    hub.apply([envelope(a, 1, created(a)), envelope(a, 2, stock(9))])
    await tick()
    ahead = FakeConnection(net)  # it saw events up to 4 on another process
    hub.connect(ahead, frozenset({a}), message_seq(4, Slot.STOCK))
    assert ahead.messages() == [] and hub.rooms.is_held(ahead)
    hub.apply([envelope(a, 3, stock(8)), envelope(a, 4, stock(7))])
    await tick()
    assert ahead.messages() == []  # it has them
    assert not hub.rooms.is_held(ahead)
    hub.apply([envelope(a, 5, stock(6))])
    await tick()
    assert [m["data"]["available_stock"] for m in ahead.messages()] == [6]


async def test_pacing_sends_the_trailing_update_on_its_timer():
    net = FakeNet()
    hub = make_hub(net, stock_updates_per_second=20)  # 50 ms
    drop = uuid.uuid4()
    conn = FakeConnection(net)
    hub.connect(conn, frozenset({drop}), None)
    hub.apply([envelope(drop, 1, created(drop, total=100))])
    hub.apply([envelope(drop, seq, stock(100 - seq, total=100)) for seq in range(2, 60)])
    await tick()
    assert types(conn.messages()) == ["DROP_CREATED", "STOCK_UPDATED"]
    async with asyncio.timeout(2):  # the trailing flush comes on its 50 ms timer
        while not (flushed := conn.messages()):
            await asyncio.sleep(0.01)
    [last] = flushed
    assert last["data"]["available_stock"] == 41
    hub.stop()


async def test_a_full_socket_is_held_then_dropped_and_others_unaffected():
    net = FakeNet()
    hub = make_hub(net)
    drop = uuid.uuid4()
    slow, fine = FakeConnection(net, capacity=3), FakeConnection(net, capacity=1000)
    hub.connect(slow, frozenset({drop}), None)
    hub.connect(fine, frozenset({drop}), None)
    hub.apply([envelope(drop, 1, created(drop))])
    await tick()
    slow.full = True
    hub.apply([envelope(drop, 2, purchase("u2"))])
    await tick()
    hub.hold(slow)  # as its transport does once it buffers (pause_writing)
    assert slow.kicked is None and hub.rooms.is_held(slow)
    for s in range(3, 10):
        hub.apply([envelope(drop, s, purchase(f"u{s}"))])
        await tick()
    assert slow.kicked is not None and slow.kicked[0] == CloseCode.SLOW_CONSUMER
    assert slow not in hub.rooms
    assert len(fine.messages()) == 1 + 2 * 8


async def test_a_closed_transport_is_never_written_even_before_its_connection_hears():
    net = FakeNet()
    hub = make_hub(net)
    drop = uuid.uuid4()
    lost, fine = FakeConnection(net), FakeConnection(net)
    for conn in (lost, fine):
        hub.connect(conn, frozenset({drop}), None)
    lost.transport.closing = True  # uvloop closed it on a read error; its number is free
    hub.apply([envelope(drop, 1, created(drop))])
    await tick()
    assert lost.messages() == [] and lost not in hub.rooms
    assert types(fine.messages()) == ["DROP_CREATED"]
    assert net.writes == [(1, net.writes[0][1])]


async def test_queue_figures_reach_watchers_and_every_resume_ends_with_them():
    net = FakeNet()
    hub = make_hub(net)
    drop = uuid.uuid4()
    watcher = FakeConnection(net)
    hub.connect(watcher, frozenset({drop}), None)
    hub.apply([envelope(drop, 1, created(drop))])
    hub.apply_queue([queue_update(drop, serving=10, issued=50, second=1)])
    await tick()
    got = watcher.messages()
    assert types(got) == ["DROP_CREATED", "QUEUE_UPDATED"]
    assert got[1]["seq"] == message_seq(1, Slot.QUEUE)
    assert got[1]["data"] | {"at": None} == {"serving": 10, "waiting": 40, "sold_out": False,
                                             "issued": 50, "admit_per_s": 5.0, "at": None}
    hub.apply_queue([queue_update(drop, serving=5, issued=50, second=0)])  # older: ignored
    hub.apply_queue([queue_update(drop, serving=20, issued=60, second=2)])
    await tick()
    assert [m["data"]["serving"] for m in watcher.messages()] == [20]
    back = FakeConnection(net)  # it had the latest event and a queue update
    hub.connect(back, frozenset({drop}), message_seq(1, Slot.QUEUE))
    [again] = back.messages()
    assert again["type"] == "QUEUE_UPDATED" and again["data"]["serving"] == 20


async def test_a_deleted_drop_never_comes_back_on_resume():
    net = FakeNet()
    hub = make_hub(net)
    drop = uuid.uuid4()
    hub.apply([envelope(drop, 1, created(drop)), envelope(drop, 2, stock(9)),
               envelope(drop, 3, updated(drop, name="Renamed")), envelope(drop, 4, deleted(drop))])
    hub.apply_queue([queue_update(drop, serving=1, issued=2, second=1)])  # after: ignored
    await tick()
    knew = FakeConnection(net)
    hub.connect(knew, frozenset({drop}), message_seq(1, Slot.PRIMARY))
    assert types(knew.messages()) == ["DROP_DELETED"]
    fresh = FakeConnection(net)
    hub.connect(fresh, None, 0)
    assert fresh.messages() == []
    done = FakeConnection(net)
    hub.connect(done, frozenset({drop}), message_seq(4, Slot.PRIMARY))
    assert done.messages() == []


def test_admission_limits():
    hub = make_hub(FakeNet(), max_connections=3, max_connections_per_ip=2)
    assert hub.admit("1.1.1.1") is None and hub.admit("1.1.1.1") is None
    assert hub.admit("1.1.1.1") == (CloseCode.TOO_MANY_FROM_IP, "too many connections from "
                                    "this address")
    assert hub.admit("2.2.2.2") is None
    refused = hub.admit("3.3.3.3")
    assert refused is not None and refused[0] == CloseCode.TRY_AGAIN_LATER
    hub.release("1.1.1.1")
    assert hub.admit("3.3.3.3") is None
    assert hub.connection_count == 3


def test_message_types_are_the_api_ones():
    assert {t.value for t in MessageType} >= {
        "DROP_CREATED", "STOCK_UPDATED", "RESERVATION_EXPIRED", "PURCHASE_COMPLETED",
        "ACTIVITY_UPDATED", "DROP_UPDATED", "DROP_DELETED", "QUEUE_UPDATED"}
    assert Message(MessageType.QUEUE_UPDATED, uuid.uuid4(), 3, {}).in_stream is False
