"""Fixtures of the inventory's integration tests: a cluster of inventory processes and a
stand-in gateway client, each test with its own database and topic namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from .harness import Client, Cluster


@pytest.fixture
def cluster(infra, fresh_database, namespace, tmp_path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, infra.kafka_bootstrap_servers, fresh_database(), namespace)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
async def client(infra, namespace) -> AsyncIterator[Client]:
    async with Client(infra.kafka_bootstrap_servers, namespace) as c:
        yield c
