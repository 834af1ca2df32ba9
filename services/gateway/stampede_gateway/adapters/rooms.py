"""The waiting rooms' shared counters in PostgreSQL (table ``rooms``, one row per drop).

- ``take``: a buyer takes the next number of a drop's queue. Group-committed: one
  ``INSERT ... ON CONFLICT DO UPDATE SET issued = issued + n`` per batch and drop; the
  batch's numbers are the ``n`` below the returned ``issued``. Durable before the ticket
  is given (a number is never handed out twice).
- ``tick``: every process, every ``WAITING_ROOM_TICK_MS``, moves the serving counters of
  the drops it knows: ``serving += rate * elapsed`` while the room advances, never above
  ``issued``. The rise is additive in elapsed time, so processes ticking the same row
  agree (``serving_at`` never goes back, so no interval is counted twice); the row lock
  orders them. The tick also draws a lottery at the start, and elects, per drop and at
  most every ``PUBLISH_EVERY``, the one process that publishes the room's figures (the
  one whose update sets ``published_at``). Serving is derived state: the tick commits
  without waiting for the disk (``synchronous_commit off``).

Every process computes a ticket's standing from the row (``RoomState``) and the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from ..domain.serving import Mode, RoomState
from .batching import Batcher

PUBLISH_EVERY = "200 milliseconds"
_COLUMNS = ("drop_id, issued, serving, extract(epoch FROM serving_at)::float8 AS serving_at,"
            " rate, advancing, mode, lottery_size, lottery_seed")
_DRAW_DUE = "(r.mode = 'lottery' AND r.lottery_size IS NULL AND x.started)"
_SEED = "(random() * 9e15)::bigint"
_SERVING = ("CASE WHEN r.advancing THEN LEAST(r.issued::float8, r.serving + r.rate *"
            " GREATEST(0, extract(epoch FROM now() - r.serving_at))) ELSE r.serving END")
_PUBLISH = (f"((r.published_at IS NULL OR r.published_at <= now() - interval '{PUBLISH_EVERY}')"
            f" AND (floor({_SERVING}) IS DISTINCT FROM r.published_serving"
            " OR r.issued IS DISTINCT FROM r.published_issued"
            " OR x.sold_out IS DISTINCT FROM r.published_sold_out))")

TAKE = (
    "INSERT INTO rooms AS r (drop_id, issued, serving, serving_at, rate, advancing, mode,"
    " lottery_size, lottery_seed)"
    " SELECT x.d, x.n, 0, now(), x.rate, false, x.mode,"
    " CASE WHEN x.mode = 'lottery' AND x.started THEN 0 END,"
    f" CASE WHEN x.mode = 'lottery' AND x.started THEN {_SEED} END"
    " FROM json_to_recordset(%s::json)"
    " AS x(d uuid, n bigint, rate float8, mode text, started bool)"
    " ON CONFLICT (drop_id) DO UPDATE SET issued = r.issued + EXCLUDED.issued,"
    # an idle room's counter starts rising from now, not from when it last moved
    " serving_at = CASE WHEN r.serving >= r.issued THEN now() ELSE r.serving_at END,"
    " lottery_size = CASE WHEN r.mode = 'lottery' AND r.lottery_size IS NULL"
    " AND EXCLUDED.lottery_size IS NOT NULL THEN r.issued ELSE r.lottery_size END,"
    " lottery_seed = CASE WHEN r.mode = 'lottery' AND r.lottery_seed IS NULL"
    " AND EXCLUDED.lottery_seed IS NOT NULL THEN EXCLUDED.lottery_seed ELSE r.lottery_seed END"
    f" RETURNING {_COLUMNS}"
)

TICK = (
    "UPDATE rooms AS r SET"
    f" published_at = CASE WHEN {_PUBLISH} THEN now() ELSE r.published_at END,"
    f" published_serving = CASE WHEN {_PUBLISH} THEN floor({_SERVING})"
    " ELSE r.published_serving END,"
    f" published_issued = CASE WHEN {_PUBLISH} THEN r.issued ELSE r.published_issued END,"
    f" published_sold_out = CASE WHEN {_PUBLISH} THEN x.sold_out"
    " ELSE r.published_sold_out END,"
    f" serving = {_SERVING}, serving_at = GREATEST(r.serving_at, now()),"
    " rate = x.rate, advancing = x.adv,"
    f" lottery_size = CASE WHEN {_DRAW_DUE} THEN r.issued ELSE r.lottery_size END,"
    f" lottery_seed = CASE WHEN {_DRAW_DUE} THEN {_SEED} ELSE r.lottery_seed END"
    " FROM json_to_recordset(%s::json)"
    " AS x(d uuid, adv bool, rate float8, started bool, sold_out bool)"
    " WHERE r.drop_id = x.d AND (r.serving < r.issued OR r.advancing <> x.adv"
    f" OR r.rate <> x.rate OR {_DRAW_DUE}"
    " OR r.published_serving IS DISTINCT FROM floor(r.serving)"
    " OR r.published_issued IS DISTINCT FROM r.issued"
    " OR r.published_sold_out IS DISTINCT FROM x.sold_out)"
    " RETURNING r.drop_id, r.issued, r.serving,"
    " extract(epoch FROM r.serving_at)::float8 AS serving_at, r.rate, r.advancing, r.mode,"
    " r.lottery_size, r.lottery_seed, r.published_at = now() AS publish"
)


@dataclass(frozen=True, slots=True)
class NumberRequest:
    """A buyer wants a place in ``drop_id``'s queue (with the room's settings, as this
    process's view of the drop has them)."""

    drop_id: UUID
    rate: float
    mode: Mode
    started: bool  # the drop has started (a lottery is drawn at the first chance after)


