"""The store against a real PostgreSQL: what a new owner republishes is what the old one
would have sent (events, first replies through ``processed``, resent replies), and a
fenced writer commits nothing."""

from __future__ import annotations

import uuid

import pytest
from stampede_contracts import (
    CommandEnvelope,
    ConfirmPurchase,
    CreateDrop,
    DropSpec,
    ReserveStock,
    utcnow,
)
from stampede_inventory.adapters.schema import migrate
from stampede_inventory.adapters.store import AlreadyDecided, Fenced, InventoryStore, outbox_of
from stampede_inventory.writer import PartitionWriter
from stampede_runtime.db import open_pool

pytestmark = pytest.mark.integration


def _env(command, cid=None, reply_to="gw-1"):
    return CommandEnvelope(command_id=cid or uuid.uuid4(), drop_id=command.drop_id,
                           occurred_at=utcnow(), reply_to=reply_to, command=command)


async def test_new_owner_republishes_exactly_what_was_committed(fresh_database):
    pool = await open_pool(fresh_database(), "inventory", size=2)
    try:
        async with pool.connection() as conn:
            await migrate(conn)
        store = InventoryStore(pool)
        first = await store.claim(0)
        drop = DropSpec(drop_id=uuid.uuid4(), name="d", price_cents=100, total_stock=5)
        writer = PartitionWriter(0)
        now = utcnow()
        user = uuid.uuid4()
        again = uuid.uuid4()
        batch1 = writer.decide_batch([
            _env(CreateDrop(drop=drop), reply_to=None),
            _env(ReserveStock(drop_id=drop.drop_id, user_id=user, username='o"neil\\'), again),
        ], now, {})
        out1 = outbox_of(batch1)
        id1 = await store.commit_batch(0, first.epoch, 2, batch1, out1, None)
        writer.commit(batch1)
        redelivered = writer.decide_batch([  # decided as new: the commit finds it out
            _env(ReserveStock(drop_id=drop.drop_id, user_id=user, username="x"), again)],
            now, {})
        with pytest.raises(AlreadyDecided):
            await store.commit_batch(0, first.epoch, 3, redelivered, outbox_of(redelivered),
                                     None, optimistic=True)
        processed = await store.processed(0, [again])
        assert list(processed) == [again]
        assert await store.processed(1, [again]) == {}  # another partition's: not ours
        batch2 = writer.decide_batch([
            _env(ReserveStock(drop_id=drop.drop_id, user_id=user, username="x"), again,
                 reply_to="gw-2"),  # redelivered: its first reply, re-addressed
            _env(ConfirmPurchase(drop_id=drop.drop_id, user_id=user, username="o")),
        ], now, processed)
        assert len(batch2.duplicates) == 1 and len(batch2.applied) == 1
        out2 = outbox_of(batch2)
        id2 = await store.commit_batch(0, first.epoch, 4, batch2, out2, None)

        second = await store.claim(0)  # a new owner: nothing was published
        assert second.epoch == first.epoch + 1 and second.next_offset == 4
        assert [o.id for o in second.outbox] == [id1, id2]
        for stored, sent in zip(second.outbox, (out1, out2), strict=True):
            assert stored.events == sent.events
            assert sorted(stored.replies) == sorted(sent.replies)
        assert [m.key for m in second.outbox[0].replies] == ["gw-1"]  # none without reply_to
        assert {m.key for m in second.outbox[1].replies} == {"gw-1", "gw-2"}
        state = second.drops[drop.drop_id]
        assert (state.held, state.sold) == (0, 1)

        with pytest.raises(Fenced):  # the old owner can no longer commit
            late = writer.decide_batch([_env(CreateDrop(drop=drop))], now, {})
            await store.commit_batch(0, first.epoch, 5, late, outbox_of(late), id2)
        third = await store.claim(0)
        assert [o.id for o in third.outbox] == [id1, id2] and third.next_offset == 4
    finally:
        await pool.close()
