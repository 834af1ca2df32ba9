"""The gateway's schema migrations (alembic, ``migrations/``), run on start by the shared
runner (``stampede_runtime.migrations``): several processes starting at once migrate once."""

from __future__ import annotations

from pathlib import Path

from stampede_runtime import migrations

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x5354_414D_4741_5445  # any constant shared by every gateway process


async def upgrade(database_url: str, schema: str) -> None:
    await migrations.upgrade(database_url, schema, MIGRATIONS, _LOCK_KEY)
