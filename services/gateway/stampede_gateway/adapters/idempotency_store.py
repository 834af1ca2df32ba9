"""Idempotency records in PostgreSQL, per user: shared by every gateway process and
surviving a restart; kept ``IDEMPOTENCY_TTL_HOURS`` (at least 24 h).

Records are created by ``Claims`` (group-committed, before the request goes on). The
inventory's answer is not written back on the order path: the decision is durable in the
inventory before it is sent, keyed by the command id, and a retry or the outcome URL
asks again with the same command id, which the inventory answers with its
first reply. What is learnt that way (a late reply, an outcome asked for) is written
behind (``complete`` posts it; batches write it), so the next reader finds it stored.
The holds a reserve may place are noted in ``holds`` with its claim, so a cancel finds
the drop.

A sure "no" is stored as its code alone (``refusal``) and rebuilt on a replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from ..domain.idempotency import IdempotencyRecord, StoredResponse
from ..domain.outcomes import Operation, refusal
from .batching import Batcher

COMPLETE_MANY = (
    "UPDATE idempotency_keys i SET response_status = c.s, response_body = c.b,"
    " response_headers = c.h, completed_at = now()"
    " FROM json_to_recordset(%s::json) AS c(u uuid, k text, s int, b json, h json)"
    " WHERE i.user_id = c.u AND i.key = c.k AND i.response_status IS NULL"
)


@dataclass(frozen=True, slots=True)
class Completion:
    user_id: UUID
    key: str
    response: StoredResponse

    def row(self) -> dict[str, Any]:
        return {"u": self.user_id, "k": self.key, "s": self.response.status,
                "b": self.response.body, "h": self.response.headers}


class IdempotencyStore:
    """``pool`` must be in autocommit (``open_pool(..., autocommit=True)``): every method
    is one statement, one round trip, with no BEGIN/COMMIT around it."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._completions: Batcher[Completion, None] = Batcher(
            self._complete_many, name="idempotency completions", max_flushes=1)

    async def close(self) -> None:
        await self._completions.close()

    def complete(self, completion: Completion) -> None:
        """Record the answer (first one wins), behind it: see the module's docstring."""
        self._completions.post(completion)

    async def _complete_many(self, batch: list[Completion]) -> list[None]:
        payload = orjson.dumps([c.row() for c in batch]).decode()
        async with self._pool.connection() as conn:
            await conn.execute(COMPLETE_MANY, (payload,))
        return [None] * len(batch)

    async def get(self, user_id: UUID, key: str) -> IdempotencyRecord | None:
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT fingerprint, operation, command_id, response_status,"
                " response_body, response_headers, refusal, command"
                " FROM idempotency_keys WHERE user_id = %s AND key = %s", (user_id, key)
            )
            row = await cur.fetchone()
        return _record(row) if row else None

    async def ticket_spent(self, ticket_id: str) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT 1 FROM idempotency_keys WHERE ticket = %s", (ticket_id,))
            return await cur.fetchone() is not None

    async def hold_drop(self, user_id: UUID, reservation_id: UUID) -> UUID | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT drop_id FROM holds WHERE reservation_id = %s AND user_id = %s",
                (reservation_id, user_id),
            )
            row = await cur.fetchone()
        return row[0] if row else None

    async def purge(self, older_than: datetime) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM idempotency_keys WHERE created_at < %s", (older_than,)
            )
            await conn.execute("DELETE FROM holds WHERE created_at < %s", (older_than,))
            return cur.rowcount


def _record(row: dict[str, Any]) -> IdempotencyRecord:
    response = None
    if row["refusal"] is not None:
        response = refusal(Operation(row["operation"]), row["refusal"])
    elif row["response_status"] is not None:
        response = StoredResponse(
            int(row["response_status"]), dict(row["response_body"] or {}),
            dict(row["response_headers"] or {}),
        )
    return IdempotencyRecord(
        fingerprint=row["fingerprint"], operation=row["operation"],
        command_id=row["command_id"], response=response,
        command=row["command"],
    )
