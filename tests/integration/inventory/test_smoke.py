"""One inventory process: the order path answers, persists, and survives garbage."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from stampede_contracts import (
    CommandEnvelope,
    ConfirmPurchase,
    DeleteDrop,
    RejectionCode,
    ReserveStock,
)

from .harness import assert_consistent, assert_event_log, db_state, spec

pytestmark = pytest.mark.integration


async def test_reserve_purchase_redelivery_and_garbage(cluster, client):
    proc = cluster.start("inventory-0")
    drop = spec(2)
    await client.create_drops([drop])
    alice, bob, carol = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    reserve = client.envelope(ReserveStock(drop_id=drop.drop_id, user_id=alice, username="a"))
    # garbage and a misrouted command before it: dead-lettered, the writer carries on
    await client.producer.send_raw(client.topics.commands, str(drop.drop_id).encode(),
                                   b"{not json", ())
    misrouted = client.envelope(DeleteDrop(drop_id=drop.drop_id))
    await client.producer.send_raw(client.topics.commands, b"some-other-key",
                                   misrouted.model_dump_json().encode(), ())
    await client.send([reserve])
    first = (await client.answers([reserve.command_id]))[reserve.command_id]
    assert first.ok and first.result.kind == "reservation"

    # the same command again (a gateway retry) to another gateway: same answer, no effect
    again = CommandEnvelope(**{**reserve.model_dump(), "reply_to": "other-gateway"})
    await client.send([again])
    await client.answers([reserve.command_id])
    async with asyncio.timeout(30):
        while len(client.replies[reserve.command_id]) < 2:
            await asyncio.sleep(0.05)
    second = client.replies[reserve.command_id][1]
    assert second.reply_to == "other-gateway"
    assert second.model_copy(update={"reply_to": first.reply_to}) == first

    bob_hold = await client.ask(ReserveStock(drop_id=drop.drop_id, user_id=bob, username="b"))
    assert bob_hold.ok
    sold_out = await client.ask(ReserveStock(drop_id=drop.drop_id, user_id=carol, username="c"))
    assert sold_out.code is RejectionCode.OUT_OF_STOCK
    bought = await client.ask(ConfirmPurchase(drop_id=drop.drop_id, user_id=alice, username="a"))
    assert bought.ok and bought.result.amount_cents == 18000
    assert misrouted.command_id not in client.replies

    state = db_state(cluster.database_url)
    assert_consistent(state)
    assert state["drops"][drop.drop_id] | {"seq": 0} == {"total": 2, "held": 1, "sold": 1,
                                                          "seq": 0}
    assert_event_log(client, drop.drop_id, state["drops"][drop.drop_id])
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{proc.url}/metrics")).text
    assert "stampede_inventory_oversell_violations 0.0" in metrics
    assert 'stampede_dead_letters_total{reason="malformed",' in metrics
    assert "stampede_inventory_misrouted_total 1.0" in metrics
