"""The read model: drops, holds, purchases, and the dedupe/offset records.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "drops",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("total_stock", sa.Integer(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("starts_at", TZ, nullable=True),
        sa.Column("ends_at", TZ, nullable=True),
        sa.Column("draft", sa.Boolean(), nullable=False),
        sa.Column("per_user_limit", sa.Integer(), nullable=False),
        sa.Column("reservation_ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("drop_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_holds_drop_id", "holds", ["drop_id"])
    op.create_index("ix_holds_user_created", "holds", ["user_id", "created_at"])
    op.create_table(
        "purchases",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("reservation_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("drop_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_purchases_drop_created", "purchases", ["drop_id", "created_at"])
    op.create_index("ix_purchases_user_created", "purchases", ["user_id", "created_at"])
    op.create_table(
        "event_streams",
        sa.Column("drop_id", sa.Uuid(), primary_key=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_event_id", sa.Uuid(), nullable=True),
    )
    op.create_table(
        "consumer_positions",
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in ("consumer_positions", "event_streams", "purchases", "holds", "drops"):
        op.drop_table(table)
