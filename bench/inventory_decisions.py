"""Decisions per second of the inventory's single writer, and of the designs it replaces.

``.venv/bin/python -m bench.inventory_decisions [--commands 60000] [--batch 2000]
[--partitions 4] [--processes 2] [--clients 16] [--seconds 4]``

Bounded, localhost only, stops by itself. Core figures are the best of three runs
(the machine is shared; a slow run measures the neighbours). In one run, against one PostgreSQL
(``DATABASE_URL`` if set, else an embedded one, durable: fsync on, in a temp dir):

1. core: ``decide`` alone, then through the partition writer (dedupe, per-batch
   copies, a Reply per command), no I/O, one partition, two mixes: "stampede"
   (1,500 buyers per 40 pairs: most are told OUT_OF_STOCK, as in a drop) and "sale"
   (every reserve succeeds and is then purchased: the most expensive decisions);
2. with persistence: the same "sale" mix, each batch of ``--batch`` decisions committed
   in ONE transaction with the partition's offset, the processed command ids and
   replies, the holds, purchases and the outbox (the service's own store code), best
   of three with the spread: on one partition (batches one after another) and on
   ``--partitions`` partitions handled concurrently (as the service's consumer loop
   does: one partition's transaction overlaps another's decisions), and as
   ``--processes`` inventory instances sharing those partitions would (one process
   each, started together: the way the service scales past one core). Durable
   (``synchronous_commit`` on); one extra run with it off is printed, labelled, for
   comparison only. Publishing to Kafka after the commit is not part of it;
3. baselines users pick instead, on one hot drop, ``--clients`` concurrent clients,
   one reservation per transaction: ``SELECT ... FOR UPDATE`` then ``UPDATE``, and
   a conditional ``UPDATE ... SET available = available - 1 WHERE available > 0``;
   each also inserts the reservation row. Printed as ratios to (2), same run, same
   PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from stampede_inventory.domain import DropState, decide
from stampede_inventory.writer import PartitionWriter
from stampede_runtime.db import open_pool, plain_url
from stampede_runtime.gc_tuning import tune_gc

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
    states: dict[uuid.UUID, DropState | None] = {
        d.drop_id: s for d, s in zip(drops, _writer(drops).drops.values(), strict=True)}
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


async def _fresh_schema(url: str) -> None:
    pool = await open_pool(url, "inventory_bench", size=1)
    try:
        async with pool.connection() as conn:
            await conn.execute("DROP SCHEMA IF EXISTS inventory_bench CASCADE")
            await conn.execute("CREATE SCHEMA inventory_bench")
            await conn.commit()
            await migrate(conn)
    finally:
        await pool.close()


async def _run_partitions(
    url: str, partitions: list[int], commands: int, batch: int, durable: bool = True,
    ready: Callable[[], None] | None = None,
) -> tuple[float, float, int]:
    """Write ``partitions`` (``commands`` split over them) concurrently, one task each,
    as the consumer loop does with ``concurrent_partitions`` (with one partition: one
    batch after another). Returns (start, end) on the monotonic clock and the count."""
    pool = await open_pool(url, "inventory_bench", size=2 * len(partitions))
    try:
        store = InventoryStore(pool)
        parts = []
        for p in partitions:
            loaded = await store.claim(p)
            drops, cmds = sale_mix(commands // len(partitions))
            parts.append((p, loaded, _writer(drops), list(_batches(cmds, batch))))
        total = sum(len(c) for *_, chunks in parts for c in chunks)
        if not durable:  # every connection of the pool, for the session
            held = [await pool.getconn() for _ in range(2 * len(partitions))]
            for conn in held:
                await conn.execute("SET synchronous_commit = off")
                await conn.commit()
            for conn in held:
                await pool.putconn(conn)

        async def one_partition(p, loaded, writer, chunks) -> None:
            offset, published = loaded.next_offset, None
            for chunk in chunks:
                processed = await store.processed(p, [c.command_id for c in chunk])
                decided = writer.decide_batch(chunk, NOW, processed)
                offset += len(chunk)
                published = await store.commit_batch(
                    p, loaded.epoch, offset, decided, outbox_of(decided), published
                )
                writer.commit(decided)
                await asyncio.sleep(0)  # the loop fetches between batches

        if ready is not None:
            ready()
        started = time.monotonic()
        await asyncio.gather(*(one_partition(*part) for part in parts))
        return started, time.monotonic(), total
    finally:
        await pool.close()


async def persisted(
    url: str, commands: int, batch: int, partitions: int = 1, durable: bool = True
) -> float:
    """The "sale" mix through the service's store code in one process, over
    ``partitions`` (each with its own drops, writer and epoch), handled concurrently.
    ``durable=False`` turns ``synchronous_commit`` off (a labelled extra figure only)."""
    await _fresh_schema(url)
    started, ended, total = await _run_partitions(
        url, list(range(partitions)), commands, batch, durable
    )
    return total / (ended - started)


def _instance(url: str, partitions: list[int], commands: int, batch: int, barrier: Any,
              results: Any) -> None:
    """One inventory process (an instance) of ``in_processes``."""
    tune_gc()
    results.put(asyncio.run(_run_partitions(url, partitions, commands, batch,
                                            ready=lambda: barrier.wait(timeout=120))))


def in_processes(url: str, commands: int, batch: int, processes: int, partitions: int) -> float:
    """As ``processes`` inventory instances would run: each its own process with its
    share of ``partitions`` (handled concurrently inside it), all starting together;
    the rate is every decision over the time from the first start to the last end."""
    asyncio.run(_fresh_schema(url))
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    shares = [list(range(partitions))[i::processes] for i in range(processes)]
    workers = [ctx.Process(target=_instance, args=(url, share, commands // processes, batch,
                                                   barrier, results)) for share in shares]
    for w in workers:
        w.start()
    done = [results.get(timeout=300) for _ in workers]
    for w in workers:
        w.join()
    return float(sum(n for *_, n in done)
                 / (max(e for _, e, _ in done) - min(s for s, _, _ in done)))


def _best(runs: list[float]) -> str:
    return (f"{max(runs):>10,.0f} decisions/s  (best of {len(runs)}; "
            f"spread {min(runs):,.0f}..{max(runs):,.0f})")


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
    parser.add_argument("--batch", type=int, default=2000,
                        help="decisions per transaction (the service's MAX_RECORDS default)")
    parser.add_argument("--partitions", type=int, default=4,
                        help="partitions written concurrently in the persistence figure")
    parser.add_argument("--processes", type=int, default=2,
                        help="inventory processes sharing the partitions (as instances)")
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
        settings = asyncio.run(_settings(url))
        one = [asyncio.run(persisted(url, args.commands, args.batch)) for _ in range(3)]
        many = [asyncio.run(persisted(url, args.commands, args.batch, args.partitions))
                for _ in range(3)]
        fast = asyncio.run(persisted(url, args.commands, args.batch, args.partitions,
                                     durable=False))
        procs = [in_processes(url, args.commands, args.batch, args.processes, args.partitions)
                 for _ in range(3)]
        upd = asyncio.run(baseline(url, _for_update, args.clients, args.seconds))
        cond = asyncio.run(baseline(url, _conditional, args.clients, args.seconds))
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
    ours = max(many)
    print(f"with persistence: \"sale\" mix (every reserve succeeds, then is purchased), "
          f"{args.commands:,} commands, batch {args.batch}, one transaction per batch incl. "
          f"offset, processed ids + replies, holds, purchases, outbox; PostgreSQL {settings}; "
          f"publishing to Kafka not included")
    print(f"  1 partition, batches one after another          : {_best(one)}")
    print(f"  {args.partitions} partitions handled concurrently (durable)    : {_best(many)}"
          f"  (target 20k)")
    print(f"  {args.processes} processes (as {args.processes} instances), {args.partitions} "
          f"partitions in all (durable): {_best(procs)}")
    print(f"  {args.partitions} partitions, synchronous_commit=off (NOT durable): "
          f"{fast:>10,.0f} decisions/s  (one run, for comparison only)")
    print(f"SELECT ... FOR UPDATE, {args.clients} clients : {upd:>10,.0f} decisions/s  "
          f"-> single writer ({args.partitions} partitions, durable) is {ours / upd:,.1f}x, "
          f"1 partition {max(one) / upd:,.1f}x")
    print(f"conditional UPDATE, {args.clients} clients    : {cond:>10,.0f} decisions/s  "
          f"-> single writer ({args.partitions} partitions, durable) is {ours / cond:,.1f}x, "
          f"1 partition {max(one) / cond:,.1f}x")


async def _settings(url: str) -> str:
    async with await AsyncConnection.connect(plain_url(url), autocommit=True) as conn:
        values = []
        for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes"):
            cur = await conn.execute(f"SHOW {name}")
            row = await cur.fetchone()
            values.append(f"{name}={row[0] if row else '?'}")
    return ", ".join(values)


if __name__ == "__main__":
    main()
