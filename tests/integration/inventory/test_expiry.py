"""Holds expire by the drop's owner, within about a second, and the stock returns."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from stampede_contracts import ConfirmPurchase, RejectionCode, ReserveStock

from .harness import assert_consistent, assert_event_log, db_state, spec

pytestmark = pytest.mark.integration


async def test_d_holds_expire_and_the_stock_returns(cluster, client):
    cluster.start("inventory-0")
    drop = spec(3, reservation_ttl_seconds=1, per_user_limit=2)
    await client.create_drops([drop])
    users = [uuid.uuid4() for _ in range(3)]
    holds = [await client.ask(ReserveStock(drop_id=drop.drop_id, user_id=u, username="u"))
             for u in users]
    assert all(h.ok for h in holds)
    deadline = max(h.result.expires_at for h in holds).timestamp()
    async with asyncio.timeout(15):
        while sum(e.event.type == "HoldExpired" for e in client.events_of(drop.drop_id)) < 3:
            await asyncio.sleep(0.05)
    late_by = time.time() - deadline
    print(f"last hold expired {late_by:.2f}s after it was due")
    assert late_by < 2.5, f"expired {late_by:.2f}s after the last hold was due"
    events = client.events_of(drop.drop_id)
    last = [e.event.stock for e in events if e.event.type == "StockChanged"][-1]
    assert (last.available, last.held, last.sold) == (3, 0, 0)
    expired = {e.event.reservation_id for e in events if e.event.type == "HoldExpired"}
    assert expired == {h.result.id for h in holds}
    late = await client.ask(ConfirmPurchase(drop_id=drop.drop_id, user_id=users[0], username="u"))
    assert late.code is RejectionCode.RESERVATION_EXPIRED
    again = await client.ask(ReserveStock(drop_id=drop.drop_id, user_id=users[0], username="u"))
    assert again.ok  # the limit counts expired holds no more
    state = db_state(cluster.database_url)
    assert_consistent(state)
    assert sum(h["status"] == "expired" for h in state["holds"]) == 3
    assert_event_log(client, drop.drop_id, state["drops"][drop.drop_id])


async def test_holds_of_a_crashed_writer_still_expire(cluster, client):
    """Timers are re-armed from the database by whoever owns the partition next."""
    proc = cluster.start("inventory-0")
    drop = spec(2, reservation_ttl_seconds=3)
    await client.create_drops([drop])
    hold = await client.ask(ReserveStock(drop_id=drop.drop_id, user_id=uuid.uuid4(),
                                         username="u"))
    assert hold.ok
    proc.kill9()
    await asyncio.to_thread(cluster.start, "inventory-0")
    async with asyncio.timeout(30):
        while not any(e.event.type == "HoldExpired" for e in client.events_of(drop.drop_id)):
            await asyncio.sleep(0.1)
    state = db_state(cluster.database_url)
    assert state["drops"][drop.drop_id]["held"] == 0
