"""The inventory's PostgreSQL store: what one partition's writer loads and commits.

A batch is committed in ONE transaction: the owner's epoch is checked and the next
offset recorded, the touched drops, holds and purchases written (derived from the
batch's events), the processed command ids with their replies stored, the previous
batches' published outbox rows removed and this batch's outbox row added.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from psycopg import AsyncConnection, AsyncCursor
from psycopg_pool import AsyncConnectionPool
from pydantic import TypeAdapter
from stampede_contracts import DropSpec, EventEnvelope, Reply

from ..domain import DropState, Hold
from ..wire import drop_key, envelopes_json, reply_json
from ..writer import Batch

_EVENTS = TypeAdapter(list[EventEnvelope])
_REPLIES = TypeAdapter(list[Reply])


class Fenced(Exception):
    """Another writer claimed the partition since this one loaded it."""


class Message(NamedTuple):
    """One message as it is stored and sent: its Kafka key and its JSON (see ``wire``)."""

    key: str
    json: str


@dataclass(frozen=True, slots=True)
class Outbox:
    """Messages committed but maybe not yet published; ``id`` orders them per partition.

    ``decided`` is the JSON of each of the batch's first replies (``batch.applied``, in
    order), stored with the command ids. Those replies are not stored a second time in
    the outbox row: the ``processed`` rows carry the id of their batch's outbox row, and
    a new owner reads them from there. Only the last ``resent`` replies (the stored
    replies of redelivered commands, re-addressed) are kept in the row itself."""

    id: int
    events: list[Message]
    replies: list[Message]
    decided: list[str] = field(default_factory=list)
    resent: int = 0


@dataclass(slots=True)
class Loaded:
    """A partition as its new owner finds it."""

    epoch: int
    next_offset: int
    drops: dict[UUID, DropState]
    outbox: list[Outbox] = field(default_factory=list)


class InventoryStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    # -- ownership -----------------------------------------------------------------------
    async def claim(self, partition: int) -> Loaded:
        """Become the partition's owner (epoch + 1) and load its state and outbox."""
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO partitions (partition) VALUES (%s) ON CONFLICT DO NOTHING",
                (partition,),
            )
            cur = await conn.execute(
                "UPDATE partitions SET epoch = epoch + 1 WHERE partition = %s "
                "RETURNING epoch, next_offset", (partition,),
            )
            row = await cur.fetchone()
            assert row is not None
            drops = await _load_drops(conn, partition)
            outbox = await _load_outbox(conn, partition)
        return Loaded(epoch=row[0], next_offset=row[1], drops=drops, outbox=outbox)

    async def reset_offset(self, partition: int, epoch: int, offset: int) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            await _check_epoch(conn, partition, epoch, offset)

    # -- batches -------------------------------------------------------------------------
    async def processed(self, command_ids: Sequence[UUID]) -> dict[UUID, Reply]:
        """The stored replies of those commands already decided."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT reply FROM processed WHERE command_id = ANY(%s)", (list(command_ids),)
            )
            rows = await cur.fetchall()
        replies = [Reply.model_validate_json(r[0]) for r in rows]
        return {r.command_id: r for r in replies}

    async def commit_batch(
        self, partition: int, epoch: int, next_offset: int, batch: Batch, outbox: Outbox,
        published_upto: int | None,
    ) -> int:
        """Write the batch and its ``outbox`` (from ``outbox_of``); return the outbox id.
        Raises ``Fenced`` (and nothing is written) if another writer owns the partition."""
        async with self._pool.connection() as conn, conn.transaction():
            await _check_epoch(conn, partition, epoch, next_offset)
            if published_upto is not None:
                await conn.execute(
                    "DELETE FROM outbox WHERE partition = %s AND id <= %s",
                    (partition, published_upto),
                )
            outbox_id = await _write_outbox(conn, partition, outbox)
            await _write_state(conn, partition, batch, outbox.decided, outbox_id)
            return outbox_id

    async def delete_outbox(self, partition: int, upto: int) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE partition = %s AND id <= %s", (partition, upto)
            )

    async def forget_processed_before(self, cutoff: datetime) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute("DELETE FROM processed WHERE decided_at < %s", (cutoff,))
            return cur.rowcount


async def _check_epoch(conn: AsyncConnection, partition: int, epoch: int, offset: int) -> None:
    cur = await conn.execute(
        "UPDATE partitions SET next_offset = %s WHERE partition = %s AND epoch = %s",
        (offset, partition, epoch),
    )
    if cur.rowcount != 1:
        raise Fenced(f"partition {partition}: epoch {epoch} is no longer the owner's")


# -- loading ----------------------------------------------------------------------------

async def _load_drops(conn: AsyncConnection, partition: int) -> dict[UUID, DropState]:
    cur = await conn.execute(
        "SELECT spec, held, sold, seq, deleted FROM drops WHERE partition = %s", (partition,)
    )
    drops: dict[UUID, DropState] = {}
    for spec, held, sold, seq, deleted in await cur.fetchall():
        state = DropState(DropSpec.model_validate(spec), held, sold, seq, deleted=deleted)
        drops[state.drop_id] = state
    cur = await conn.execute(
        "SELECT reservation_id, drop_id, user_id, username, quantity, expires_at "
        "FROM holds WHERE partition = %s AND status = 'active'", (partition,),
    )
    for row in await cur.fetchall():
        hold = Hold(*row)
        state = drops[hold.drop_id]
        state.holds[hold.reservation_id] = hold
        state.hold_of_user[hold.user_id] = hold.reservation_id
    cur = await conn.execute(
        "SELECT drop_id, user_id, sum(quantity) FROM holds WHERE partition = %s "
        "AND status IN ('active', 'purchased') GROUP BY drop_id, user_id", (partition,),
    )
    for drop_id, user_id, units in await cur.fetchall():
        drops[drop_id].counts[user_id] = int(units)
    # a user's latest hold, if it expired, answers a late purchase with RESERVATION_EXPIRED
    cur = await conn.execute(
        "SELECT DISTINCT ON (drop_id, user_id) drop_id, user_id, reservation_id, status "
        "FROM holds WHERE partition = %s ORDER BY drop_id, user_id, decided_at DESC",
        (partition,),
    )
    for drop_id, user_id, reservation_id, status in await cur.fetchall():
        if status == "expired":
            drops[drop_id].expired[user_id] = reservation_id
    return drops


async def _load_outbox(conn: AsyncConnection, partition: int) -> list[Outbox]:
    cur = await conn.execute(
        "SELECT id, events, replies FROM outbox WHERE partition = %s ORDER BY id", (partition,)
    )
    rows = await cur.fetchall()
    if not rows:
        return []
    # a batch's first replies are in its processed rows (see ``Outbox``); a row written
    # before they were has them all in its own ``replies`` and no processed row points
    # at it. The range condition suits the BRIN index (outbox ids rise with time).
    cur = await conn.execute(
        "SELECT outbox_id, reply FROM processed WHERE outbox_id BETWEEN %s AND %s "
        "AND partition = %s", (rows[0][0], rows[-1][0], partition),
    )
    first: dict[int, list[Reply]] = {}
    for outbox_id, reply in await cur.fetchall():
        first.setdefault(outbox_id, []).append(Reply.model_validate_json(reply))
    # rare (a new owner finds what its predecessor did not publish): validated, and
    # written again by pydantic, which is the same text the writer stored
    return [
        Outbox(
            id,
            [Message(str(e.drop_id), e.model_dump_json()) for e in _EVENTS.validate_json(events)],
            [Message(r.reply_to, r.model_dump_json())
             for r in first.get(id, []) + _REPLIES.validate_json(replies) if r.reply_to],
        )
        for id, events, replies in rows
    ]


# -- writing ----------------------------------------------------------------------------

@dataclass(slots=True)
class _Rows:
    """The row changes a batch's events imply, final status per hold."""

    new_holds: dict[UUID, list[Any]] = field(default_factory=dict)
    status: dict[UUID, tuple[str, datetime]] = field(default_factory=dict)
    purchases: list[tuple[Any, ...]] = field(default_factory=list)


