"""Schema migrations, run programmatically on start before the consumer starts.

One transaction: an advisory lock (two instances starting together migrate once),
``CREATE SCHEMA IF NOT EXISTS``, then alembic to head, with its version table in
the service's schema too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import NullPool, text
from sqlalchemy import create_engine as create_sync_engine

from .database import schema_options, sqlalchemy_url

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x0_5D_0D_E7_5  # any constant shared by every orders instance


def upgrade_sync(database_url: str, schema: str, revision: str = "head") -> None:
    engine = create_sync_engine(
        sqlalchemy_url(database_url), poolclass=NullPool, connect_args=schema_options(schema)
    )
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            config.attributes["schema"] = schema
            command.upgrade(config, revision)
    finally:
        engine.dispose()


async def upgrade(database_url: str, schema: str, revision: str = "head") -> None:
    """Alembic is synchronous: run it in a thread, off the event loop."""
    await asyncio.to_thread(upgrade_sync, database_url, schema, revision)
