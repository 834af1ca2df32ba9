"""Alembic environment: online only, on the connection ``migrate.upgrade`` hands over
(already in a transaction holding the migration lock, search_path = the schema)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from stampede_orders.adapters.tables import OrdersTable

config = context.config
connection: Connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=OrdersTable.metadata,
    version_table_schema=config.attributes["schema"],
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
