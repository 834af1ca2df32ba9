"""Alembic environment of the gateway (see ``stampede_runtime.migrations``)."""

from __future__ import annotations

from stampede_runtime.migrations import run_on_connection

run_on_connection()
