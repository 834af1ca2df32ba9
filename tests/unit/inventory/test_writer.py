"""The partition writer: dedupe by command id, re-addressed replies, staged state."""

from __future__ import annotations

import uuid

from stampede_contracts import CommandEnvelope, CreateDrop, ReserveStock
from stampede_inventory.writer import PartitionWriter

from .builders import ALICE, DROP, T0, spec


def env(command, cid=None, reply_to="gw-1"):
    return CommandEnvelope(command_id=cid or uuid.uuid4(), drop_id=DROP, occurred_at=T0,
                           reply_to=reply_to, command=command)


RESERVE = ReserveStock(drop_id=DROP, user_id=ALICE, username="alice")


def test_an_uncommitted_batch_is_undone_whole():
    writer = PartitionWriter(3)
    writer.commit(writer.decide_batch([env(CreateDrop(drop=spec()))], T0, {}))
    before = writer.drops[DROP].copy()
    batch = writer.decide_batch([env(RESERVE),
                                 env(ReserveStock(drop_id=DROP, user_id=uuid.uuid4(),
                                                  username="bob"))], T0, {})
    assert all(a.reply.ok for a in batch.applied)
    assert writer.drops[DROP].held == 2  # decided in place, journaled
    writer.rollback(batch)  # the transaction failed: as if never decided
    assert writer.drops[DROP] == before
    batch = writer.decide_batch([env(RESERVE)], T0, {})
    writer.commit(batch)
    assert writer.drops[DROP].held == 1 and writer.holds_active() == 1
    assert writer.drops[DROP].seq == before.seq + 2  # the undone batch left no seq behind


def test_redelivered_command_gets_first_reply_readdressed_without_effect():
    writer = PartitionWriter(0)
    cid = uuid.uuid4()
    first = writer.decide_batch([env(CreateDrop(drop=spec())), env(RESERVE, cid)], T0, {})
    writer.commit(first)
    stored = {a.envelope.command_id: a.reply for a in first.applied}
    again = writer.decide_batch([env(RESERVE, cid, reply_to="gw-2")], T0, stored)
    assert not again.applied
    (reply,) = again.duplicates
    assert reply.reply_to == "gw-2" and reply.result == stored[cid].result and reply.ok
    writer.commit(again)
    assert writer.drops[DROP].held == 1


def test_duplicate_inside_one_batch_is_decided_once():
    writer = PartitionWriter(0)
    cid = uuid.uuid4()
    batch = writer.decide_batch(
        [env(CreateDrop(drop=spec())), env(RESERVE, cid), env(RESERVE, cid)], T0, {}
    )
    assert len(batch.applied) == 2 and len(batch.duplicates) == 1
    assert batch.duplicates[0] == batch.applied[1].reply
    assert len(batch.replies) == 3


def test_command_without_reply_to_is_still_recorded():
    writer = PartitionWriter(0)
    batch = writer.decide_batch([env(CreateDrop(drop=spec()), reply_to=None)], T0, {})
    assert batch.applied[0].reply.reply_to == ""


def test_a_batch_tells_the_stock_once_per_drop_and_numbers_its_events_without_gaps():
    writer = PartitionWriter(0)
    writer.commit(writer.decide_batch([env(CreateDrop(drop=spec(total_stock=10)))], T0, {}))
    buyers = [uuid.uuid4() for _ in range(4)]
    reserves = [env(ReserveStock(drop_id=DROP, user_id=u, username="u")) for u in buyers]
    start = writer.drops[DROP].seq + 1
    batch = writer.decide_batch(reserves, T0, {})
    events = [(n.seq, n.event.type) for a in batch.applied for n in a.decision.events]
    # four holds and ONE stock change, at the end
    assert events == [(start + i, "StockReserved") for i in range(4)] + [
        (start + 4, "StockChanged")]
    last = batch.applied[-1].decision.events[-1].event
    assert (last.stock.available, last.stock.held) == (6, 4)  # after the batch's last hold
    assert {a.reply.seq for a in batch.applied} == {start + 4}  # all: the batch's end
    writer.commit(batch)
    assert writer.drops[DROP].seq == start + 4
    again = writer.decide_batch([env(ReserveStock(drop_id=DROP, user_id=uuid.uuid4(),
                                                  username="v"))], T0, {})
    assert [n.seq for n in again.applied[0].decision.events] == [start + 5, start + 6]
