"""The write side in PostgreSQL: a batch's changes, its dedupe record and its position,
all in one transaction (a crash leaves either all of a batch or none of it).
The transaction runs on the driver's own connection (psycopg, taken from the
SQLAlchemy engine's pool): fixed statement texts, rows as one JSON parameter, the
writes pipelined (issue 14: SQLAlchemy's compile and a round trip per statement were
most of the service's CPU per event).

``ProjectionStore.transaction()`` yields a ``ProjectionWriter`` that locks the
drops' stream rows first (an upsert that locks them, in id order), so even two
processes briefly holding the same partition during a rebalance apply each event
once. Bulk statements (one per kind of row) keep a storm of purchases cheap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg import pq
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from stampede_contracts import StockLevels

from ..domain.projection import DropChange, HoldChange, Projection
from .database import transient_errors_unwrapped
from .tables import ConsumerPositionRow, DropRow, EventStreamRow, HoldRow, PurchaseRow

drops = DropRow.__table__  # type: ignore[attr-defined]
holds = HoldRow.__table__  # type: ignore[attr-defined]
purchases = PurchaseRow.__table__  # type: ignore[attr-defined]
streams = EventStreamRow.__table__  # type: ignore[attr-defined]
positions = ConsumerPositionRow.__table__  # type: ignore[attr-defined]


class ProjectionStore:
    """Positions of one topic's partitions, and transactions that apply batches."""

    def __init__(self, engine: AsyncEngine, topic: str) -> None:
        self._engine = engine
        self._topic = topic

    async def positions(self, partitions: Iterable[int]) -> dict[int, int]:
        wanted = sorted(set(partitions))
        async with transient_errors_unwrapped(), self._engine.connect() as conn:
            rows = await conn.execute(
                select(positions.c.partition, positions.c.next_offset).where(
                    positions.c.topic == self._topic, positions.c.partition.in_(wanted)
                )
            )
            return {int(p): int(o) for p, o in rows}

    async def reset_position(self, partition: int, next_offset: int) -> None:
        """Set (not raise) the stored position: the broker's log was lost."""
        async with transient_errors_unwrapped(), self._engine.begin() as conn:
            stmt = insert(positions).values(
                topic=self._topic, partition=partition, next_offset=next_offset
            )
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=[positions.c.topic, positions.c.partition],
                set_={"next_offset": stmt.excluded.next_offset},
            ))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[ProjectionWriter]:
        """One transaction on the driver's connection (psycopg): the batch's statements
        have fixed texts (prepared once per connection, their rows one JSON parameter)
        and the writes after the lock go in one pipeline, so a batch is three round
        trips (lock, writes, commit) whatever it holds."""
        async with transient_errors_unwrapped(), self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
            if driver.info.transaction_status != pq.TransactionStatus.IDLE:
                await driver.rollback()  # the pool's pre-ping left its SELECT 1 open
            async with driver.transaction():
                yield ProjectionWriter(driver, self._topic)


