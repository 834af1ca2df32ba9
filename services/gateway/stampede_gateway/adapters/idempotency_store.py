"""Idempotency records in PostgreSQL, scoped per user: shared by every gateway
process and surviving a restart. Kept ``IDEMPOTENCY_TTL_HOURS`` (at least 24 h).

A record is created *pending* by the request that owns it (with a lease), then
completed with the response; a late reply completes it by command id. A request
decided without the inventory (the drop view's sure "no") is created decided, in one
write. Creations are group-committed (``group_commit``): the claims of concurrent
requests go in one multi-row statement, committed before any of them is answered. Holds the
gateway itself placed are noted in ``holds`` so a cancel can find the drop.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from stampede_contracts import utcnow

from ..domain.idempotency import IdempotencyRecord, StoredResponse
from .group_commit import Claim, GroupCommit

COMPLETE = (
    "UPDATE idempotency_keys SET response_status = %s, response_body = %s,"
    " response_headers = %s, completed_at = now()"
    " WHERE command_id = %s AND response_status IS NULL"
)
COMPLETE_WITH_HOLD = (
    f"WITH done AS ({COMPLETE})"
    " INSERT INTO holds (reservation_id, user_id, drop_id) VALUES (%s, %s, %s)"
    " ON CONFLICT DO NOTHING"
)


class IdempotencyStore:
    """``pool`` must be in autocommit (``open_pool(..., autocommit=True)``): every method
    is one statement, so one round trip, with no BEGIN/COMMIT around it."""

    def __init__(self, pool: AsyncConnectionPool, lease_s: float, *,
                 max_batch: int = 512, max_flushes: int = 2) -> None:
        self._pool = pool
        self._lease = timedelta(seconds=lease_s)
        self._group = GroupCommit(pool, max_batch=max_batch, max_flushes=max_flushes)

    async def close(self) -> None:
        await self._group.close()

    async def begin(
        self, user_id: UUID, key: str, fingerprint: str, operation: str, command_id: UUID,
        command_json: str,
    ) -> bool:
        """Claim the key for a new request; False when the key is already known."""
        return await self._group.claim(Claim(
            user_id, key, fingerprint, operation, command_id=command_id,
            command=command_json, lease_until=utcnow() + self._lease,
        ))

    async def record_decided(
        self, user_id: UUID, key: str, fingerprint: str, operation: str,
        response: StoredResponse, body_json: str | None = None, headers_json: str | None = None,
    ) -> bool:
        """Store a request decided without the inventory (claimed and answered in one
        write); False when the key is known. ``body_json``/``headers_json``: the response
        already serialised (a constant refusal)."""
        return await self._group.claim(Claim(
            user_id, key, fingerprint, operation, status=response.status,
            body=body_json if body_json is not None else json.dumps(response.body),
            headers=headers_json if headers_json is not None else json.dumps(response.headers),
        ))

    async def get(self, user_id: UUID, key: str) -> IdempotencyRecord | None:
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT * FROM idempotency_keys WHERE user_id = %s AND key = %s", (user_id, key)
            )
            row = await cur.fetchone()
        return _record(row) if row else None

    async def take_over(self, user_id: UUID, key: str) -> str | None:
        """Renew the lease of a pending record whose owner is gone; the command to
        send again, or None when someone else took it (or it was completed)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE idempotency_keys SET lease_until = %s WHERE user_id = %s AND key = %s"
                " AND response_status IS NULL AND lease_until <= now() RETURNING command::text",
                (utcnow() + self._lease, user_id, key),
            )
            row = await cur.fetchone()
        return str(row[0]) if row and row[0] is not None else None

    async def complete(
        self, command_id: UUID, response: StoredResponse, hold: tuple[UUID, UUID, UUID] | None,
    ) -> None:
        """Record the outcome (first one wins) and, for a new hold, who holds what where:
        one statement, so one round trip and atomic."""
        async with self._pool.connection() as conn:
            if hold is None:
                await conn.execute(COMPLETE, (
                    response.status, Jsonb(response.body), Jsonb(response.headers), command_id))
            else:
                await conn.execute(COMPLETE_WITH_HOLD, (
                    response.status, Jsonb(response.body), Jsonb(response.headers), command_id,
                    *hold))

    async def operation_of(self, command_id: UUID) -> str | None:
        """The operation of a pending request (for a reply that came after its timeout)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT operation FROM idempotency_keys"
                " WHERE command_id = %s AND response_status IS NULL",
                (command_id,),
            )
            row = await cur.fetchone()
        return str(row[0]) if row else None

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
    if row["response_status"] is not None:
        response = StoredResponse(
            int(row["response_status"]), dict(row["response_body"] or {}),
            dict(row["response_headers"] or {}),
        )
    return IdempotencyRecord(
        fingerprint=row["fingerprint"], operation=row["operation"],
        command_id=row["command_id"], lease_until=row["lease_until"], response=response,
    )
