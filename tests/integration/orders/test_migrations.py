"""Migrations: in schema ``orders`` (version table too), idempotent, matching the tables."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, NullPool, Table, create_engine
from stampede_orders.adapters.database import schema_options, sqlalchemy_url
from stampede_orders.adapters.migrate import upgrade, upgrade_sync
from stampede_orders.adapters.tables import OrdersTable

pytestmark = pytest.mark.integration


async def test_migrations_run_once_in_their_schema_and_match_the_tables(fresh_database):
    url = fresh_database()
    await asyncio.gather(upgrade(url, "orders"), upgrade(url, "orders"))  # two instances
    await upgrade(url, "orders")  # and a restart
    with psycopg.connect(url) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'orders'"
        )}
        public = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        version = conn.execute("SELECT version_num FROM orders.alembic_version").fetchall()
    assert tables == {"alembic_version", "drops", "holds", "purchases", "event_streams",
                      "consumer_positions"}
    assert public == (0,) and version == [("0002",)]

    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool,
                           connect_args=schema_options("orders"))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_schemas": False})
            assert compare_metadata(context, OrdersTable.metadata) == []
            other = MetaData()
            Table("holds", other, Column("id", Integer, primary_key=True))
            assert compare_metadata(context, other)  # the comparison does see drift
    finally:
        engine.dispose()
    upgrade_sync(url, "orders")