@dataclass(frozen=True, slots=True)
class RoomTick:
    """What a tick tells about one drop's room (from this process's view)."""

    drop_id: UUID
    advancing: bool
    rate: float
    started: bool
    sold_out: bool


@dataclass(frozen=True, slots=True)
class Ticked:
    room: RoomState
    publish: bool  # this process publishes the room's figures this time


def _room(row: dict[str, Any]) -> RoomState:
    return RoomState(
        drop_id=row["drop_id"], issued=int(row["issued"]), serving=float(row["serving"]),
        serving_at=float(row["serving_at"]), rate=float(row["rate"]),
        advancing=bool(row["advancing"]), mode=Mode(row["mode"]),
        lottery_size=row["lottery_size"], lottery_seed=row["lottery_seed"],
    )


class RoomStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._numbers: Batcher[NumberRequest, tuple[int, RoomState]] = Batcher(
            self._take_many, name="waiting-room numbers")

    async def close(self) -> None:
        await self._numbers.close()

    async def take(self, request: NumberRequest) -> tuple[int, RoomState]:
        """The next number of the drop's queue, and the room as it is after taking it."""
        return await self._numbers.submit(request)

    async def _take_many(self, batch: list[NumberRequest]) -> list[tuple[int, RoomState]]:
        counts: dict[UUID, int] = {}
        first: dict[UUID, NumberRequest] = {}
        for r in batch:
            counts[r.drop_id] = counts.get(r.drop_id, 0) + 1
            first.setdefault(r.drop_id, r)
        rows = [{"d": d, "n": n, "rate": first[d].rate, "mode": first[d].mode.value,
                 "started": first[d].started} for d, n in counts.items()]
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(TAKE, (orjson.dumps(rows).decode(),))
            rooms = {r["drop_id"]: _room(r) for r in await cur.fetchall()}
        # each drop's numbers are the n just below its new ``issued``, in batch order
        next_number = {d: rooms[d].issued - n + 1 for d, n in counts.items()}
        taken = []
        for r in batch:
            taken.append((next_number[r.drop_id], rooms[r.drop_id]))
            next_number[r.drop_id] += 1
        return taken

    async def tick(self, drops: list[RoomTick]) -> list[Ticked]:
        """Move the counters of these drops' rooms; the rooms that are (or were just) in
        use come back, with whether this process publishes their figures now."""
        if not drops:
            return []
        rows = [{"d": t.drop_id, "adv": t.advancing, "rate": t.rate, "started": t.started,
                 "sold_out": t.sold_out} for t in drops]
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit TO off")
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(TICK, (orjson.dumps(rows).decode(),))
            return [Ticked(_room(r), bool(r["publish"])) for r in await cur.fetchall()]

    async def get(self, drop_id: UUID) -> RoomState | None:
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT {_COLUMNS} FROM rooms WHERE drop_id = %s", (drop_id,))
            row = await cur.fetchone()
        return _room(row) if row else None
