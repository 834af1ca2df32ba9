"""The inventory's PostgreSQL store: what one partition's writer loads and commits.

A batch is committed in ONE transaction: the owner's epoch is checked and the next
offset recorded, the touched drops, holds and purchases written (derived from the
batch's events), the processed command ids with their replies stored, the previous
batches' published outbox rows removed and this batch's outbox row added.

The transaction is pipelined: its statements go in one write and their results come
back together with the commit's (a round trip and a disk flush, not one round trip per
statement, which on a busy machine was most of a batch's time). So nothing is read back
in between: the epoch check raises (``owner_commits``), and a command decided before
(its id already in ``processed``, which a batch decided optimistically did not know)
aborts the transaction with a unique violation: ``AlreadyDecided``, and the writer
decides the batch again knowing the stored replies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import orjson
import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg_pool import AsyncConnectionPool
from pydantic import TypeAdapter
from stampede_contracts import DropSpec, EventEnvelope, Reply
from stampede_runtime import tracing

from ..domain import DropState, Hold
from ..wire import drop_key, envelopes_json, reply_json
from ..writer import Batch

_EVENTS = TypeAdapter(list[EventEnvelope])
_REPLIES = TypeAdapter(list[Reply])


class Fenced(Exception):
    """Another writer claimed the partition since this one loaded it."""


class AlreadyDecided(Exception):
    """A command of the batch was decided before (a re-sent command id): nothing was
    written; decide the batch again with the stored replies (``processed``)."""


FENCED = "SF001"  # the SQLSTATE ``owner_commits`` raises

class Message(NamedTuple):
    """One message as it is stored and sent: its Kafka key and its JSON (see ``wire``),
    and the trace context headers it is sent with (the envelope's ``trace`` as stored)."""

    key: str
    json: str
    headers: tuple[tuple[str, bytes], ...] = ()


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
    async def processed(self, partition: int,
                        command_ids: Sequence[UUID]) -> dict[UUID, Reply]:
        """The stored replies of those commands the partition already decided."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT reply FROM processed WHERE command_id = ANY(%s) AND partition = %s",
                (list(command_ids), partition),
            )
            rows = await cur.fetchall()
        replies = [Reply.model_validate_json(r[0]) for r in rows]
        return {r.command_id: r for r in replies}

    async def commit_batch(
        self, partition: int, epoch: int, next_offset: int, batch: Batch, outbox: Outbox,
        published_upto: int | None, *, optimistic: bool = False,
    ) -> int:
        """Write the batch and its ``outbox`` (from ``outbox_of``); return the outbox id.
        Raises ``Fenced`` (and nothing is written) if another writer owns the partition;
        with ``optimistic`` (the batch was decided without looking for commands decided
        before), ``AlreadyDecided`` if one was."""
        try:
            async with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                await conn.execute("SELECT owner_commits(%s, %s, %s)",
                                   (partition, epoch, next_offset))
                if published_upto is not None:
                    await conn.execute(
                        "DELETE FROM outbox WHERE partition = %s AND id <= %s",
                        (partition, published_upto),
                    )
                cur = await _write_outbox(conn, partition, batch, outbox)
                await _write_state(conn, partition, batch)
            row = await cur.fetchone()
        except psycopg.errors.UniqueViolation as exc:
            if optimistic and exc.diag.table_name == "processed":
                raise AlreadyDecided() from exc
            raise
        except psycopg.DatabaseError as exc:
            if exc.sqlstate == FENCED:
                raise Fenced(str(exc)) from exc
            raise
        assert row is not None
        return int(row[0])

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
            [Message(str(e.drop_id), e.model_dump_json(), tracing.headers(e.trace))
             for e in _EVENTS.validate_json(events)],
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


async def _write_state(conn: AsyncConnection, partition: int, batch: Batch) -> None:
    """The state's rows, each table one statement with its rows as one JSON parameter
    (the text of a statement does not depend on the batch: prepared once)."""
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
    if rows.new_holds:
        await conn.execute(
            "INSERT INTO holds (reservation_id, drop_id, partition, user_id, username, "
            "quantity, expires_at, status, decided_at) SELECT r, d, %s, u, n, q, e, s, a "
            "FROM json_to_recordset(%s::json) AS x(r uuid, d uuid, u uuid, n text, q int, "
            "e timestamptz, s text, a timestamptz)",
            (partition, _json_rows(("r", "d", "p", "u", "n", "q", "e", "s", "a"),
                                   rows.new_holds.values(), skip=2)),
        )
    if rows.purchases:
        await conn.execute(
            "INSERT INTO purchases (purchase_id, reservation_id, drop_id, partition, "
            "user_id, quantity, amount_cents, currency, created_at) "
            "SELECT i, r, d, %s, u, q, a, c, t FROM json_to_recordset(%s::json) "
            "AS x(i uuid, r uuid, d uuid, u uuid, q int, a bigint, c text, t timestamptz)",
            (partition, _json_rows(("i", "r", "d", "p", "u", "q", "a", "c", "t"),
                                   rows.purchases, skip=3)),
        )
    if rows.status:
        await conn.execute(
            "UPDATE holds SET status = t.s, decided_at = t.at FROM unnest("
            "%s::uuid[], %s::text[], %s::timestamptz[]) AS t(r, s, at) "
            "WHERE holds.reservation_id = t.r",
            _columns(((rid, s, at) for rid, (s, at) in rows.status.items()), 3),
        )


def _json_rows(names: Sequence[str], rows: Iterable[Sequence[Any]], *, skip: int) -> str:
    """Rows as one JSON array of objects (the column at ``skip``, the partition, is a
    parameter of its own, so it is left out)."""
    return orjson.dumps([
        {name: value for i, (name, value) in enumerate(zip(names, row, strict=True))
         if i != skip}
        for row in rows
    ]).decode()


async def _write_outbox(conn: AsyncConnection, partition: int, batch: Batch,
                        outbox: Outbox) -> AsyncCursor[Any]:
    """The batch's outbox row and its processed command ids (pointing at that row), in
    one statement; its cursor gives the row's id once the pipeline is read back."""
    decided = [(a.envelope.command_id, text, a.reply.decided_at)
               for a, text in zip(batch.applied, outbox.decided, strict=True)]
    return await conn.execute(
        "WITH o AS (INSERT INTO outbox (partition, events, replies) VALUES (%s, %s, %s) "
        "RETURNING id), p AS (INSERT INTO processed (command_id, partition, reply, "
        "decided_at, outbox_id) SELECT c, %s, r, a, (SELECT id FROM o) "
        "FROM json_to_recordset(%s::json) AS x(c uuid, r text, a timestamptz)) "
        "SELECT id FROM o",
        # the messages' own JSON, joined: a row is the array of what is sent (the first
        # replies of its commands are in their processed rows, see ``Outbox``)
        (partition, _array(m.json for m in outbox.events),
         _array(m.json for m in outbox.replies[len(outbox.replies) - outbox.resent:]),
         partition, orjson.dumps([{"c": c, "r": r, "a": a} for c, r, a in decided]).decode()),
    )


def _array(items: Iterable[str]) -> str:
    return "[" + ",".join(items) + "]"


def outbox_of(batch: Batch, traces: dict[UUID, dict[str, str]] | None = None) -> Outbox:
    """The messages a batch publishes: its events and the replies someone waits for,
    each serialised once (``wire``); and the JSON of its first replies, to be stored.
    ``traces``: the trace context of each command's decision span (tracing on); else a
    command's own trace is carried on, in the events' envelopes and every message's
    headers."""
    events: list[Message] = []
    replies: list[Message] = []
    decided: list[str] = []
    for a in batch.applied:
        decision = a.decision
        trace = (traces.get(a.envelope.command_id) if traces else None) or a.envelope.trace
        headers = tracing.headers(trace) if trace else ()
        if decision.events and decision.state is not None and decision.at is not None:
            drop_id = decision.state.drop_id
            key = drop_key(drop_id)
            fields = orjson.dumps(trace).decode() if trace else "{}"
            events.extend(
                Message(key, text, headers)
                for text in envelopes_json(drop_id, decision.events, decision.at,
                                           decision.cause, fields)
            )
        text = reply_json(a.reply)
        decided.append(text)
        if a.reply.reply_to:
            replies.append(Message(a.reply.reply_to, text, headers))
    resent = [Message(r.reply_to, reply_json(r)) for r in batch.duplicates if r.reply_to]
    return Outbox(0, events, replies + resent, decided, len(resent))
