"""Baseline: the stock in a PostgreSQL row, locked per request, behind a minimal FastAPI service.

``python -m bench.baselines.pg_for_update --port P --database-url postgresql://...
--drop-id ID --stock N [--pool 16]`` (started by ``bench.front_door`` /
``bench.accepted_path``, on a durable PostgreSQL: fsync and synchronous_commit on)

The textbook design: ``POST /api/drops/{id}/reserve`` with an ``Idempotency-Key`` header
(and ``X-User-Id``) runs one transaction that locks the drop's row (``SELECT ... FOR
UPDATE``; every request of a drop waits for the one before it), replays the answer already
recorded for (user, key) if there is one, else checks the stock, decrements it when enough
is left and inserts the idempotency row with the answer: ``201`` with a reservation id, or
``409 OUT_OF_STOCK``. One process, uvicorn with uvloop and httptools, a psycopg
connection pool.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from ._api import arguments, new_app, serve

SCHEMA = """
CREATE TABLE IF NOT EXISTS drops (id uuid PRIMARY KEY, stock integer NOT NULL CHECK (stock >= 0));
CREATE TABLE IF NOT EXISTS idempotency (
    user_id uuid NOT NULL, key text NOT NULL, status smallint NOT NULL, reservation uuid,
    created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (user_id, key));
"""


async def reserve_once(conn: Any, drop: uuid.UUID, user: uuid.UUID | None, key: str,
                       quantity: int) -> tuple[int, str, bool]:
    """(status, reservation id, replayed) of one request, in one transaction."""
    async with conn.transaction():
        row = await (await conn.execute(
            "SELECT stock FROM drops WHERE id = %s FOR UPDATE", (drop,))).fetchone()
        if row is None:
            return 404, "", False
        done = await (await conn.execute(
            "SELECT status, reservation FROM idempotency WHERE user_id = %s AND key = %s",
            (user, key))).fetchone()
        if done is not None:
            return int(done[0]), str(done[1] or ""), True
        status, reservation = 409, None
        if row[0] >= quantity:
            status, reservation = 201, uuid.uuid4()
            await conn.execute("UPDATE drops SET stock = stock - %s WHERE id = %s",
                               (quantity, drop))
        await conn.execute(
            "INSERT INTO idempotency (user_id, key, status, reservation) VALUES (%s, %s, %s, %s)",
            (user, key, status, reservation))
        return status, str(reservation or ""), False


def create_app(database_url: str, drop_id: str, stock: int, pool_size: int) -> FastAPI:
    pool = AsyncConnectionPool(database_url, min_size=pool_size, max_size=pool_size,
                               open=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        async with pool.connection() as conn:
            await conn.execute(SCHEMA)
            await conn.execute(
                "INSERT INTO drops (id, stock) VALUES (%s, %s) "
                "ON CONFLICT (id) DO UPDATE SET stock = excluded.stock", (drop_id, stock))
        try:
            yield
        finally:
            await pool.close()

    async def decide(drop: uuid.UUID, user: uuid.UUID | None, key: str,
                     quantity: int) -> tuple[int, str, bool]:
        async with pool.connection() as conn:
            return await reserve_once(conn, drop, user, key, quantity)

    return new_app(lifespan, decide)


def main() -> None:
    parser = arguments(__doc__, "database")
    parser.add_argument("--pool", type=int, default=16, help="database connections")
    args = parser.parse_args()
    serve(create_app(args.store_url, args.drop_id, args.stock, args.pool), args.port)


if __name__ == "__main__":
    main()
