"""Claims of idempotency keys, group-committed: one multi-row statement per batch.

A claim creates a key's record: *pending* (with the command to send) or
already *decided* (the drop view's sure "no", stored as its code alone). A batch is one
``INSERT ... SELECT FROM json_to_recordset(%s) ON CONFLICT DO NOTHING RETURNING``, with
the rows as one JSON parameter (the statement text does not depend on the batch size, so
it is prepared once). A claim is committed before its request goes on.

A claim may spend a waiting-room ticket (``ticket``, unique): the ticket passes once,
at any process. A claim that is not created met an existing record of its key (a retry)
or, with a ticket, a ticket already spent; the caller tells them apart by reading the
record. Two claims of one key in one batch: the first is written, the second is told
"known". A batch refused for its data (``DataError``) is retried row by row, so a bad
row fails only its own request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from uuid import UUID

import orjson
import psycopg
from psycopg_pool import AsyncConnectionPool

from ..errors import UpstreamUnavailable
from .batching import Batcher

CLAIM_TIMEOUT_S = 1.0  # a commit takes milliseconds, a batch under a storm tens of them

INSERT_MANY = (
    "WITH x AS (SELECT * FROM json_to_recordset(%s::json) AS x(u uuid, k text, f text,"
    " o text, c uuid, cmd text, s int, r text, t text, hr uuid, hd uuid)),"
    " ins AS (INSERT INTO idempotency_keys (user_id, key, fingerprint, operation, command_id,"
    " command, response_status, refusal, ticket, completed_at)"
    " SELECT u, k, f, o, c, cmd, s, r, t,"
    " CASE WHEN s IS NULL THEN NULL ELSE now() END FROM x"
    " ON CONFLICT DO NOTHING RETURNING user_id, key),"
    # the hold a reserve may place (its id derives from the command id): noted with the
    # claim, so a cancel right after the answer finds its drop, on any process
    " noted AS (INSERT INTO holds (reservation_id, user_id, drop_id)"
    " SELECT x.hr, x.u, x.hd FROM x JOIN ins ON ins.user_id = x.u AND ins.key = x.k"
    " WHERE x.hr IS NOT NULL ON CONFLICT DO NOTHING)"
    " SELECT user_id, key FROM ins"
)


@dataclass(frozen=True, slots=True)
class Claim:
    """A new record: pending (``command``) or decided (``status``, ``refusal``)."""

    user_id: UUID
    key: str
    fingerprint: str
    operation: str
    command_id: UUID | None = None
    command: str | None = None  # the command envelope, JSON text
    status: int | None = None
    refusal: str | None = None  # the code of a sure "no"
    ticket: str | None = None  # the waiting-room ticket it spends
    hold: tuple[UUID, UUID] | None = None  # (reservation, drop) a reserve would place

    def row(self) -> dict[str, object]:
        reservation, drop = self.hold or (None, None)
        return {"u": self.user_id, "k": self.key, "f": self.fingerprint, "o": self.operation,
                "c": self.command_id, "cmd": self.command,
                "s": self.status, "r": self.refusal, "t": self.ticket, "hr": reservation,
                "hd": drop}


class Claims:
    def __init__(self, pool: AsyncConnectionPool, *, max_batch: int = 512,
                 max_flushes: int = 2, timeout_s: float = CLAIM_TIMEOUT_S) -> None:
        self._pool = pool
        self._timeout_s = timeout_s
        self._batcher: Batcher[Claim, bool] = Batcher(
            self._write, name="idempotency claims", max_batch=max_batch,
            max_flushes=max_flushes,
        )

    @property
    def batches(self) -> int:
        return self._batcher.batches

    async def claim(self, claim: Claim) -> bool:
        """Write the record; True when it is new, False when its key (or its ticket) was
        already known."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._batcher.submit(claim)
        except (TimeoutError, psycopg.OperationalError):
            raise UpstreamUnavailable(
                "The request could not be recorded (the database is unavailable); "
                "retry with the same Idempotency-Key.") from None

    async def close(self) -> None:
        await self._batcher.close()

    async def _write(self, batch: list[Claim]) -> list[bool | Exception]:
        first: dict[tuple[UUID, str], Claim] = {}
        for c in batch:
            first.setdefault((c.user_id, c.key), c)
        rows = list(first.values())
        try:
            created = await self._insert(rows)
        except psycopg.DataError:
            if len(batch) == 1:
                raise
            return [await self._alone(c) for c in batch]
        return [first[(c.user_id, c.key)] is c and (c.user_id, c.key) in created
                for c in batch]

    async def _alone(self, claim: Claim) -> bool | Exception:
        """One bad row must not fail the others: each on its own; a bad one alone fails."""
        try:
            created = await self._insert([claim])
        except psycopg.DataError as exc:
            return exc
        return (claim.user_id, claim.key) in created

    async def _insert(self, rows: list[Claim]) -> set[tuple[UUID, str]]:
        payload = orjson.dumps([c.row() for c in rows]).decode()
        async with self._pool.connection(timeout=self._timeout_s) as conn:
            cur = await conn.execute(INSERT_MANY, (payload,))
            return {(u, k) for u, k in await cur.fetchall()}
