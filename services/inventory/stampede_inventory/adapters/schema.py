"""The inventory's tables in its own schema (``inventory``); created at start-up.

- ``partitions``: per command partition, the next offset to apply and the owner's
  ``epoch`` (bumped by each new owner; a batch commits only under the epoch it
  loaded with, so a writer that lost its partition without knowing can't write).
- ``drops``, ``holds`` (every hold with its final status), ``purchases``: the state.
- ``processed``: command id -> first reply (kept >= 24 h): redeliveries get it again;
  with the id of its batch's outbox row, whose replies to publish it is.
- ``outbox``: one row per batch, the events to publish after commit (and the replies:
  the first ones through ``processed.outbox_id``, resent ones in the row itself).

Replies and the outbox are kept as JSON text, not jsonb: they are only ever read
back whole, and parsing them into jsonb was a large part of a batch's cost; the outbox
is stored uncompressed (STORAGE EXTERNAL) because it lives for one batch only.
"""

from __future__ import annotations

from psycopg import AsyncConnection

DDL = """
CREATE TABLE IF NOT EXISTS partitions (
    partition int PRIMARY KEY,
    next_offset bigint NOT NULL DEFAULT 0,
    epoch bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS drops (
    drop_id uuid PRIMARY KEY,
    partition int NOT NULL,
    spec jsonb NOT NULL,
    held int NOT NULL CHECK (held >= 0),
    sold int NOT NULL CHECK (sold >= 0),
    seq bigint NOT NULL,
    deleted boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((spec->>'total_stock')::int >= held + sold)
);
CREATE INDEX IF NOT EXISTS drops_by_partition ON drops (partition);
CREATE TABLE IF NOT EXISTS holds (
    reservation_id uuid PRIMARY KEY,
    drop_id uuid NOT NULL,
    partition int NOT NULL,
    user_id uuid NOT NULL,
    username text NOT NULL,
    quantity int NOT NULL,
    expires_at timestamptz NOT NULL,
    status text NOT NULL,
    decided_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS holds_by_partition ON holds (partition, status);
CREATE TABLE IF NOT EXISTS purchases (
    purchase_id uuid PRIMARY KEY,
    reservation_id uuid NOT NULL UNIQUE,
    drop_id uuid NOT NULL,
    partition int NOT NULL,
    user_id uuid NOT NULL,
    quantity int NOT NULL,
    amount_cents bigint NOT NULL,
    currency text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS processed (
    command_id uuid PRIMARY KEY,
    partition int NOT NULL,
    reply text NOT NULL,
    decided_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS processed_by_age ON processed (decided_at);
-- the outbox row of the command's batch (NULL: written before replies lived only here)
ALTER TABLE processed ADD COLUMN IF NOT EXISTS outbox_id bigint;
CREATE INDEX IF NOT EXISTS processed_by_outbox ON processed USING brin (outbox_id);
CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY,
    partition int NOT NULL,
    events text NOT NULL,
    replies text NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_partition ON outbox (partition, id);
ALTER TABLE outbox ALTER COLUMN events SET STORAGE EXTERNAL;
ALTER TABLE outbox ALTER COLUMN replies SET STORAGE EXTERNAL;
-- a batch commits only under its owner's epoch: the first statement of its transaction
-- (a pipelined one, so the check must raise, not be read back before going on)
CREATE OR REPLACE FUNCTION owner_commits(p int, e bigint, next bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE partitions SET next_offset = next WHERE partition = p AND epoch = e;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'partition % is no longer owned at epoch %', p, e
            USING ERRCODE = 'SF001';
    END IF;
END $$;
"""

#: serialises concurrent start-ups (CREATE ... IF NOT EXISTS races with itself)
_MIGRATION_LOCK = 0x5354414D_494E56


async def migrate(conn: AsyncConnection) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        await conn.execute(DDL)
