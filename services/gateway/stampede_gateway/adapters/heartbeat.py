"""How many gateway processes are alive: each beats in ``processes`` every few seconds.

Limits that must hold across processes are shared out by this count (see
``domain/token_bucket.py``). A process that stops leaves at once; one that crashes stops
being counted ``ALIVE_S`` after its last beat. Beats are not worth waiting for the disk.
"""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

ALIVE_S = 6

BEAT = (
    "INSERT INTO processes AS p (instance_id, seen_at) VALUES (%(me)s, now())"
    " ON CONFLICT (instance_id) DO UPDATE SET seen_at = now()"
    " RETURNING 1 + (SELECT count(*) FROM processes o WHERE o.instance_id <> %(me)s"
    f" AND o.seen_at > now() - interval '{ALIVE_S} seconds')"
)


class Heartbeat:
    def __init__(self, pool: AsyncConnectionPool, instance_id: str) -> None:
        self._pool = pool
        self._me = instance_id
        self.live = 1

    async def beat(self) -> int:
        """Say this process is alive; the number of live processes (itself included)."""
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit TO off")
            cur = await conn.execute(BEAT, {"me": self._me})
            row = await cur.fetchone()
        self.live = int(row[0]) if row else 1
        return self.live

    async def leave(self) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("DELETE FROM processes WHERE instance_id = %s", (self._me,))
