"""Orders' schema migrations (alembic, ``migrations/``), run on start before the consumer
starts, by the shared runner (``stampede_runtime.migrations``)."""

from __future__ import annotations

from pathlib import Path

from stampede_runtime import migrations

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x0_5D_0D_E7_5  # any constant shared by every orders instance


def upgrade_sync(database_url: str, schema: str, revision: str = "head") -> None:
    migrations.upgrade_sync(database_url, schema, MIGRATIONS, _LOCK_KEY, revision)


async def upgrade(database_url: str, schema: str, revision: str = "head") -> None:
    await migrations.upgrade(database_url, schema, MIGRATIONS, _LOCK_KEY, revision)