class ProjectionWriter:
    def __init__(self, conn: psycopg.AsyncConnection[Any], topic: str) -> None:
        self._conn = conn
        self._topic = topic

    async def lock_streams(self, drop_ids: Iterable[UUID]) -> dict[UUID, int]:
        """Each drop's last applied seq (0 if none), its row locked until commit."""
        ids = sorted(set(drop_ids))
        if not ids:
            return {}
        # one round trip: new drops get a row, every row is locked (the no-op update),
        # in id order (two writers of a rebalance wait for each other, never deadlock)
        cur = await self._conn.execute(LOCK_STREAMS, (_json([{"d": i} for i in ids]),))
        return {drop_id: int(seq) for drop_id, seq in await cur.fetchall()}

    async def write(self, projection: Projection) -> int:
        """Write a batch's changes; return how many purchases were new rows."""
        stock_only: list[dict[str, Any]] = []
        async with self._conn.pipeline():
            for drop_id, change in projection.drops.items():
                if change.spec is None and change.deleted is None:  # the usual case
                    stock_only.append({"i": drop_id, "a": change.updated_at,
                                       **_stock_numbers(change.stock)})
                else:
                    await self._write_drop(drop_id, change)
            if stock_only:
                await self._conn.execute(DROP_STOCK, (_json(stock_only),))
            await self._write_holds(projection.holds.values())
            bought = await self._write_purchases(projection)
            if projection.streams:
                await self._conn.execute(STREAMS, (_json([
                    {"d": d, "s": s.seq, "e": s.event_id}
                    for d, s in projection.streams.items()
                ]),))
        return len(await bought.fetchall()) if bought is not None else 0

    async def save_position(self, partition: int, next_offset: int) -> None:
        await self._conn.execute(SAVE_POSITION, (self._topic, partition, next_offset))

    async def _write_drop(self, drop_id: UUID, change: DropChange) -> None:
        """A drop's catalog row as the batch leaves it: a new spec (upserted, the
        stock as it stands), or its deletion."""
        numbers = {"stock": change.stock is not None, **_stock_numbers(change.stock)}
        if change.spec is None:  # deleted (and perhaps stock): the row exists or is unknown
            await self._conn.execute(DROP_DELETED, {
                "id": drop_id, "a": change.updated_at, "deleted": change.deleted, **numbers})
            return
        spec = change.spec
        room = spec.waiting_room
        await self._conn.execute(DROP_SPEC, {
            "id": drop_id, "a": change.updated_at, "c": change.created_at or change.updated_at,
            "deleted": change.deleted, "set_deleted": change.deleted is not None,
            "name": spec.name,
            "price_cents": spec.price_cents, "currency": spec.currency,
            "starts_at": spec.starts_at, "ends_at": spec.ends_at, "draft": spec.draft,
            "per_user_limit": spec.per_user_limit,
            "ttl": spec.reservation_ttl_seconds, "total": spec.total_stock,
            "admit_per_s": room.admit_per_s if room else None,
            "queue_mode": room.mode if room else None, **numbers,
        })

    async def _write_holds(self, changes: Iterable[HoldChange]) -> None:
        opened: list[dict[str, Any]] = []
        moved: list[dict[str, Any]] = []
        for h in changes:
            if h.opened is not None:
                opened.append({
                    "i": h.reservation_id, "d": h.drop_id, "u": h.opened.user_id,
                    "q": h.opened.quantity, "s": h.status.value, "e": h.opened.expires_at,
                    "c": h.opened.created_at, "a": h.updated_at,
                })
            else:
                moved.append({"i": h.reservation_id, "s": h.status.value, "a": h.updated_at})
        if opened:
            await self._conn.execute(OPEN_HOLDS, (_json(opened),))
        if moved:
            await self._conn.execute(MOVE_HOLDS, (_json(moved),))

    async def _write_purchases(self, projection: Projection) -> psycopg.AsyncCursor[Any] | None:
        rows = [
            {"i": p.id, "r": p.reservation_id, "d": p.drop_id, "u": p.user_id,
             "n": p.username, "q": p.quantity, "a": p.amount_cents, "c": p.currency,
             "t": p.created_at}
            for p in projection.purchases.values()
        ]
        if not rows:
            return None
        return await self._conn.execute(NEW_PURCHASES, (_json(rows),))


def _stock_numbers(stock: StockLevels | None) -> dict[str, int | None]:
    """The four stock numbers as the statements name them (None: the row keeps its own)."""
    if stock is None:
        return {"t": None, "v": None, "h": None, "s": None}
    return {"t": stock.total_stock, "v": stock.available, "h": stock.held, "s": stock.sold}


def _json(rows: Sequence[dict[str, Any]]) -> str:
    return orjson.dumps(rows).decode()


