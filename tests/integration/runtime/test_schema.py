"""A service's schema is created once however many of its processes start together."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from stampede_runtime.db import ensure_schema

pytestmark = pytest.mark.integration


async def test_processes_starting_together_all_get_the_schema(fresh_database):
    url = fresh_database()
    for attempt in range(5):  # the race is narrow: several rounds, a new schema each
        schema = f"svc_{attempt}"
        await asyncio.gather(*(ensure_schema(url, schema) for _ in range(8)))
        with psycopg.connect(url) as conn:
            found = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                                 (schema,)).fetchone()
        assert found == (1,)