_ENDED = {"HoldExpired": "expired", "HoldCancelled": "cancelled", "PurchaseConfirmed": "purchased"}


def _rows(partition: int, batch: Batch) -> _Rows:
    rows = _Rows()
    for applied in batch.applied:
        decision = applied.decision
        at = decision.at
        if decision.state is None or at is None:
            continue
        drop_id = decision.state.drop_id
        for numbered in decision.events:
            e = numbered.event
            if e.type == "StockReserved":
                rows.new_holds[e.reservation_id] = [
                    e.reservation_id, drop_id, partition, e.user_id, e.username, e.quantity,
                    e.expires_at, "active", at,
                ]
            elif e.type in _ENDED:
                status = _ENDED[e.type]
                rid = e.reservation_id  # type: ignore[union-attr]
                if rid in rows.new_holds:
                    rows.new_holds[rid][7] = status
                    rows.new_holds[rid][8] = at
                else:
                    rows.status[rid] = (status, at)
                if e.type == "PurchaseConfirmed":
                    rows.purchases.append((
                        e.purchase_id, e.reservation_id, drop_id, partition, e.user_id,
                        e.quantity, e.amount_cents, e.currency, at,
                    ))
    return rows


def _columns(rows: Iterable[Sequence[Any]], width: int) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for i, value in enumerate(row):
            columns[i].append(value)
    return columns


