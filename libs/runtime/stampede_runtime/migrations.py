"""Schema migrations with alembic, the one schema tool of every service that owns tables.

``upgrade`` runs a service's migrations to head in ONE transaction: an advisory lock (two
instances starting together migrate once), ``CREATE SCHEMA IF NOT EXISTS``, then alembic,
with its version table in the service's schema too. Each service keeps its revisions in a
``migrations`` folder whose ``env.py`` calls ``run_on_connection``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import NullPool, text
from sqlalchemy import create_engine as create_sync_engine

from .db import plain_url


def sqlalchemy_url(database_url: str) -> str:
    """``postgresql://...`` (or ``postgres://``) as SQLAlchemy's psycopg 3 dialect URL."""
    return re.sub(r"^postgresql://", "postgresql+psycopg://", plain_url(database_url))


def schema_options(schema: str) -> dict[str, str]:
    return {"options": f"-c search_path={schema}"}


def upgrade_sync(database_url: str, schema: str, scripts: Path, lock_key: int,
                 revision: str = "head") -> None:
    engine = create_sync_engine(
        sqlalchemy_url(database_url), poolclass=NullPool, connect_args=schema_options(schema)
    )
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            config = Config()
            config.set_main_option("script_location", str(scripts))
            config.attributes["connection"] = conn
            config.attributes["schema"] = schema
            command.upgrade(config, revision)
    finally:
        engine.dispose()


async def upgrade(database_url: str, schema: str, scripts: Path, lock_key: int,
                  revision: str = "head") -> None:
    """Alembic is synchronous: run it in a thread, off the event loop."""
    await asyncio.to_thread(upgrade_sync, database_url, schema, scripts, lock_key, revision)


def run_on_connection(target_metadata: Any = None) -> None:
    """The body of a service's ``env.py``: online only, on the connection ``upgrade``
    hands over (in its transaction, holding the lock, search_path = the schema)."""
    config = context.config
    context.configure(
        connection=config.attributes["connection"],
        target_metadata=target_metadata,
        version_table_schema=config.attributes["schema"],
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
