"""One stack for the recovery tests, supervised as ``make up`` supervises (a process that
dies is restarted within ``SUPERVISE_EVERY_S``), on the session's broker and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from stampede_devstack.stack import Stack

# cheap password hashing, no rate limit in the way of a steady load; a gateway that lets
# few requests wait for the inventory at once (the load of test_handover stays under it)
GATE_MAX_IN_FLIGHT = 40
TEST_ENV = {"ARGON2_MEMORY_KIB": "8192", "ARGON2_TIME_COST": "1",
            "RATE_LIMIT_PER_S": "100000", "RATE_LIMIT_BURST": "100000",
            "GATE_MAX_IN_FLIGHT": str(GATE_MAX_IN_FLIGHT)}


def database(admin_url: str) -> str:
    name = f"rc_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin_url.rpartition('/')[0]}/{name}"


@pytest.fixture(scope="package")
def supervised(infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack.for_tests(
        tmp_path_factory.mktemp("recovery"), kafka=infra.kafka_bootstrap_servers,
        database_url=database(infra.database_url), topic_namespace=f"r{uuid.uuid4().hex[:10]}",
        **TEST_ENV,
    )
    stack.start()
    try:
        with stack.supervising():
            yield stack
    finally:
        stack.stop()
