"""The async SQLAlchemy engine (psycopg 3), every connection pinned to the schema."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from stampede_runtime.errors import is_transient
from stampede_runtime.migrations import schema_options, sqlalchemy_url

__all__ = ["create_engine", "ping", "schema_options", "sqlalchemy_url",
           "transient_errors_unwrapped"]


def create_engine(database_url: str, schema: str, *, pool_size: int = 8) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args=schema_options(schema),
    )


async def ping(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return True


@contextlib.asynccontextmanager
async def transient_errors_unwrapped() -> AsyncIterator[None]:
    """SQLAlchemy wraps driver errors; the consumer loop's retry policy recognises the
    driver's own (``psycopg.OperationalError``: database unreachable, deadlock...), so a
    transient failure is re-raised as the driver's error and waited out, never
    dead-lettered."""
    try:
        yield
    except DBAPIError as exc:
        if isinstance(exc.orig, Exception) and is_transient(exc.orig):
            raise exc.orig from exc
        raise
    except SQLAlchemyTimeout as exc:  # the pool had no free connection in time
        raise TimeoutError(str(exc)) from exc
