"""Alembic environment of orders (see ``stampede_runtime.migrations``)."""

from __future__ import annotations

from stampede_runtime.migrations import run_on_connection

from stampede_orders.adapters.tables import OrdersTable

run_on_connection(OrdersTable.metadata)
