"""The README's walk-through, as a new user runs it, against ``make up``'s system: the
"Try it" block of README.md is run as written by bash, twice in a row (a second run on the
same system must work as well as the first), and every answer it printed is checked: the
drop read back right after its 201, the buyer's hold, its replay, the purchase, the
stock, the catalog's activity feed, the buyer's history, and what the project's own
WebSocket client printed (each message valid against the notifier's /asyncapi.json); then
the purchase rows in orders' database. Also: holds
expire, bad input never reaches Kafka, and SIGTERM stops every process ``up`` started."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import psutil
import psycopg
import pytest
import websockets

from .conftest import RunningSystem
from .polling import eventually

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b(\[[0-9;]*[A-Za-z]|[78])")


def readme_walkthrough() -> str:
    """The first ``sh`` block of README.md's "Try it" section, as written."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Try it"):]
    return section[section.index("```sh\n") + 6:section.index("\n```", section.index("```sh"))]


def run_walkthrough(system: RunningSystem, out: Path) -> tuple[list[Any], list[Any], str]:
    """Run the block with bash (stopping at the first failing command); return the JSON
    answers it printed (in order), the messages the WebSocket client printed, and all."""
    env = {**os.environ, "API": system.api, "WS": system.ws}
    with out.open("w") as sink:  # a file, not a pipe: the watcher's `sleep` may outlive bash
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", readme_walkthrough()],
                              cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=120, check=False)
    text = ANSI.sub("", out.read_text())
    assert done.returncode == 0, text
    answers, messages = [], []
    for line in text.splitlines():
        line = line.strip().removeprefix("> ").strip()
        if line.startswith("{"):
            answers.append(json.loads(line))
        elif line.startswith("< {"):
            messages.append(json.loads(line[2:]))
    return answers, messages, text


def test_the_first_admin_request_right_after_up_answers_within_1s(system: RunningSystem
                                                                   ) -> None:
    """Issue 10: "up" means deciding. The module's first test, so it runs as soon as `up`
    said it is up: step 1 of the walk-through (the admin logs in and creates a drop, the
    drop's creation decided by its owner in the inventory), each answered within 1 s."""
    with httpx.Client(base_url=system.api, timeout=10) as api:
        started = time.monotonic()
        r = api.post("/api/auth/login", json={"username": "admin", "password": "admin"})
        login_s = time.monotonic() - started
        assert r.status_code == 200, r.text
        started = time.monotonic()
        r = api.post("/api/drops", headers={"authorization": f"Bearer {r.json()['access_token']}"},
                     json={"name": "Up At Once", "price_cents": 100, "total_stock": 3})
        create_s = time.monotonic() - started
        assert r.status_code == 201, r.text
    print(f"right after up: login {login_s:.3f} s, the drop's creation {create_s:.3f} s")
    assert login_s <= 1.0 and create_s <= 1.0, (login_s, create_s)


def test_the_readme_walkthrough_runs_as_written_twice(system: RunningSystem,
                                                      tmp_path: Path) -> None:
    purchases: list[tuple[str, str]] = []
    buyers: set[str] = set()
    served = httpx.get(system.ws.removesuffix("/ws").replace("ws://", "http://", 1)
                       + "/asyncapi.json", timeout=10).json()
    payloads = {name: jsonschema_rs.Draft7Validator(m["payload"])
                for name, m in served["components"]["messages"].items()}
    for run in (1, 2):
        answers, messages, text = run_walkthrough(system, tmp_path / f"run{run}.txt")
        assert len(answers) == 7, text
        drop, user, hold, purchase, status, catalog, history = (
            answers[0], answers[1], answers[2]["reservation"], answers[3]["purchase"],
            answers[4], answers[5], answers[6]["items"])
        # 1. the drop read back at once after its 201 (before the catalog may have it)
        assert (drop["name"], drop["total_stock"], drop["available_stock"],
                drop["status"]) == ("Air Stampede 1", 3, 3, "live"), text
        # 2. a new buyer each run
        assert user["role"] == "buyer" and user["username"] not in buyers, text
        buyers.add(user["username"])
        # 4. the hold, and its replay
        assert (hold["status"], hold["drop_id"], hold["quantity"]) == ("active", drop["id"], 1)
        assert re.search(r"^idempotent-replayed: true\s*$", text, re.I | re.M), text
        # 5. the purchase, with that hold
        assert (purchase["status"], purchase["amount_cents"], purchase["reservation_id"],
                purchase["drop_id"]) == ("paid", 18000, hold["id"], drop["id"])
        # 6. the stock, the catalog with its feed, the history
        assert status == {"total_stock": 3, "available": 2, "held": 0, "sold": 1}
        assert catalog["id"] == drop["id"] and catalog["available_stock"] == 2
        assert [p["username"] for p in catalog["activity_feed"]["latest_purchasers"]] == [
            user["username"]]
        assert [p["id"] for p in history] == [purchase["id"]]
        # 3. what the watcher printed: the drop, its stock falling, the purchase, in order
        assert {m["drop_id"] for m in messages} == {drop["id"]}, messages
        seqs = [m["seq"] for m in messages]
        assert seqs == sorted(set(seqs)), seqs  # rising, no duplicate
        assert messages[0]["type"] == "DROP_CREATED"
        stock = [m for m in messages if m["type"] == "STOCK_UPDATED"]
        assert stock[-1]["data"]["available_stock"] == 2, messages
        assert [m["data"]["username"] for m in messages
                if m["type"] == "PURCHASE_COMPLETED"] == [user["username"]], messages
        for m in messages:  # each as the notifier's AsyncAPI document describes it
            assert [e.message for e in payloads[m["type"]].iter_errors(m)] == [], m
        purchases.append((purchase["id"], hold["id"]))
    with psycopg.connect(system.database_url) as conn:
        for purchase_id, hold_id in purchases:
            rows = conn.execute(
                "SELECT id::text, quantity FROM orders.purchases WHERE reservation_id = %s",
                (hold_id,)).fetchall()
            assert rows == [(purchase_id, 1)]


async def _login(api: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    r = await api.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['access_token']}"}


async def _collect(ws_url: str, out: list[dict[str, Any]], ready: asyncio.Event) -> None:
    async with websockets.connect(ws_url) as ws:
        ready.set()
        async for raw in ws:
            out.append(json.loads(raw))


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
        # the inventory remembers whose hold expired: that, not "no hold", is the answer
        assert r.status_code == 409 and r.json()["code"] == "RESERVATION_EXPIRED", r.text

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
