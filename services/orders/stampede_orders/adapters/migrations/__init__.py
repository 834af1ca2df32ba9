"""Alembic migrations of schema ``orders``; run by ``adapters.migrate.upgrade``."""
