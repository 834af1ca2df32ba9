"""The gateway's own tables (schema ``gateway``), created at start.

Several gateway processes may start at once, so creation runs under an advisory lock.
"""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

DDL = """
CREATE TABLE IF NOT EXISTS users (
    id uuid PRIMARY KEY,
    username text NOT NULL,
    username_key text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    jti uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    user_id uuid NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    operation text NOT NULL,
    command_id uuid,
    command jsonb,
    lease_until timestamptz NOT NULL,
    response_status int,
    response_body jsonb,
    response_headers jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_command ON idempotency_keys (command_id);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
CREATE TABLE IF NOT EXISTS holds (
    reservation_id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    drop_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


async def create_tables(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('stampede-gateway-schema'))")
        await conn.execute(DDL)