async def _write_state(
    conn: AsyncConnection, partition: int, batch: Batch, decided: Sequence[str], outbox_id: int
) -> None:
    touched = {
        a.decision.state.drop_id: a.decision.state
        for a in batch.applied if a.decision.events and a.decision.state is not None
    }
    if touched:
        await conn.execute(
            "INSERT INTO drops (drop_id, partition, spec, held, sold, seq, deleted) "
            "SELECT d, %s, s::jsonb, h, so, q, del FROM unnest("
            "%s::uuid[], %s::text[], %s::int[], %s::int[], %s::bigint[], %s::bool[]) "
            "AS t(d, s, h, so, q, del) "
            "ON CONFLICT (drop_id) DO UPDATE SET spec = EXCLUDED.spec, held = EXCLUDED.held, "
            "sold = EXCLUDED.sold, seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, "
            "updated_at = now()",
            [partition, *_columns(
                ((s.drop_id, s.spec.model_dump_json(), s.held, s.sold, s.seq, s.deleted)
                 for s in touched.values()), 6,
            )],
        )
    rows = _rows(partition, batch)
    async with conn.cursor() as cur:
        # COPY: the bulk of a batch is new rows, and COPY is the cheapest way in; the
        # text is built here in one go (psycopg's per-row write_row cost more)
        if rows.new_holds:
            await _copy(cur, "holds (reservation_id, drop_id, partition, user_id, username, "
                        "quantity, expires_at, status, decided_at)", "".join(
                            f"{r}\t{d}\t{p}\t{u}\t{_text(n)}\t{q}\t{_ts(e)}\t{s}\t{_ts(at)}\n"
                            for r, d, p, u, n, q, e, s, at in rows.new_holds.values()
                        ))
        if rows.purchases:
            await _copy(cur, "purchases (purchase_id, reservation_id, drop_id, partition, "
                        "user_id, quantity, amount_cents, currency, created_at)", "".join(
                            f"{i}\t{r}\t{d}\t{p}\t{u}\t{q}\t{a}\t{_text(c)}\t{_ts(at)}\n"
                            for i, r, d, p, u, q, a, c, at in rows.purchases
                        ))
        if batch.applied:
            # a command id seen on two partitions (a misbehaving sender) fails the batch
            # here; the loop then isolates and dead-letters that command
            await _copy(
                cur, "processed (command_id, partition, reply, decided_at, outbox_id)",
                "".join(
                    f"{a.envelope.command_id}\t{partition}\t{_json_text(j)}\t"
                    f"{_ts(a.reply.decided_at)}\t{outbox_id}\n"
                    for a, j in zip(batch.applied, decided, strict=True)
                ),
            )
    if rows.status:
        await conn.execute(
            "UPDATE holds SET status = t.s, decided_at = t.at FROM unnest("
            "%s::uuid[], %s::text[], %s::timestamptz[]) AS t(r, s, at) "
            "WHERE holds.reservation_id = t.r",
            _columns(((rid, s, at) for rid, (s, at) in rows.status.items()), 3),
        )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_ts_cache: dict[datetime, str] = {}


def _text(value: str) -> str:
    """A text column in COPY's text format (backslash, tab, newline, CR escaped)."""
    if value.isprintable() and "\\" not in value:
        return value
    return value.translate(_COPY_ESCAPES)


def _json_text(value: str) -> str:
    """JSON has no raw tab, newline or CR (they are escaped): only backslashes double."""
    return value.replace("\\", "\\\\") if "\\" in value else value


def _ts(value: datetime) -> str:
    """A timestamptz for COPY (a batch has a handful of distinct ones)."""
    text = _ts_cache.get(value)
    if text is None:
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a timezone")
        if len(_ts_cache) >= 4096:
            _ts_cache.clear()
        text = _ts_cache[value] = value.isoformat()
    return text


async def _copy(cur: AsyncCursor[Any], table: str, data: str) -> None:
    async with cur.copy(f"COPY {table} FROM STDIN") as copy:
        await copy.write(data.encode())


async def _write_outbox(conn: AsyncConnection, partition: int, outbox: Outbox) -> int:
    cur = await conn.execute(
        "INSERT INTO outbox (partition, events, replies) VALUES (%s, %s, %s) "
        "RETURNING id",
        # the messages' own JSON, joined: a row is the array of what is sent (the first
        # replies of its commands are in their processed rows, see ``Outbox``)
        (partition, _array(m.json for m in outbox.events),
         _array(m.json for m in outbox.replies[len(outbox.replies) - outbox.resent:])),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def _array(items: Iterable[str]) -> str:
    return "[" + ",".join(items) + "]"


def outbox_of(batch: Batch) -> Outbox:
    """The messages a batch publishes: its events and the replies someone waits for,
    each serialised once (``wire``); and the JSON of its first replies, to be stored."""
    events: list[Message] = []
    replies: list[Message] = []
    decided: list[str] = []
    for a in batch.applied:
        decision = a.decision
        if decision.events and decision.state is not None and decision.at is not None:
            drop_id = decision.state.drop_id
            key = drop_key(drop_id)
            events.extend(
                Message(key, text)
                for text in envelopes_json(drop_id, decision.events, decision.at, decision.cause)
            )
        text = reply_json(a.reply)
        decided.append(text)
        if a.reply.reply_to:
            replies.append(Message(a.reply.reply_to, text))
    resent = [Message(r.reply_to, reply_json(r)) for r in batch.duplicates if r.reply_to]
    return Outbox(0, events, replies + resent, decided, len(resent))
