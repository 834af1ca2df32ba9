"""The write side in PostgreSQL: a batch's changes, its dedupe record and its position,
all in one transaction (a crash leaves either all of a batch or none of it).

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
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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
        async with transient_errors_unwrapped(), self._engine.begin() as conn:
            yield ProjectionWriter(conn, self._topic)


class ProjectionWriter:
    def __init__(self, conn: AsyncConnection, topic: str) -> None:
        self._conn = conn
        self._topic = topic

    async def lock_streams(self, drop_ids: Iterable[UUID]) -> dict[UUID, int]:
        """Each drop's last applied seq (0 if none), its row locked until commit."""
        ids = sorted(set(drop_ids))
        if not ids:
            return {}
        # one round trip: new drops get a row, every row is locked (the no-op update)
        stmt = insert(streams).values([{"drop_id": i, "last_seq": 0} for i in ids])
        rows = await self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[streams.c.drop_id], set_={"last_seq": streams.c.last_seq}
            ).returning(streams.c.drop_id, streams.c.last_seq)
        )
        return {drop_id: int(seq) for drop_id, seq in rows}

    async def write(self, projection: Projection) -> int:
        """Write a batch's changes; return how many purchases were new rows."""
        for drop_id, change in projection.drops.items():
            await self._write_drop(drop_id, change)
        await self._write_holds(projection.holds.values())
        recorded = await self._write_purchases(projection)
        if projection.streams:
            await self._conn.execute(STREAMS, {"rows": _json([
                {"d": d, "s": s.seq, "e": s.event_id} for d, s in projection.streams.items()
            ])})
        return recorded

    async def save_position(self, partition: int, next_offset: int) -> None:
        stmt = insert(positions).values(
            topic=self._topic, partition=partition, next_offset=next_offset
        )
        await self._conn.execute(stmt.on_conflict_do_update(
            index_elements=[positions.c.topic, positions.c.partition],
            set_={"next_offset": func.greatest(positions.c.next_offset,
                                               stmt.excluded.next_offset)},
        ))

    async def _write_drop(self, drop_id: UUID, change: DropChange) -> None:
        values: dict[str, Any] = {"updated_at": change.updated_at}
        if change.stock is not None:
            values.update(total_stock=change.stock.total_stock, available=change.stock.available,
                          held=change.stock.held, sold=change.stock.sold)
        if change.deleted is not None:
            values["deleted"] = change.deleted
        if change.spec is None:  # stock or deletion only: the row exists or is unknown
            await self._conn.execute(update(drops).where(drops.c.id == drop_id).values(values))
            return
        spec = change.spec
        values.update(
            name=spec.name, price_cents=spec.price_cents, currency=spec.currency,
            starts_at=spec.starts_at, ends_at=spec.ends_at, draft=spec.draft,
            per_user_limit=spec.per_user_limit,
            reservation_ttl_seconds=spec.reservation_ttl_seconds,
            admit_per_s=spec.waiting_room.admit_per_s if spec.waiting_room else None,
            queue_mode=spec.waiting_room.mode if spec.waiting_room else None,
        )
        changed = list(values)
        row = {
            "id": drop_id, "deleted": False, "total_stock": spec.total_stock,
            "available": spec.total_stock, "held": 0, "sold": 0,
            "created_at": change.created_at or change.updated_at, **values,
        }
        stmt = insert(drops).values(row)
        await self._conn.execute(stmt.on_conflict_do_update(
            index_elements=[drops.c.id], set_={c: stmt.excluded[c] for c in changed}
        ))

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
            await self._conn.execute(OPEN_HOLDS, {"rows": _json(opened)})
        if moved:
            await self._conn.execute(MOVE_HOLDS, {"rows": _json(moved)})

    async def _write_purchases(self, projection: Projection) -> int:
        rows = [
            {"i": p.id, "r": p.reservation_id, "d": p.drop_id, "u": p.user_id,
             "n": p.username, "q": p.quantity, "a": p.amount_cents, "c": p.currency,
             "t": p.created_at}
            for p in projection.purchases.values()
        ]
        if not rows:
            return 0
        result = await self._conn.execute(NEW_PURCHASES, {"rows": _json(rows)})
        return len(result.all())


def _json(rows: Sequence[dict[str, Any]]) -> str:
    return orjson.dumps(rows).decode()


OPEN_HOLDS = text(
    "INSERT INTO holds (id, drop_id, user_id, quantity, status, expires_at, created_at,"
    " updated_at) SELECT i, d, u, q, s, e, c, a FROM json_to_recordset(CAST(:rows AS json))"
    " AS x(i uuid, d uuid, u uuid, q int, s text, e timestamptz, c timestamptz,"
    " a timestamptz)"
    " ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at"
)
MOVE_HOLDS = text(
    "UPDATE holds SET status = x.s, updated_at = x.a FROM json_to_recordset(CAST(:rows AS json))"
    " AS x(i uuid, s text, a timestamptz) WHERE holds.id = x.i"
)
STREAMS = text(
    "UPDATE event_streams SET last_seq = x.s, last_event_id = x.e"
    " FROM json_to_recordset(CAST(:rows AS json)) AS x(d uuid, s bigint, e uuid)"
    " WHERE event_streams.drop_id = x.d"
)
NEW_PURCHASES = text(
    "INSERT INTO purchases (id, reservation_id, drop_id, user_id, username, quantity,"
    " amount_cents, currency, created_at) SELECT i, r, d, u, n, q, a, c, t"
    " FROM json_to_recordset(CAST(:rows AS json)) AS x(i uuid, r uuid, d uuid, u uuid, n text,"
    " q int, a bigint, c text, t timestamptz) ON CONFLICT DO NOTHING RETURNING id"
)
