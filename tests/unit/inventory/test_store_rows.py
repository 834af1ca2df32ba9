"""The rows a batch's events imply (pure part of the store): one final status per hold."""

from __future__ import annotations

import uuid

from stampede_contracts import (
    BuyNow,
    CancelHold,
    CommandEnvelope,
    CreateDrop,
    ReserveStock,
    decode_event,
    reservation_id_for,
)
from stampede_inventory.adapters.store import _rows, outbox_of
from stampede_inventory.writer import PartitionWriter

from .builders import ALICE, BOB, DROP, T0, spec


def env(command, cid=None):
    return CommandEnvelope(command_id=cid or uuid.uuid4(), drop_id=DROP, occurred_at=T0,
                           reply_to="gw", command=command)


def test_rows_of_a_batch_carry_each_holds_final_status():
    writer = PartitionWriter(2)
    writer.commit(writer.decide_batch([env(CreateDrop(drop=spec()))], T0, {}))
    held = uuid.uuid4()
    writer.commit(writer.decide_batch(
        [env(ReserveStock(drop_id=DROP, user_id=ALICE, username="a"), held)], T0, {}))
    cancelled, bought = uuid.uuid4(), uuid.uuid4()
    batch = writer.decide_batch([
        env(ReserveStock(drop_id=DROP, user_id=BOB, username="b"), cancelled),
        env(CancelHold(drop_id=DROP, user_id=BOB, reservation_id=reservation_id_for(cancelled))),
        env(CancelHold(drop_id=DROP, user_id=ALICE, reservation_id=reservation_id_for(held))),
        env(BuyNow(drop_id=DROP, user_id=uuid.uuid4(), username="c"), bought),
    ], T0, {})
    rows = _rows(2, batch)
    statuses = {rid: row[7] for rid, row in rows.new_holds.items()}
    assert statuses == {reservation_id_for(cancelled): "cancelled",
                        reservation_id_for(bought): "purchased"}
    assert {rid: s for rid, (s, _) in rows.status.items()} == {
        reservation_id_for(held): "cancelled"}
    assert [p[1] for p in rows.purchases] == [reservation_id_for(bought)]
    outbox = outbox_of(batch)
    seqs = [decode_event(m.json.encode()).seq for m in outbox.events]
    assert seqs == list(range(5, 5 + len(outbox.events)))
    assert all(m.key == str(DROP) for m in outbox.events)
    assert len(outbox.replies) == 4