LOCK_STREAMS = (
    "INSERT INTO event_streams (drop_id, last_seq) SELECT x.d, 0"
    " FROM json_to_recordset(%s::json) AS x(d uuid) ORDER BY x.d"
    " ON CONFLICT (drop_id) DO UPDATE SET last_seq = event_streams.last_seq"
    " RETURNING drop_id, last_seq"
)
SAVE_POSITION = (
    "INSERT INTO consumer_positions (topic, partition, next_offset) VALUES (%s, %s, %s)"
    " ON CONFLICT (topic, partition) DO UPDATE"
    " SET next_offset = greatest(consumer_positions.next_offset, EXCLUDED.next_offset)"
)
DROP_STOCK = (  # the stock of drops whose spec the batch did not change (the usual case)
    "UPDATE drops SET updated_at = x.a,"
    " total_stock = coalesce(x.t, drops.total_stock), available = coalesce(x.v, drops.available),"
    " held = coalesce(x.h, drops.held), sold = coalesce(x.s, drops.sold)"
    " FROM json_to_recordset(%s::json) AS x(i uuid, a timestamptz, t int, v int, h int, s int)"
    " WHERE drops.id = x.i"
)
DROP_DELETED = (
    "UPDATE drops SET updated_at = %(a)s, deleted = %(deleted)s,"
    " total_stock = CASE WHEN %(stock)s THEN %(t)s ELSE total_stock END,"
    " available = CASE WHEN %(stock)s THEN %(v)s ELSE available END,"
    " held = CASE WHEN %(stock)s THEN %(h)s ELSE held END,"
    " sold = CASE WHEN %(stock)s THEN %(s)s ELSE sold END WHERE id = %(id)s"
)
DROP_SPEC = (  # a new or changed spec: the row as the spec says, stock as it stands
    "INSERT INTO drops (id, name, price_cents, currency, total_stock, available, held, sold,"
    " starts_at, ends_at, draft, per_user_limit, reservation_ttl_seconds, deleted, created_at,"
    " updated_at, admit_per_s, queue_mode) VALUES (%(id)s, %(name)s, %(price_cents)s,"
    " %(currency)s, coalesce(%(t)s, %(total)s), coalesce(%(v)s, %(total)s), coalesce(%(h)s, 0),"
    " coalesce(%(s)s, 0), %(starts_at)s, %(ends_at)s, %(draft)s, %(per_user_limit)s, %(ttl)s,"
    " coalesce(%(deleted)s, false), %(c)s, %(a)s, %(admit_per_s)s, %(queue_mode)s)"
    " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,"
    " price_cents = EXCLUDED.price_cents, currency = EXCLUDED.currency,"
    " starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, draft = EXCLUDED.draft,"
    " per_user_limit = EXCLUDED.per_user_limit,"
    " reservation_ttl_seconds = EXCLUDED.reservation_ttl_seconds,"
    " admit_per_s = EXCLUDED.admit_per_s, queue_mode = EXCLUDED.queue_mode,"
    " updated_at = EXCLUDED.updated_at,"
    " deleted = CASE WHEN %(set_deleted)s THEN EXCLUDED.deleted ELSE drops.deleted END,"
    " total_stock = CASE WHEN %(stock)s THEN EXCLUDED.total_stock ELSE drops.total_stock END,"
    " available = CASE WHEN %(stock)s THEN EXCLUDED.available ELSE drops.available END,"
    " held = CASE WHEN %(stock)s THEN EXCLUDED.held ELSE drops.held END,"
    " sold = CASE WHEN %(stock)s THEN EXCLUDED.sold ELSE drops.sold END"
)
OPEN_HOLDS = (
    "INSERT INTO holds (id, drop_id, user_id, quantity, status, expires_at, created_at,"
    " updated_at) SELECT i, d, u, q, s, e, c, a FROM json_to_recordset(%s::json)"
    " AS x(i uuid, d uuid, u uuid, q int, s text, e timestamptz, c timestamptz,"
    " a timestamptz)"
    " ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at"
)
MOVE_HOLDS = (
    "UPDATE holds SET status = x.s, updated_at = x.a FROM json_to_recordset(%s::json)"
    " AS x(i uuid, s text, a timestamptz) WHERE holds.id = x.i"
)
STREAMS = (
    "UPDATE event_streams SET last_seq = x.s, last_event_id = x.e"
    " FROM json_to_recordset(%s::json) AS x(d uuid, s bigint, e uuid)"
    " WHERE event_streams.drop_id = x.d"
)
NEW_PURCHASES = (
    "INSERT INTO purchases (id, reservation_id, drop_id, user_id, username, quantity,"
    " amount_cents, currency, created_at) SELECT i, r, d, u, n, q, a, c, t"
    " FROM json_to_recordset(%s::json) AS x(i uuid, r uuid, d uuid, u uuid, n text,"
    " q int, a bigint, c text, t timestamptz) ON CONFLICT DO NOTHING RETURNING id"
)
