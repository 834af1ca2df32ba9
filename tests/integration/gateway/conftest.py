"""The whole system (broker, PostgreSQL, every service) for the gateway's tests.

One stack is shared by the tests that do not disturb it (package scope, its own
topic namespace and database); tests that stop processes or need other settings
start their own with ``gateway_stack``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from stampede_devstack.stack import Stack

# Cheap password hashing and generous limits, unless a test says otherwise.
TEST_ENV = {
    "ARGON2_MEMORY_KIB": "8192", "ARGON2_TIME_COST": "1",
    "RATE_LIMIT_PER_S": "2000", "RATE_LIMIT_BURST": "4000",
}


def _database(admin_url: str) -> str:
    name = f"gw_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin_url.rpartition('/')[0]}/{name}"


def start_stack(infra, state_dir: Path, **env: str) -> Stack:
    stack = Stack.for_tests(
        state_dir, kafka=infra.kafka_bootstrap_servers, database_url=_database(infra.database_url),
        topic_namespace=f"g{uuid.uuid4().hex[:10]}", **{**TEST_ENV, **env},
    )
    stack.start()
    return stack


@pytest.fixture(scope="package")
def shared_stack(infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(infra, tmp_path_factory.mktemp("gateway-shared"))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def gateway_stack(infra, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(**env: str) -> Stack:
        stacks.append(start_stack(infra, tmp_path / f"stack{len(stacks)}", **env))
        return stacks[-1]

    yield make
    for stack in stacks:
        stack.stop()
