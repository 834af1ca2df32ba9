"""Group commit of idempotency claims: the claims of concurrent requests written by one
multi-row statement, one round trip for many answers.

A claim waits only while an earlier batch is being written (at most ``max_flushes``
statements are in flight); whatever arrived meanwhile goes in the next batch, so under
a storm batches grow by themselves and at rest a claim is written at once. Every claim
is durable (committed) before its ``claim`` returns: nothing is acknowledged early.

A batch is one ``INSERT ... SELECT FROM json_to_recordset(%s) ON CONFLICT DO NOTHING
RETURNING``: one parameter, the rows as a JSON array (the statement text does not depend
on the batch size, so it is prepared once). Two claims of one key in one batch: the first
is sent, the second is answered "known" once the batch is written, so it then finds the
record. A batch refused for its data (``DataError``) is retried row by row, so a bad row
fails only its own request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

INSERT_MANY = (
    "INSERT INTO idempotency_keys (user_id, key, fingerprint, operation, command_id, command,"
    " lease_until, response_status, response_body, response_headers, completed_at)"
    " SELECT u, k, f, o, c, cmd, coalesce(l, now()), s, b, h,"
    " CASE WHEN s IS NULL THEN NULL ELSE now() END"
    " FROM json_to_recordset(%s::json) AS t(u uuid, k text, f text, o text, c uuid, cmd jsonb,"
    " l timestamptz, s int, b jsonb, h jsonb)"
    " ON CONFLICT DO NOTHING RETURNING user_id, key"
)


def rows_json(claims: list[Claim]) -> str:
    """The batch as one JSON array (one parameter: far cheaper to send than one array per
    column, which psycopg dumps element by element). The JSON parts of a claim are
    already JSON texts and go in as they are."""
    return "[" + ",".join([_row_json(c) for c in claims]) + "]"


def _row_json(c: Claim) -> str:
    command_id = "null" if c.command_id is None else f'"{c.command_id}"'
    lease = "null" if c.lease_until is None else json.dumps(c.lease_until.isoformat())
    status = "null" if c.status is None else str(int(c.status))
    return (
        f'{{"u":"{c.user_id}","k":{json.dumps(c.key)},"f":{json.dumps(c.fingerprint)},'
        f'"o":{json.dumps(c.operation)},"c":{command_id},"cmd":{c.command or "null"},'
        f'"l":{lease},"s":{status},"b":{c.body or "null"},"h":{c.headers or "null"}}}'
    )


@dataclass(slots=True)
class Claim:
    """A new record: pending (``command``, ``lease_until``) or decided (``status``...)."""

    user_id: UUID
    key: str
    fingerprint: str
    operation: str
    command_id: UUID | None = None
    command: str | None = None  # JSON text
    lease_until: datetime | None = None  # None: now() (a decided record has no lease)
    status: int | None = None
    body: str | None = None  # JSON text
    headers: str | None = None  # JSON text
    done: asyncio.Future[bool] | None = field(default=None, repr=False)


class GroupCommit:
    def __init__(self, pool: AsyncConnectionPool, *, max_batch: int = 512,
                 max_flushes: int = 2) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._max_flushes = max_flushes
        self._queue: list[Claim] = []
        self._flushing = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # statements written (for tests and metrics)
        self.claims = 0

    async def claim(self, claim: Claim) -> bool:
        """Write the record; True when it is new, False when the key was already known."""
        loop = asyncio.get_running_loop()
        claim.done = loop.create_future()
        self._queue.append(claim)
        if self._flushing < self._max_flushes:
            self._flushing += 1
            task = loop.create_task(self._flush())  # runs after this loop iteration:
            self._tasks.add(task)  # the claims made meanwhile join the batch
            task.add_done_callback(self._tasks.discard)
        return await claim.done

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._write(batch)
        finally:
            self._flushing -= 1

    async def _write(self, batch: list[Claim]) -> None:
        first: dict[tuple[UUID, str], Claim] = {}
        for c in batch:
            first.setdefault((c.user_id, c.key), c)
        rows = list(first.values())
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(INSERT_MANY, (rows_json(rows),))
                created = {(u, k) for u, k in await cur.fetchall()}
        except psycopg.DataError as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            for c in batch:  # one bad row must not fail the others: each on its own
                await self._write([c])
            return
        except Exception as exc:
            log.warning("idempotency batch of %d failed: %r", len(batch), exc)
            _fail(batch, exc)
            return
        except BaseException:  # cancelled: the waiting requests must not hang
            _fail(batch, RuntimeError("idempotency write cancelled"))
            raise
        self.batches += 1
        self.claims += len(batch)
        for c in batch:
            ident = (c.user_id, c.key)
            new = first[ident] is c and ident in created
            if c.done is not None and not c.done.done():
                c.done.set_result(new)

    async def close(self) -> None:
        """Let the batches in progress finish (new claims are not expected any more)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _fail(batch: list[Claim], exc: Exception) -> None:
    for c in batch:
        if c.done is not None and not c.done.done():
            c.done.set_exception(exc)
