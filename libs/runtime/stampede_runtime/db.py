"""PostgreSQL access for services that use psycopg directly: one pool per service,
every connection pinned to the service's own schema (services share no tables)."""

from __future__ import annotations

import contextlib
import re

from psycopg import AsyncConnection, errors, sql
from psycopg_pool import AsyncConnectionPool

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def plain_url(database_url: str) -> str:
    """psycopg wants ``postgresql://``; SQLAlchemy-style ``+psycopg`` is dropped."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", database_url)


async def ensure_schema(database_url: str, schema: str) -> None:
    if not _SCHEMA.match(schema):
        raise ValueError(f"bad schema name {schema!r}")
    async with await AsyncConnection.connect(plain_url(database_url), autocommit=True) as conn:
        # IF NOT EXISTS is not safe against a concurrent creation (two processes of a
        # service starting together): the other one created it, which is all we want
        with contextlib.suppress(errors.UniqueViolation):
            await conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


async def open_pool(
    database_url: str, schema: str, *, size: int = 8, autocommit: bool = False
) -> AsyncConnectionPool:
    """Create the schema if needed and open a pool whose search_path is that schema.

    ``autocommit`` suits a service whose every statement stands alone (or opens an
    explicit ``conn.transaction()``): it saves the implicit ``BEGIN`` and the ``COMMIT``
    on return to the pool, one round trip per statement instead of three."""
    await ensure_schema(database_url, schema)
    pool = AsyncConnectionPool(
        plain_url(database_url),
        min_size=1,
        max_size=size,
        kwargs={"options": f"-c search_path={schema}", "autocommit": autocommit},
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    return pool


async def ping(pool: AsyncConnectionPool) -> bool:
    async with pool.connection(timeout=2) as conn:
        await conn.execute("SELECT 1")
    return True
