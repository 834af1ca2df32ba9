"""Decisions per second of the inventory's single writer, and of the designs it replaces.

``.venv/bin/python -m bench.inventory_decisions [--commands 60000] [--batch 500]
[--clients 16] [--seconds 4]``

Bounded, localhost only, stops by itself. Core figures are the best of three runs
(the machine is shared; a slow run measures the neighbours). In one run, against one PostgreSQL
(``DATABASE_URL`` if set, else an embedded one, durable: fsync on, in a temp dir):

1. core: ``decide`` alone, then through the partition writer (dedupe, per-batch
   copies, a Reply per command), no I/O, one partition, two mixes: "stampede"
   (1,500 buyers per 40 pairs: most are told OUT_OF_STOCK, as in a drop) and "sale"
   (every reserve succeeds and is then purchased: the most expensive decisions);
2. with persistence: the same "sale" mix, each batch of ``--batch`` decisions committed
   in ONE transaction with the partition's offset, the processed command ids and
   replies, the holds, purchases and the outbox (the service's own store code);
3. baselines users pick instead, on one hot drop, ``--clients`` concurrent clients,
   one reservation per transaction: ``SELECT ... FOR UPDATE`` then ``UPDATE``, and
   a conditional ``UPDATE ... SET available = available - 1 WHERE available > 0``;
   each also inserts the reservation row. Printed as ratios to (2).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from psycopg import AsyncConnection
from stampede_contracts import (
    CommandEnvelope,
    ConfirmPurchase,
    CreateDrop,
    DropSpec,
    ReserveStock,
)
from stampede_inventory.adapters.schema import migrate
from stampede_inventory.adapters.store import InventoryStore, outbox_of
from stampede_inventory.domain import decide
from stampede_inventory.main import tune_gc
from stampede_inventory.writer import PartitionWriter
from stampede_runtime.db import open_pool, plain_url

NOW = datetime.now(UTC)


def _env(command, cid=None) -> CommandEnvelope:
    return CommandEnvelope(command_id=cid or uuid.uuid4(), drop_id=command.drop_id,
                           occurred_at=NOW, reply_to="bench", command=command)


def _drops(n: int, stock: int) -> list[DropSpec]:
    return [DropSpec(drop_id=uuid.uuid4(), name=f"drop {i}", price_cents=100,
                     total_stock=stock, reservation_ttl_seconds=600) for i in range(n)]


def stampede_mix(commands: int) -> tuple[list[DropSpec], list[CommandEnvelope]]:
    """40 pairs per drop and 1,500 buyers each: reserve, then purchase if held."""
    drops = _drops(max(1, commands // 1500), 40)
    out = []
    for i in range(commands):
        d = drops[i % len(drops)]
        user = uuid.uuid4()
        out.append(_env(ReserveStock(drop_id=d.drop_id, user_id=user, username="b")))
    return drops, out


def sale_mix(commands: int) -> tuple[list[DropSpec], list[CommandEnvelope]]:
    """Plenty of stock: every reserve succeeds and is followed by its purchase."""
    drops = _drops(8, 10_000_000)
    out = []
    for i in range(commands // 2):
        d = drops[i % len(drops)]
        user = uuid.uuid4()
        out.append(_env(ReserveStock(drop_id=d.drop_id, user_id=user, username="b")))
        out.append(_env(ConfirmPurchase(drop_id=d.drop_id, user_id=user, username="b")))
    return drops, out


def _writer(drops: list[DropSpec]) -> PartitionWriter:
    writer = PartitionWriter(0)
    writer.commit(writer.decide_batch([_env(CreateDrop(drop=d)) for d in drops], NOW, {}))
    return writer


def _batches(commands: list[CommandEnvelope], size: int) -> Iterator[list[CommandEnvelope]]:
    for i in range(0, len(commands), size):
        yield commands[i:i + size]


def decide_only(mix, commands: int) -> float:
    """The pure core: ``decide`` on each command in turn (events included, no replies)."""
    drops, cmds = mix(commands)
    states = {d.drop_id: s for d, s in zip(drops, _writer(drops).drops.values(), strict=True)}
    started = time.perf_counter()
    for e in cmds:
        states[e.drop_id] = decide(states[e.drop_id], e.command, NOW, e.command_id).state
    return len(cmds) / (time.perf_counter() - started)


def core(mix, commands: int, batch: int) -> float:
    """The partition writer: dedupe, per-batch copies, decide, and a Reply per command."""
    drops, cmds = mix(commands)
    writer = _writer(drops)
    started = time.perf_counter()
    for chunk in _batches(cmds, batch):
        writer.commit(writer.decide_batch(chunk, NOW, {}))
    rate = len(cmds) / (time.perf_counter() - started)
    assert writer.violations() == 0
    return rate


async def persisted(url: str, commands: int, batch: int) -> float:
    pool = await open_pool(url, "inventory_bench", size=2)
    try:
        async with pool.connection() as conn:
            await conn.execute("DROP SCHEMA IF EXISTS inventory_bench CASCADE")
            await conn.execute("CREATE SCHEMA inventory_bench")
            await conn.commit()
            await migrate(conn)
        store = InventoryStore(pool)
        loaded = await store.claim(0)
        drops, cmds = sale_mix(commands)
        writer = _writer(drops)
        offset, published = loaded.next_offset, None
        started = time.perf_counter()
        for chunk in _batches(cmds, batch):
            processed = await store.processed([c.command_id for c in chunk])
            decided = writer.decide_batch(chunk, NOW, processed)
            offset += len(chunk)
            published = await store.commit_batch(
                0, loaded.epoch, offset, decided, outbox_of(decided), published
            )
            writer.commit(decided)
        return len(cmds) / (time.perf_counter() - started)
    finally:
        await pool.close()


BASELINE_DDL = """
DROP SCHEMA IF EXISTS baseline_bench CASCADE;
CREATE SCHEMA baseline_bench;
CREATE TABLE baseline_bench.stock (drop_id uuid PRIMARY KEY, available int NOT NULL);
CREATE TABLE baseline_bench.reservations (id uuid PRIMARY KEY, drop_id uuid NOT NULL,
    user_id uuid NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
"""


async def _for_update(conn: AsyncConnection, drop: uuid.UUID) -> None:
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT available FROM baseline_bench.stock WHERE drop_id = %s FOR UPDATE", (drop,)
        )
        row = await cur.fetchone()
        if row and row[0] > 0:
            await conn.execute(
                "UPDATE baseline_bench.stock SET available = %s WHERE drop_id = %s",
                (row[0] - 1, drop),
            )
            await conn.execute("INSERT INTO baseline_bench.reservations (id, drop_id, user_id) "
                               "VALUES (%s, %s, %s)", (uuid.uuid4(), drop, uuid.uuid4()))


async def _conditional(conn: AsyncConnection, drop: uuid.UUID) -> None:
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE baseline_bench.stock SET available = available - 1 "
            "WHERE drop_id = %s AND available > 0 RETURNING available", (drop,)
        )
        if await cur.fetchone():
            await conn.execute("INSERT INTO baseline_bench.reservations (id, drop_id, user_id) "
                               "VALUES (%s, %s, %s)", (uuid.uuid4(), drop, uuid.uuid4()))


async def baseline(url: str, design, clients: int, seconds: float) -> float:
    drop = uuid.uuid4()
    async with await AsyncConnection.connect(plain_url(url), autocommit=True) as conn:
        await conn.execute(BASELINE_DDL)
        await conn.execute("INSERT INTO baseline_bench.stock VALUES (%s, %s)",
                           (drop, 10_000_000))
    done = 0
    stop_at = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        async with await AsyncConnection.connect(plain_url(url)) as conn:
            while time.perf_counter() < stop_at:
                await design(conn, drop)
                done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.perf_counter() - started)


def _postgres() -> tuple[str, object | None]:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    from stampede_devstack.database import EmbeddedPostgres
    from stampede_devstack.ports import free_port

    root = Path(tempfile.mkdtemp(prefix="inventory-bench-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root / "pgdata", free_port(), durable=True)
    server.start()
    return server.url(), server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()

    tune_gc()  # as the service does at start-up
    core(sale_mix, 4_000, args.batch)  # warm up
    for name, mix in (("stampede", stampede_mix), ("sale", sale_mix)):
        # best of three: the machine is shared, and a slow run measures the neighbours
        pure = max(decide_only(mix, args.commands // 3) for _ in range(3))
        writer = max(core(mix, args.commands // 3, args.batch) for _ in range(3))
        print(f"core (decide), one partition, {name:<8} mix : {pure:>10,.0f} decisions/s"
              f"  (target 100k)")
        print(f"  + partition writer with replies       : {writer:>10,.0f} decisions/s")
    url, server = _postgres()
    try:
        ours = asyncio.run(persisted(url, args.commands, args.batch))
        upd = asyncio.run(baseline(url, _for_update, args.clients, args.seconds))
        cond = asyncio.run(baseline(url, _conditional, args.clients, args.seconds))
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
    print(f"with persistence (batch {args.batch}, one tx incl. offset, durable PostgreSQL): "
          f"{ours:>10,.0f} decisions/s  (target 20k)")
    print(f"SELECT ... FOR UPDATE, {args.clients} clients : {upd:>10,.0f} decisions/s  "
          f"-> single writer is {ours / upd:,.1f}x")
    print(f"conditional UPDATE, {args.clients} clients    : {cond:>10,.0f} decisions/s  "
          f"-> single writer is {ours / cond:,.1f}x")


if __name__ == "__main__":
    main()
