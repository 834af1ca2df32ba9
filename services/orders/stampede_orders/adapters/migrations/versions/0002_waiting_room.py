"""Each drop's waiting-room settings (admission rate and mode), as the admin set them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("drops", sa.Column("admit_per_s", sa.Float(), nullable=True))
    op.add_column("drops", sa.Column("queue_mode", sa.String(8), nullable=True))


def downgrade() -> None:
    op.drop_column("drops", "queue_mode")
    op.drop_column("drops", "admit_per_s")
