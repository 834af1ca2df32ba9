"""Idempotency across gateway processes, a gateway restart and crash, and the 202 path:
the records live in PostgreSQL and a lost reply is recovered by sending the same
command again (the inventory answers a known command id with its first reply)."""

from __future__ import annotations

import time

import httpx
import pytest
from stampede_devstack.process import ServiceProcess

from .helpers import admin, create_drop, eventually, key, problem, reserve, user

pytestmark = pytest.mark.integration


def restart(proc: ServiceProcess, *, crash: bool = False) -> None:
    proc.kill9() if crash else proc.stop()
    proc.start()
    proc.wait_ready(60)


def outcome(client: httpx.Client, k: str, who: dict[str, str]) -> httpx.Response | None:
    r = client.get(f"/api/requests/{k}", headers=who)
    return r if r.status_code == 200 else None


def test_keys_hold_across_processes_restarts_and_lost_replies(gateway_stack):
    stack = gateway_stack()
    gw2 = stack.add_gateway()
    inventory = stack.services["inventory-0"]
    one = httpx.Client(base_url=stack.gateway_url, timeout=15)
    two = httpx.Client(base_url=gw2.url, timeout=15)
    drop_id = create_drop(one, admin(one), total_stock=10, reservation_ttl_seconds=900)["id"]
    alice = user()

    # 1. a key used on one gateway is known to the other, and after a restart
    k = key()
    first = reserve(one, drop_id, alice, k)
    assert first.status_code == 201, first.text
    replay = reserve(two, drop_id, alice, k)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == first.json()
    problem(reserve(two, drop_id, alice, k, quantity=2), 422, "IDEMPOTENCY_KEY_REUSED")
    restart(stack.services["gateway-0"])
    assert reserve(one, drop_id, alice, k).json() == first.json()

    # 2. no reply in time: 202 + Location, never a false yes or no; a retry elsewhere asks
    #    again (the same command id) and is still pending, not decided twice
    inventory.stop()
    bob, k2 = user(), key()
    started = time.monotonic()
    pending = reserve(one, drop_id, bob, k2)
    assert pending.status_code == 202, pending.text
    assert 1.5 < time.monotonic() - started < 6
    assert pending.headers["location"] == f"/api/requests/{k2}"
    assert pending.json()["status"] == "pending"
    again = reserve(two, drop_id, bob, k2)
    assert again.status_code == 202 and again.headers["location"] == f"/api/requests/{k2}"
    assert two.get(f"/api/requests/{k2}", headers=bob).status_code == 202
    inventory.start()
    inventory.wait_ready(90)
    decided = eventually(lambda: outcome(two, k2, bob), timeout_s=60, every_s=0.5)
    assert decided.json()["response_status"] == 201  # the late reply was recorded
    hold = decided.json()["response"]["reservation"]
    assert reserve(two, drop_id, bob, k2).json()["reservation"] == hold

    # 3. the gateway dies while waiting and the reply is lost: the outcome URL (or a retry)
    #    sends the same command again and gets the first decision; stock moves once
    inventory.stop()
    carol, k3 = user(), key()
    assert reserve(one, drop_id, carol, k3).status_code == 202
    stack.services["gateway-0"].kill9()
    inventory.start()
    inventory.wait_ready(90)
    # the inventory decides (the other gateway's view shows the hold) and replies to a
    # gateway that is gone
    eventually(lambda: two.get(f"/api/drops/{drop_id}/status").json()["held"] == 3,
               timeout_s=60)
    stack.services["gateway-0"].start()
    stack.services["gateway-0"].wait_ready(60)
    decided = eventually(lambda: outcome(one, k3, carol), timeout_s=60, every_s=0.5)
    assert decided.json()["response_status"] == 201
    retried = reserve(two, drop_id, carol, k3)
    assert retried.status_code == 201 and retried.headers["idempotent-replayed"] == "true"
    status = eventually(lambda: (s := one.get(f"/api/drops/{drop_id}/status").json())
                        ["held"] == 3 and s, timeout_s=15)
    assert status == {"total_stock": 10, "available": 7, "held": 3, "sold": 0}
    one.close()
    two.close()
