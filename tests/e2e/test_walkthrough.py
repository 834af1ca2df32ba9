"""The README's walk-through, as a new user runs it, against ``make up``'s system:
admin creates a drop, a buyer reserves (idempotently) and purchases, orders records the
purchase in its database, the notifier pushes STOCK_UPDATED and PURCHASE_COMPLETED to a
subscribed WebSocket, and the catalog and status show the stock. Then SIGTERM stops
every process ``up`` started."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
import uuid
from typing import Any

import httpx
import psutil
import psycopg
import pytest
import websockets

from .conftest import RunningSystem
from .polling import eventually

pytestmark = pytest.mark.e2e


async def _login(api: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    r = await api.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['access_token']}"}


async def _collect(ws_url: str, out: list[dict[str, Any]], ready: asyncio.Event) -> None:
    async with websockets.connect(ws_url) as ws:
        ready.set()
        async for raw in ws:
            out.append(json.loads(raw))


async def test_walkthrough(system: RunningSystem) -> None:
    async with httpx.AsyncClient(base_url=system.api, timeout=10) as api:
        admin = await _login(api, "admin", "admin")
        r = await api.post("/api/drops", headers=admin, json={
            "name": "Air Stampede 1", "price_cents": 18000, "currency": "USD", "total_stock": 3,
        })
        assert r.status_code == 201, r.text
        drop_id = r.json()["id"]
        assert r.json()["total_stock"] == 3

        username = f"ana{uuid.uuid4().hex[:6]}"
        r = await api.post("/api/auth/signup",
                           json={"username": username, "password": "correct horse battery"})
        assert r.status_code == 201, r.text
        buyer = await _login(api, username, "correct horse battery")

        messages: list[dict[str, Any]] = []
        ready = asyncio.Event()
        listener = asyncio.create_task(_collect(f"{system.ws}?drops={drop_id}", messages, ready))
        await asyncio.wait_for(ready.wait(), 10)

        reserve = {**buyer, "Idempotency-Key": f"{username}-reserve-1"}
        r = await api.post(f"/api/drops/{drop_id}/reserve", headers=reserve, json={"quantity": 1})
        assert r.status_code == 201, r.text
        reservation = r.json()["reservation"]
        assert reservation["status"] == "active" and reservation["drop_id"] == drop_id
        assert reservation["quantity"] == 1 and reservation["expires_at"]

        again = await api.post(f"/api/drops/{drop_id}/reserve", headers=reserve,
                               json={"quantity": 1})
        assert again.status_code == 201
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json() == r.json()

        r = await api.post(f"/api/drops/{drop_id}/purchase",
                           headers={**buyer, "Idempotency-Key": f"{username}-purchase-1"})
        assert r.status_code == 201, r.text
        purchase = r.json()["purchase"]
        assert purchase["status"] == "paid" and purchase["amount_cents"] == 18000
        assert purchase["reservation_id"] == reservation["id"]

        r = await api.get(f"/api/drops/{drop_id}/status")
        assert r.status_code == 200
        assert r.json() == {"total_stock": 3, "available": 2, "held": 0, "sold": 1}

        async def catalog_shows_sale() -> Any:
            """GET /api/drops shows available 2 and the buyer in the activity feed."""
            listing = (await api.get("/api/drops")).json()
            items = listing["items"] if isinstance(listing, dict) else listing
            drop = next((d for d in items if d["id"] == drop_id), None)
            if drop is None or drop["available_stock"] != 2:
                return None
            names = [p["username"] for p in drop["activity_feed"]["latest_purchasers"]]
            return drop if username in names else None

        await eventually(catalog_shows_sale)

        async def history_has_purchase() -> Any:
            """GET /api/me/purchases lists the purchase."""
            body = (await api.get("/api/me/purchases", headers=buyer)).json()
            items = body["items"] if isinstance(body, dict) else body
            return [p for p in items if p["id"] == purchase["id"]]

        await eventually(history_has_purchase)

        async def socket_saw_it() -> bool:
            """the WebSocket got STOCK_UPDATED (2) and PURCHASE_COMPLETED (buyer)."""
            stock = [m for m in messages if m["type"] == "STOCK_UPDATED"]
            done = [m for m in messages if m["type"] == "PURCHASE_COMPLETED"]
            return bool(
                stock and stock[-1]["data"]["available_stock"] == 2
                and any(m["data"]["username"] == username for m in done)
            )

        await eventually(socket_saw_it)
        listener.cancel()
        assert all(m["drop_id"] == drop_id for m in messages)
        seqs = [m["seq"] for m in messages]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    with psycopg.connect(system.database_url) as conn:
        rows = conn.execute(
            "SELECT id::text, quantity FROM orders.purchases WHERE reservation_id = %s",
            (reservation["id"],),
        ).fetchall()
    assert rows == [(purchase["id"], 1)]


async def test_holds_expire_and_the_stock_returns(system: RunningSystem) -> None:
    """Invariant 5 through the whole system: a hold not bought within its TTL expires,
    its stock returns, and subscribed screens are told."""
    async with httpx.AsyncClient(base_url=system.api, timeout=10) as api:
        admin = await _login(api, "admin", "admin")
        r = await api.post("/api/drops", headers=admin, json={
            "name": "Short Hold", "price_cents": 500, "total_stock": 2,
            "reservation_ttl_seconds": 2,
        })
        assert r.status_code == 201, r.text
        drop_id = r.json()["id"]
        messages: list[dict[str, Any]] = []
        ready = asyncio.Event()
        listener = asyncio.create_task(_collect(f"{system.ws}?drops={drop_id}", messages, ready))
        await asyncio.wait_for(ready.wait(), 10)
        buyer = {"X-User-Id": str(uuid.uuid4()), "X-User-Name": "late"}
        r = await api.post(f"/api/drops/{drop_id}/reserve",
                           headers={**buyer, "Idempotency-Key": "late-1"})
        assert r.status_code == 201, r.text
        assert (await api.get(f"/api/drops/{drop_id}/status")).json()["held"] == 1

        async def returned() -> bool:
            """the hold expired and the stock is back."""
            s = (await api.get(f"/api/drops/{drop_id}/status")).json()
            return bool(s == {"total_stock": 2, "available": 2, "held": 0, "sold": 0})

        await eventually(returned, timeout_s=15)
        r = await api.post(f"/api/drops/{drop_id}/purchase",
                           headers={**buyer, "Idempotency-Key": "late-2"})
        assert r.status_code == 409 and r.json()["code"] in {
            "RESERVATION_EXPIRED", "NO_ACTIVE_RESERVATION"}

        async def told() -> bool:
            """the WebSocket got RESERVATION_EXPIRED and the stock back at 2."""
            stock = [m for m in messages if m["type"] == "STOCK_UPDATED"]
            return bool(any(m["type"] == "RESERVATION_EXPIRED" for m in messages)
                        and stock and stock[-1]["data"]["available_stock"] == 2)

        await eventually(told)
        listener.cancel()


async def _commands_of(bootstrap: str, user_id: str) -> list[str]:
    """Every command on inventory.commands that names this user (read from the start)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from stampede_contracts import INVENTORY_COMMANDS

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(INVENTORY_COMMANDS.name, p)
                 for p in range(INVENTORY_COMMANDS.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        found: list[str] = []
        idle = 0
        while idle < 5:
            batches = await consumer.getmany(timeout_ms=200)
            idle = 0 if batches else idle + 1
            found += [r.value.decode() for rs in batches.values() for r in rs
                      if r.value and user_id.encode() in r.value]
        return found
    finally:
        await consumer.stop()


async def test_bad_input_never_reaches_kafka(system: RunningSystem) -> None:
    """Invariant 7: malformed requests get problem documents and send no command."""
    broker = re.search(r"^\s+broker\s+(\S+)", "\n".join(system.output), re.MULTILINE)
    assert broker
    user_id = str(uuid.uuid4())
    who = {"X-User-Id": user_id, "X-User-Name": "mallory"}
    async with httpx.AsyncClient(base_url=system.api, timeout=10) as api:
        admin = await _login(api, "admin", "admin")
        r = await api.post("/api/drops", headers=admin,
                           json={"name": "Target", "price_cents": 1, "total_stock": 5})
        drop_id = r.json()["id"]
        reserve = f"/api/drops/{drop_id}/reserve"
        attempts = [
            ("POST", reserve, {**who}, b'{"quantity":1}'),  # no Idempotency-Key
            ("POST", reserve, {**who, "Idempotency-Key": "b1"}, b'{"quantity":0}'),
            ("POST", reserve, {**who, "Idempotency-Key": "b2"}, b'{"quantity":"many"}'),
            ("POST", reserve, {**who, "Idempotency-Key": "b3"}, b"{not json"),
            ("POST", reserve, {**who, "Idempotency-Key": "b4"}, b'{"quantity":1,"x":' +
             b"1" * 40_000 + b"}"),
            ("POST", "/api/drops/not-a-uuid/reserve", {**who, "Idempotency-Key": "b5"}, b"{}"),
            ("POST", "/api/order", {**who, "Idempotency-Key": "b6"}, b'{"drop_id":"nope"}'),
            ("POST", "/api/order", {**who, "Idempotency-Key": "b7"},
             b'{"drop_id":"' + drop_id.encode() + b'","quantity":-3}'),
            ("DELETE", "/api/reservations/zzz", {**who, "Idempotency-Key": "b8"}, b""),
        ]
        for method, path, headers, body in attempts:
            r = await api.request(method, path, content=body,
                                  headers={**headers, "content-type": "application/json"})
            assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"].isupper()
        # one good request, so the check below is known to see commands of this user
        r = await api.post(reserve, headers={**who, "Idempotency-Key": "good"},
                           json={"quantity": 1})
        assert r.status_code == 201, r.text
    commands = await _commands_of(broker.group(1), user_id)
    assert len(commands) == 1 and '"ReserveStock"' in commands[0], commands


def test_sigterm_stops_every_process(system: RunningSystem) -> None:
    assert len(system.descendants) >= 6  # tansu, postgres, four services
    system.proc.send_signal(signal.SIGTERM)
    assert system.proc.wait(60) == 0
    deadline = time.monotonic() + 10
    alive = [pid for pid in system.descendants if _alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in alive if _alive(pid)]
    assert alive == []


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
