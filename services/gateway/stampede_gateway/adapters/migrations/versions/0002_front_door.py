"""The front door at scale: compact refusals, single-use tickets, waiting rooms, and the
live processes that limits are shared out by.

- ``idempotency_keys.refusal``: a sure "no" stored as its code alone; no lease (a key
  whose answer is not stored is asked again, the inventory answering once per command);
  ``.ticket``: the waiting-room ticket a request spent (unique: a ticket passes once;
  the index only holds the rows that spent one, so a refusal costs no entry in it);
  ``.command`` as text and the stored answer as json, not jsonb (only ever read back
  whole: a replay gives the very bytes' order of the first answer); completions find their record by
  key, so the command-id index goes; age is indexed by BRIN (rows come in time order).
- ``rooms``: one row per drop with a queue: numbers issued, the serving counter, the
  lottery drawn at the start, who last published the figures.
- ``processes``: a beat per gateway process.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DDL = """
ALTER TABLE idempotency_keys ADD COLUMN refusal text;
ALTER TABLE idempotency_keys DROP COLUMN lease_until;
ALTER TABLE idempotency_keys ADD COLUMN ticket text;
CREATE UNIQUE INDEX idempotency_keys_ticket ON idempotency_keys (ticket) WHERE ticket IS NOT NULL;
ALTER TABLE idempotency_keys ALTER COLUMN command TYPE text USING command::text;
ALTER TABLE idempotency_keys ALTER COLUMN response_body TYPE json USING response_body::json;
ALTER TABLE idempotency_keys ALTER COLUMN response_headers TYPE json
    USING response_headers::json;
DROP INDEX IF EXISTS idempotency_keys_command;
DROP INDEX IF EXISTS idempotency_keys_created;
CREATE INDEX idempotency_keys_age ON idempotency_keys USING brin (created_at);
CREATE INDEX holds_age ON holds USING brin (created_at);
CREATE TABLE rooms (
    drop_id uuid PRIMARY KEY,
    issued bigint NOT NULL,
    serving double precision NOT NULL,
    serving_at timestamptz NOT NULL,
    rate double precision NOT NULL CHECK (rate > 0),
    advancing boolean NOT NULL,
    mode text NOT NULL CHECK (mode IN ('fifo', 'lottery')),
    lottery_size bigint,
    lottery_seed bigint,
    published_at timestamptz,
    published_serving double precision,
    published_issued bigint,
    published_sold_out boolean,
    CHECK (serving >= 0 AND serving <= issued)
);
CREATE TABLE processes (
    instance_id text PRIMARY KEY,
    seen_at timestamptz NOT NULL
);
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute("""
DROP TABLE processes; DROP TABLE rooms;
DROP INDEX holds_age; DROP INDEX idempotency_keys_age; DROP INDEX idempotency_keys_ticket;
ALTER TABLE idempotency_keys DROP COLUMN ticket, DROP COLUMN refusal;
ALTER TABLE idempotency_keys ADD COLUMN lease_until timestamptz NOT NULL DEFAULT now();
ALTER TABLE idempotency_keys ALTER COLUMN command TYPE jsonb USING command::jsonb;
ALTER TABLE idempotency_keys ALTER COLUMN response_body TYPE jsonb USING response_body::jsonb;
ALTER TABLE idempotency_keys ALTER COLUMN response_headers TYPE jsonb
    USING response_headers::jsonb;
CREATE INDEX idempotency_keys_command ON idempotency_keys (command_id);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
""")
